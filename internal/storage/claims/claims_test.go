package claims_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"

	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/storage/claims"
	"github.com/portway/portway/internal/storage/etcd/etcdtest"
)

// portsOf claims every port number of a ConfigMap's data keys: a stand-in
// for a Service's nodePorts that keeps the test about the storage layer.
func portsOf(obj runtime.Object) []string {
	var out []string
	for k := range obj.(*corev1.ConfigMap).Data {
		out = append(out, "ports/"+k)
	}
	sort.Strings(out)
	return out
}

func newStore(t *testing.T, client *clientv3.Client) *claims.Store {
	codec := registry.Codecs.LegacyCodec(corev1.SchemeGroupVersion)
	return claims.New(nil, client, codec, func() runtime.Object { return &corev1.ConfigMap{} },
		"/registry", "/registry/test-claims/", portsOf)
}

func cm(name string, ports ...string) *corev1.ConfigMap {
	c := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string]string{}}
	for _, p := range ports {
		c.Data[p] = ""
	}
	return c
}

func heldClaims(t *testing.T, client *clientv3.Client) map[string]string {
	t.Helper()
	resp, err := client.Get(context.Background(), "/registry/test-claims/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), "/registry/test-claims/")] = string(kv.Value)
	}
	return out
}

func TestCreateUpdateDelete(t *testing.T) {
	client := etcdtest.Client(t)
	s := newStore(t, client)
	ctx := context.Background()
	out := &corev1.ConfigMap{}
	if err := s.Create(ctx, "/configmaps/ns/a", cm("a", "80", "81"), out, 0); err != nil {
		t.Fatal(err)
	}
	if out.ResourceVersion == "" {
		t.Error("created object has no resourceVersion")
	}
	// A second object may not take a claimed value, and nothing of it is written.
	err := s.Create(ctx, "/configmaps/ns/b", cm("b", "81", "82"), &corev1.ConfigMap{}, 0)
	var conflict *claims.ConflictError
	if !errors.As(err, &conflict) || conflict.Claim != "ports/81" || conflict.Holder != "/registry/configmaps/ns/a" {
		t.Fatalf("create with a held claim: %v", err)
	}
	if got := fmt.Sprint(heldClaims(t, client)); got != "map[ports/80:/registry/configmaps/ns/a ports/81:/registry/configmaps/ns/a]" {
		t.Errorf("claims after rejected create: %s", got)
	}
	if r, _ := client.Get(ctx, "/registry/configmaps/ns/b"); len(r.Kvs) != 0 {
		t.Error("rejected create wrote its object")
	}
	// An update moves claims: 81 released, 82 taken, in one transaction.
	err = s.GuaranteedUpdate(ctx, "/configmaps/ns/a", &corev1.ConfigMap{}, false, nil,
		func(obj runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			c := obj.(*corev1.ConfigMap)
			delete(c.Data, "81")
			c.Data["82"] = ""
			return c, nil, nil
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(heldClaims(t, client)); got != "map[ports/80:/registry/configmaps/ns/a ports/82:/registry/configmaps/ns/a]" {
		t.Errorf("claims after update: %s", got)
	}
	if !s.Index.Held("ports/82") || s.Index.Held("ports/81") {
		t.Error("index not updated by the update")
	}
	// Now b can have 81.
	if err := s.Create(ctx, "/configmaps/ns/b", cm("b", "81"), &corev1.ConfigMap{}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "/configmaps/ns/a", &corev1.ConfigMap{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(heldClaims(t, client)); got != "map[ports/81:/registry/configmaps/ns/b]" {
		t.Errorf("claims after delete: %s", got)
	}
}

// TestConcurrentClaims races many writers for few values: each value ends up
// held by exactly one object, and every claim belongs to an object that has it.
func TestConcurrentClaims(t *testing.T) {
	client := etcdtest.Client(t)
	s := newStore(t, client)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				_ = s.Create(ctx, "/configmaps/ns/"+name, cm(name, fmt.Sprint(i%5), fmt.Sprint(5+w%3)), &corev1.ConfigMap{}, 0)
				if i%2 == 0 {
					_ = s.Delete(ctx, "/configmaps/ns/"+name, &corev1.ConfigMap{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
				}
			}
		}()
	}
	wg.Wait()
	objs, err := client.Get(ctx, "/registry/configmaps/ns/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	codec := registry.Codecs.LegacyCodec(corev1.SchemeGroupVersion)
	for _, kv := range objs.Kvs {
		obj, _, err := codec.Decode(kv.Value, nil, &corev1.ConfigMap{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range portsOf(obj) {
			if holder, dup := want[c]; dup {
				t.Errorf("%s held by both %s and %s", c, holder, kv.Key)
			}
			want[c] = string(kv.Key)
		}
	}
	if got := heldClaims(t, client); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("claims in etcd %v\ndo not match the objects %v", got, want)
	}
}
