// Package authn creates the cluster's certificates and credentials on first
// start (kept in DATA_DIR/pki across restarts) and authenticates requests:
// a client certificate signed by the cluster CA or a known bearer token.
// Unauthenticated requests get 401, except for the health and version paths.
package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// PKI is the set of files portway keeps in DATA_DIR/pki.
type PKI struct {
	Dir string
}

// File names inside the PKI directory.
const (
	CACert      = "ca.crt"
	CAKey       = "ca.key"
	ServingCert = "apiserver.crt"
	ServingKey  = "apiserver.key"
	AdminCert   = "admin.crt"
	AdminKey    = "admin.key"
	AdminToken  = "admin.token"
	// KubeletClientCert is what the API server shows node agents when it
	// proxies to them (logs), as kube-apiserver's --kubelet-client-certificate.
	KubeletClientCert = "apiserver-kubelet-client.crt"
	KubeletClientKey  = "apiserver-kubelet-client.key"
	// ServiceAccountKey signs service account tokens (kube-apiserver's
	// --service-account-signing-key-file; kubeadm's sa.key).
	ServiceAccountKey = "sa.key"
	EtcdCACert        = "etcd/ca.crt"
	EtcdCAKey         = "etcd/ca.key"
	EtcdServingCert   = "etcd/server.crt"
	EtcdServingKey    = "etcd/server.key"
	EtcdClientCert    = "etcd/apiserver-etcd-client.crt"
	EtcdClientKey     = "etcd/apiserver-etcd-client.key"
)

// Path returns the absolute path of a PKI file.
func (p PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// Ensure creates whatever is missing: the cluster CA, a serving certificate
// for the given addresses and names, the admin client certificate and token,
// and a separate CA with server and client certificates for the embedded etcd.
// Existing files are kept; a serving certificate that lacks one of the
// requested names is reissued.
func (p PKI) Ensure(ips []net.IP, dnsNames []string) error {
	if err := os.MkdirAll(filepath.Join(p.Dir, "etcd"), 0o700); err != nil {
		return err
	}
	ca, err := p.ensureCA(CACert, CAKey, "portway-ca")
	if err != nil {
		return err
	}
	if err := p.ensureLeaf(ca, ServingCert, ServingKey, serving("kube-apiserver", ips, dnsNames)); err != nil {
		return err
	}
	admin := &x509.Certificate{Subject: pkix.Name{CommonName: "portway-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := p.ensureLeaf(ca, AdminCert, AdminKey, admin); err != nil {
		return err
	}
	if err := p.ensureToken(AdminToken); err != nil {
		return err
	}
	if err := p.ensureServiceAccountKey(); err != nil {
		return err
	}
	kubeletClient := &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := p.ensureLeaf(ca, KubeletClientCert, KubeletClientKey, kubeletClient); err != nil {
		return err
	}
	etcdCA, err := p.ensureCA(EtcdCACert, EtcdCAKey, "portway-etcd-ca")
	if err != nil {
		return err
	}
	etcdServer := serving("etcd", []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	etcdServer.ExtKeyUsage = append(etcdServer.ExtKeyUsage, x509.ExtKeyUsageClientAuth) // peers
	if err := p.ensureLeaf(etcdCA, EtcdServingCert, EtcdServingKey, etcdServer); err != nil {
		return err
	}
	client := &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver-etcd-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	return p.ensureLeaf(etcdCA, EtcdClientCert, EtcdClientKey, client)
}

// CA returns the cluster CA's certificate, PEM encoded: what signed the API
// server's certificate and every client certificate it accepts.
func (p PKI) CA() ([]byte, error) { return os.ReadFile(p.Path(CACert)) }

// Token returns the admin bearer token.
func (p PKI) Token() (string, error) {
	b, err := os.ReadFile(p.Path(AdminToken))
	return string(b), err
}

func serving(cn string, ips []net.IP, dnsNames []string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IPAddresses: ips, DNSNames: dnsNames,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}

type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (p PKI) ensureCA(certName, keyName, cn string) (*authority, error) {
	if certs, err := certutil.CertsFromFile(p.Path(certName)); err == nil {
		signer, err := p.signer(keyName)
		if err != nil {
			return nil, err
		}
		return &authority{certs[0], signer}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: cn}, key)
	if err != nil {
		return nil, err
	}
	if err := p.write(keyName, cert, key, certName); err != nil {
		return nil, err
	}
	return &authority{cert, key}, nil
}

func (p PKI) ensureLeaf(ca *authority, certName, keyName string, tmpl *x509.Certificate) error {
	if certs, err := certutil.CertsFromFile(p.Path(certName)); err == nil {
		if covers(certs[0], tmpl) && certs[0].CheckSignatureFrom(ca.cert) == nil {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().AddDate(10, 0, 0)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	return p.write(keyName, cert, key, certName)
}

// covers reports whether an existing certificate already has every name and
// address the template asks for.
func covers(have, want *x509.Certificate) bool {
	for _, ip := range want.IPAddresses {
		if !slices.ContainsFunc(have.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, name := range want.DNSNames {
		if !slices.Contains(have.DNSNames, name) {
			return false
		}
	}
	return have.Subject.CommonName == want.Subject.CommonName
}

func (p PKI) write(keyName string, cert *x509.Certificate, key crypto.Signer, certName string) error {
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	if err := keyutil.WriteKey(p.Path(keyName), keyPEM); err != nil {
		return err
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return err
	}
	return certutil.WriteCert(p.Path(certName), certPEM)
}

// ServiceAccountSigner returns the key service account tokens are signed
// with.
func (p PKI) ServiceAccountSigner() (crypto.Signer, error) {
	return p.signer(ServiceAccountKey)
}

// signer reads the private key in the file keyName.
func (p PKI) signer(keyName string) (crypto.Signer, error) {
	key, err := keyutil.PrivateKeyFromFile(p.Path(keyName))
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", p.Path(keyName))
	}
	return signer, nil
}

// ensureServiceAccountKey makes an RSA-2048 key, as kubeadm does: tokens
// are RS256, which every JWT library checks.
func (p PKI) ensureServiceAccountKey() error {
	if _, err := os.Stat(p.Path(ServiceAccountKey)); err == nil {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	return keyutil.WriteKey(p.Path(ServiceAccountKey), keyPEM)
}

func (p PKI) ensureToken(name string) error {
	if _, err := os.Stat(p.Path(name)); err == nil {
		return nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(p.Path(name), []byte(hex.EncodeToString(b)), 0o600)
}
