package satoken

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/client-go/kubernetes/fake"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestTokens issues tokens and checks what the authenticator makes of them
// as time passes and their objects change.
func TestTokens(t *testing.T) {
	key := newKey(t)
	signer, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	meta := func(name, uid string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "ns", UID: k8stypes.UID(uid)}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: meta("robot", "sa-1")}
	pod := &corev1.Pod{ObjectMeta: meta("web", "pod-1")}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "node-1"}}
	secret := &corev1.Secret{ObjectMeta: meta("s", "secret-1")}
	deletedLongAgo := metav1.NewTime(now.Add(-2 * time.Minute))

	tests := []struct {
		name      string
		binding   Binding
		audiences []string
		issued    time.Time
		lifetime  time.Duration
		objects   []runtime.Object // what the API holds
		ctx       context.Context
		wantUser  string
		wantExtra map[string][]string
		wantErr   string
	}{
		{name: "plain", objects: []runtime.Object{sa}, wantUser: "system:serviceaccount:ns:robot"},
		{name: "bound to a pod on a node", binding: Binding{Pod: pod, Node: node}, objects: []runtime.Object{sa, pod},
			wantUser: "system:serviceaccount:ns:robot", wantExtra: map[string][]string{
				"authentication.kubernetes.io/pod-name": {"web"}, "authentication.kubernetes.io/pod-uid": {"pod-1"},
				"authentication.kubernetes.io/node-name": {"node-a"}, "authentication.kubernetes.io/node-uid": {"node-1"}}},
		{name: "expired", issued: now.Add(-2 * time.Hour), objects: []runtime.Object{sa}, wantErr: "service account token has expired"},
		{name: "account gone", wantErr: `serviceaccounts "robot" not found`},
		{name: "account recreated", objects: []runtime.Object{&corev1.ServiceAccount{ObjectMeta: meta("robot", "sa-2")}},
			wantErr: "service account UID (sa-2) does not match claim (sa-1)"},
		{name: "pod gone", binding: Binding{Pod: pod}, objects: []runtime.Object{sa}, wantErr: "service account token has been invalidated"},
		{name: "pod deleted long ago", binding: Binding{Pod: pod}, wantErr: "service account token has been invalidated",
			objects: []runtime.Object{sa, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "pod-1", DeletionTimestamp: &deletedLongAgo}}}},
		{name: "pod recreated", binding: Binding{Pod: pod}, objects: []runtime.Object{sa, &corev1.Pod{ObjectMeta: meta("web", "pod-2")}},
			wantErr: "pod UID (pod-2) does not match service account pod ref claim (pod-1)"},
		{name: "secret bound", binding: Binding{Secret: secret}, objects: []runtime.Object{sa, secret}, wantUser: "system:serviceaccount:ns:robot"},
		{name: "node bound, node gone", binding: Binding{Node: node}, objects: []runtime.Object{sa}, wantErr: "service account token has been invalidated"},
		{name: "another audience", audiences: []string{"vault"}, objects: []runtime.Object{sa},
			wantErr: `token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]`},
		{name: "asked for by audience", audiences: []string{"vault"}, objects: []runtime.Object{sa},
			ctx: authenticator.WithAudiences(context.Background(), authenticator.Audiences{"vault"}), wantUser: "system:serviceaccount:ns:robot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issued, lifetime, auds, ctx := tc.issued, tc.lifetime, tc.audiences, tc.ctx
			if issued.IsZero() {
				issued = now
			}
			if lifetime == 0 {
				lifetime = time.Hour
			}
			if auds == nil {
				auds = APIAudiences
			}
			if ctx == nil {
				ctx = context.Background()
			}
			token, err := signer.Issue(sa, tc.binding, auds, issued, lifetime, 0)
			if err != nil {
				t.Fatal(err)
			}
			resp, ok, err := NewAuthenticator(key.Public(), liveGetter(tc.objects...)).AuthenticateToken(ctx, token)
			if tc.wantErr != "" {
				if ok || err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got ok %v, err %v; want %s", ok, err, tc.wantErr)
				}
				return
			}
			if !ok || err != nil {
				t.Fatalf("refused: %v", err)
			}
			u := resp.User
			if u.GetName() != tc.wantUser || u.GetUID() != "sa-1" || len(u.GetGroups()) != 2 {
				t.Errorf("user %+v", u)
			}
			extra := u.GetExtra()
			if len(extra["authentication.kubernetes.io/credential-id"]) != 1 {
				t.Errorf("no credential id: %v", extra)
			}
			for k, v := range tc.wantExtra {
				if got := extra[k]; len(got) != 1 || got[0] != v[0] {
					t.Errorf("extra %s = %v, want %v", k, got, v)
				}
			}
		})
	}
}

// TestOtherTokens: tokens that are not this issuer's JWTs are left to other
// authenticators, and a JWT signed by another key is refused.
func TestOtherTokens(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "ns"}}
	auth := NewAuthenticator(newKey(t).Public(), liveGetter(sa))
	for _, token := range []string{"admin-token", "a.b.c"} {
		if _, ok, err := auth.AuthenticateToken(context.Background(), token); ok || err != nil {
			t.Errorf("%q: ok %v err %v, want it passed on", token, ok, err)
		}
	}
	other, err := NewSigner(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(sa, Binding{}, APIAudiences, time.Now(), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := auth.AuthenticateToken(context.Background(), forged); ok || err == nil {
		t.Errorf("a token signed by another key: ok %v err %v", ok, err)
	}
}

// liveGetter reads objects through the API only: its informer cache is
// empty.
func liveGetter(objects ...runtime.Object) Getter {
	return NewClientGetter(fake.NewClientset(objects...), listerscorev1.NewServiceAccountLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})))
}

// TestServiceAccountFromCache: an account in the informer's cache is used
// without asking the API, which is asked for one the cache lacks.
func TestServiceAccountFromCache(t *testing.T) {
	cached := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "cached", Namespace: "ns", UID: "sa-1"}}
	live := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "live", Namespace: "ns", UID: "sa-2"}}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(cached); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(live)
	g := NewClientGetter(client, listerscorev1.NewServiceAccountLister(indexer))
	ctx := context.Background()
	for _, name := range []string{"cached", "live"} {
		if sa, err := g.ServiceAccount(ctx, "ns", name); err != nil || sa.Name != name {
			t.Errorf("%s: %v, %v", name, sa, err)
		}
	}
	if n := len(client.Actions()); n != 1 {
		t.Errorf("%d API calls, want 1 (for the account the cache lacks): %v", n, client.Actions())
	}
	if _, err := g.ServiceAccount(ctx, "ns", "none"); err == nil || err.Error() != `serviceaccounts "none" not found` {
		t.Errorf("a missing account: %v", err)
	}
}
