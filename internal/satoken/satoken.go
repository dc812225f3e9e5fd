// Package satoken issues and checks service account tokens as
// kube-apiserver does: JWTs signed with the cluster's service account key
// (RS256), naming the account and, for a bound token, the pod (and its
// node), secret or node it lives as long as. The serviceaccounts/token
// subresource issues them; the API server's authenticator accepts them as
// system:serviceaccount:NAMESPACE:NAME while what they name still exists.
package satoken

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
)

const (
	// Issuer is the tokens' iss claim, and the audience the API server
	// answers to: kube-apiserver's --service-account-issuer as kubeadm
	// sets it.
	Issuer = "https://kubernetes.default.svc.cluster.local"
	// WarnOnlyExpirationSeconds is the lifetime a pod's token volume asks
	// for; the API server then issues a token that lasts
	// ExtendedExpiration and is only flagged as stale after the asked-for
	// time (kube-apiserver's --service-account-extend-token-expiration).
	WarnOnlyExpirationSeconds = 3607
	// ExtendedExpiration is that longer lifetime: a year.
	ExtendedExpiration = 365 * 24 * time.Hour
)

// APIAudiences are the audiences the API server accepts tokens for. Not to
// be changed: callers that keep a copy in an object clone it.
var APIAudiences = authenticator.Audiences{Issuer}

// Binding is what a token is bound to, besides its account: a pod (and the
// node it runs on, for information), a secret or a node; or nothing.
type Binding struct {
	Pod    *corev1.Pod
	Node   *corev1.Node
	Secret *corev1.Secret
}

// privateClaims are Kubernetes' own claims, under "kubernetes.io".
type privateClaims struct {
	Kubernetes kubernetesClaims `json:"kubernetes.io,omitempty"`
}

type kubernetesClaims struct {
	Namespace string           `json:"namespace,omitempty"`
	Svcacct   ref              `json:"serviceaccount,omitempty"`
	Pod       *ref             `json:"pod,omitempty"`
	Secret    *ref             `json:"secret,omitempty"`
	Node      *ref             `json:"node,omitempty"`
	WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Signer issues tokens.
type Signer struct {
	signer jose.Signer
}

// NewSigner signs with key, an RSA private key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("service account key: want an RSA key, have %T", key.Public())
	}
	// No "typ" header, as Kubernetes' tokens have none.
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		return nil, err
	}
	return &Signer{signer: s}, nil
}

// Issue returns a token for sa, bound to b, for audiences, valid from now
// for lifetime; with warnAfter > 0, its use after now+warnAfter is flagged.
func (s *Signer) Issue(sa *corev1.ServiceAccount, b Binding, audiences []string, now time.Time, lifetime, warnAfter time.Duration) (string, error) {
	if b.Secret != nil && (b.Pod != nil || b.Node != nil) {
		return "", errors.New("internal error, token can only be bound to one object type")
	}
	public := jwt.Claims{
		Issuer:    Issuer,
		Subject:   apiserverserviceaccount.MakeUsername(sa.Namespace, sa.Name),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(lifetime)),
		ID:        string(uuid.NewUUID()),
	}
	private := privateClaims{Kubernetes: kubernetesClaims{
		Namespace: sa.Namespace,
		Svcacct:   ref{Name: sa.Name, UID: string(sa.UID)},
	}}
	k := &private.Kubernetes
	if b.Pod != nil {
		k.Pod = &ref{Name: b.Pod.Name, UID: string(b.Pod.UID)}
	}
	if b.Secret != nil {
		k.Secret = &ref{Name: b.Secret.Name, UID: string(b.Secret.UID)}
	}
	if b.Node != nil {
		k.Node = &ref{Name: b.Node.Name, UID: string(b.Node.UID)}
	}
	if warnAfter > 0 {
		k.WarnAfter = jwt.NewNumericDate(now.Add(warnAfter))
	}
	// go-jose writes a lone audience as a string; Kubernetes' tokens
	// always carry a list.
	aud := struct {
		Audience []string `json:"aud"`
	}{audiences}
	return jwt.Signed(s.signer).Claims(public).Claims(aud).Claims(private).Serialize()
}

// keyID is kube-apiserver's key id: the unpadded base64url SHA-256 of the
// public key's DER encoding.
func keyID(public crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Getter reads what tokens name; a NotFound error means it is gone.
type Getter interface {
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// Authenticator accepts the tokens a Signer with the same key issued.
type Authenticator struct {
	key    crypto.PublicKey
	getter Getter
	now    func() time.Time
}

var _ authenticator.Token = &Authenticator{}

// NewAuthenticator checks tokens signed by public's private key, and that
// what they name still exists, through getter.
func NewAuthenticator(public crypto.PublicKey, getter Getter) *Authenticator {
	return &Authenticator{key: public, getter: getter, now: time.Now}
}

// AuthenticateToken implements authenticator.Token. A token that is not a
// JWT of this issuer is left to the other authenticators.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	if strings.Count(token, ".") != 2 {
		return nil, false, nil
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, false, nil
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer != Issuer {
		return nil, false, nil
	}
	var public jwt.Claims
	var private privateClaims
	if err := tok.Claims(a.key, &public, &private); err != nil {
		return nil, false, err
	}

	tokenAuds := authenticator.Audiences(public.Audience)
	requested, ok := authenticator.AudiencesFrom(ctx)
	if !ok {
		requested = APIAudiences
	}
	auds := tokenAuds.Intersect(requested)
	if len(auds) == 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, requested)
	}

	info, err := a.validate(ctx, &public, &private)
	if err != nil {
		return nil, false, err
	}
	return &authenticator.Response{User: info.UserInfo(), Audiences: auds}, true, nil
}

// validate checks the token's times, then that its account and the object
// it is bound to exist with the UIDs it names, in kube-apiserver's order and
// words.
func (a *Authenticator) validate(ctx context.Context, public *jwt.Claims, private *privateClaims) (*apiserverserviceaccount.ServiceAccountInfo, error) {
	now := a.now()
	switch err := public.ValidateWithLeeway(jwt.Expected{Time: now}, jwt.DefaultLeeway); {
	case errors.Is(err, jwt.ErrExpired):
		return nil, errors.New("service account token has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, errors.New("service account token is not valid yet")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, errors.New("service account token is issued in the future")
	case err != nil:
		return nil, fmt.Errorf("service account token claims could not be validated: %w", err)
	}
	// Objects deleted longer ago than the leeway no longer vouch for it.
	deletedBefore := now.Add(-jwt.DefaultLeeway)
	deleted := func(ts *metav1.Time) bool { return ts != nil && ts.Time.Before(deletedBefore) }
	invalidated := errors.New("service account token has been invalidated")

	k := private.Kubernetes
	sa, err := a.getter.ServiceAccount(ctx, k.Namespace, k.Svcacct.Name)
	if err != nil {
		return nil, err
	}
	if string(sa.UID) != k.Svcacct.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.Svcacct.UID)
	}
	if deleted(sa.DeletionTimestamp) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", k.Namespace, k.Svcacct.Name)
	}
	info := &apiserverserviceaccount.ServiceAccountInfo{Namespace: k.Namespace, Name: k.Svcacct.Name, UID: k.Svcacct.UID}
	if public.ID != "" {
		info.CredentialID = "JTI=" + public.ID
	}
	if r := k.Secret; r != nil {
		s, err := a.getter.Secret(ctx, k.Namespace, r.Name)
		switch {
		case err != nil:
			return nil, invalidated
		case string(s.UID) != r.UID:
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", s.UID, r.UID)
		case deleted(s.DeletionTimestamp):
			return nil, invalidated
		}
	}
	if r := k.Pod; r != nil {
		p, err := a.getter.Pod(ctx, k.Namespace, r.Name)
		switch {
		case err != nil:
			return nil, invalidated
		case string(p.UID) != r.UID:
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", p.UID, r.UID)
		case deleted(p.DeletionTimestamp):
			return nil, invalidated
		}
		info.PodName, info.PodUID = r.Name, r.UID
	}
	if r := k.Node; r != nil {
		// A pod's node is there for information; only a token bound to
		// the node itself lives as long as the node.
		if k.Pod == nil {
			n, err := a.getter.Node(ctx, r.Name)
			switch {
			case err != nil:
				return nil, invalidated
			case string(n.UID) != r.UID:
				return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", n.UID, r.UID)
			case deleted(n.DeletionTimestamp):
				return nil, invalidated
			}
		}
		info.NodeName, info.NodeUID = r.Name, r.UID
	}
	return info, nil
}

// clientGetter reads through the API.
type clientGetter struct {
	client          kubernetes.Interface
	serviceAccounts listerscorev1.ServiceAccountLister
}

// NewClientGetter is a Getter that asks the API server with client, and
// looks for service accounts in an informer's cache first, as
// kube-apiserver's does. The authenticator's cache keeps it from asking on
// every request.
func NewClientGetter(client kubernetes.Interface, serviceAccounts listerscorev1.ServiceAccountLister) Getter {
	return clientGetter{client, serviceAccounts}
}

func (g clientGetter) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	if sa, err := g.serviceAccounts.ServiceAccounts(namespace).Get(name); err == nil {
		return sa, nil
	}
	return g.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g clientGetter) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return g.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g clientGetter) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return g.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g clientGetter) Node(ctx context.Context, name string) (*corev1.Node, error) {
	return g.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}
