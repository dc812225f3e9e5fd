package authn

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes an admin kubeconfig for server (an https URL) whose
// context is named name. Credentials are embedded, so the file works when
// copied elsewhere.
func (p PKI) WriteKubeconfig(path, name, server string) error {
	return p.writeKubeconfig(path, name, server, AdminCert, AdminKey)
}

// WriteNodeKubeconfig writes the kubeconfig of a node agent: a client
// certificate for system:node:NODE in group system:nodes, as a kubelet's.
func (p PKI) WriteNodeKubeconfig(path, nodeName, server string) error {
	ca, err := p.ensureCA(CACert, CAKey, "portway-ca")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.Path("nodes"), 0o700); err != nil {
		return err
	}
	certName, keyName := filepath.Join("nodes", nodeName+".crt"), filepath.Join("nodes", nodeName+".key")
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := p.ensureLeaf(ca, certName, keyName, tmpl); err != nil {
		return err
	}
	return p.writeKubeconfig(path, nodeName, server, certName, keyName)
}

func (p PKI) writeKubeconfig(path, name, server, certName, keyName string) error {
	read := func(f string) ([]byte, error) { return os.ReadFile(p.Path(f)) }
	ca, err := read(CACert)
	if err != nil {
		return err
	}
	cert, err := read(certName)
	if err != nil {
		return err
	}
	key, err := read(keyName)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}
