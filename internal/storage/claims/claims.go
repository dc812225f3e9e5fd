// Package claims makes values that must be unique across objects (a
// Service's ClusterIP, its nodePorts) unique in etcd itself. Each value an
// object holds is a "claim" key, created, kept and deleted in the same etcd
// transaction as the object, so no race between API servers and no crash can
// ever hand one value to two objects or leak one.
//
// Store wraps the apiserver library's etcd storage beneath its watch cache:
// reads, lists and watches go straight through; Create, GuaranteedUpdate and
// Delete are done here, as the library does them, plus the claim keys.
package claims

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
)

// Func lists the claims an object holds, e.g. "clusterips/10.96.0.10".
type Func func(obj runtime.Object) []string

// ConflictError is a claim another object holds.
type ConflictError struct {
	Claim  string // as returned by Func
	Holder string // the holder's storage key
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s is held by %s", e.Claim, e.Holder)
}

// Store is a storage.Interface that keeps claim keys in step with objects.
type Store struct {
	storage.Interface
	client     *clientv3.Client
	codec      runtime.Codec
	newFunc    func() runtime.Object
	pathPrefix string // what the etcd storage puts before every key, e.g. "/registry/"
	claimRoot  string // where claim keys live, e.g. "/registry/portway.io/claims/"
	claimsOf   Func
	versioner  storage.APIObjectVersioner
	Index      *Index
}

// New wraps inner, which stores objects under pathPrefix in the etcd behind
// client, encoded with codec.
func New(inner storage.Interface, client *clientv3.Client, codec runtime.Codec, newFunc func() runtime.Object,
	pathPrefix, claimRoot string, claimsOf Func) *Store {
	return &Store{Interface: inner, client: client, codec: codec, newFunc: newFunc,
		pathPrefix: strings.TrimSuffix(path.Join("/", pathPrefix), "/") + "/",
		claimRoot:  strings.TrimSuffix(claimRoot, "/") + "/",
		claimsOf:   claimsOf,
		Index:      &Index{held: map[string]bool{}}}
}

func (s *Store) etcdKey(key string) string {
	return s.pathPrefix + strings.TrimPrefix(key, "/")
}

func (s *Store) claimKey(claim string) string { return s.claimRoot + claim }

// Create writes obj and its claims, or nothing.
func (s *Store) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	if ttl != 0 {
		return fmt.Errorf("claims: objects with a TTL are not supported")
	}
	if rv, err := s.versioner.ObjectResourceVersion(obj); err == nil && rv != 0 {
		return storage.ErrResourceVersionSetOnCreate
	}
	if err := s.versioner.PrepareObjectForStorage(obj); err != nil {
		return err
	}
	data, err := runtime.Encode(s.codec, obj)
	if err != nil {
		return err
	}
	k := s.etcdKey(key)
	claims := unique(s.claimsOf(obj))
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(k, string(data))}
	for _, c := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.claimKey(c)), "=", 0))
		ops = append(ops, clientv3.OpPut(s.claimKey(c), k))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		if err := s.heldElsewhere(ctx, k, claims); err != nil {
			return err
		}
		return storage.NewKeyExistsError(k, 0)
	}
	s.Index.set(claims, true)
	return s.decode(data, out, resp.Header.Revision)
}

// heldElsewhere finds a claim that another object than k holds.
func (s *Store) heldElsewhere(ctx context.Context, k string, claims []string) error {
	for _, c := range claims {
		r, err := s.client.Get(ctx, s.claimKey(c))
		if err != nil {
			return err
		}
		if len(r.Kvs) > 0 && string(r.Kvs[0].Value) != k {
			s.Index.set([]string{c}, true)
			return &ConflictError{Claim: c, Holder: string(r.Kvs[0].Value)}
		}
	}
	return nil
}

// GuaranteedUpdate reads the object, lets tryUpdate change it, and writes it
// back with its claims moved, retrying when it changed meanwhile.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, _ runtime.Object) error {
	if _, err := conversion.EnforcePtr(destination); err != nil {
		return fmt.Errorf("unable to convert output object to pointer: %v", err)
	}
	k := s.etcdKey(key)
	for {
		cur, data, rev, err := s.current(ctx, k, ignoreNotFound)
		if err != nil {
			return err
		}
		if err := preconditions.Check(k, cur); err != nil {
			return err
		}
		next, ttl, err := tryUpdate(cur.DeepCopyObject(), storage.ResponseMeta{ResourceVersion: uint64(rev)})
		if err != nil {
			return err
		}
		if ttl != nil && *ttl != 0 {
			return fmt.Errorf("claims: objects with a TTL are not supported")
		}
		if err := s.versioner.PrepareObjectForStorage(next); err != nil {
			return err
		}
		newData, err := runtime.Encode(s.codec, next)
		if err != nil {
			return err
		}
		if rev != 0 && bytes.Equal(newData, data) {
			return s.decode(data, destination, rev) // nothing changed
		}
		var held []string
		if rev != 0 {
			held = unique(s.claimsOf(cur))
		}
		want := unique(s.claimsOf(next))
		added, released := diff(want, held), diff(held, want)
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(k, string(newData))}
		for _, c := range added {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.claimKey(c)), "=", 0))
			ops = append(ops, clientv3.OpPut(s.claimKey(c), k))
		}
		ops = append(ops, s.releaseOps(k, released)...)
		resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			if err := s.heldElsewhere(ctx, k, added); err != nil {
				return err
			}
			continue // the object changed meanwhile: start over from it
		}
		s.Index.set(added, true)
		s.Index.set(released, false)
		return s.decode(newData, destination, resp.Header.Revision)
	}
}

// releaseOps deletes claims, each only if this object still holds it.
func (s *Store) releaseOps(k string, claims []string) []clientv3.Op {
	var ops []clientv3.Op
	for _, c := range claims {
		ck := s.claimKey(c)
		ops = append(ops, clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.Value(ck), "=", k)},
			[]clientv3.Op{clientv3.OpDelete(ck)}, nil))
	}
	return ops
}

// Delete removes the object and its claims together.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, _ runtime.Object, _ storage.DeleteOptions) error {
	k := s.etcdKey(key)
	for {
		cur, data, rev, err := s.current(ctx, k, false)
		if err != nil {
			return err
		}
		if err := preconditions.Check(k, cur); err != nil {
			return err
		}
		if err := validateDeletion(ctx, cur); err != nil {
			return err
		}
		claims := unique(s.claimsOf(cur))
		ops := append([]clientv3.Op{clientv3.OpDelete(k)}, s.releaseOps(k, claims)...)
		resp, err := s.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).Then(ops...).Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			continue
		}
		s.Index.set(claims, false)
		return s.decode(data, out, resp.Header.Revision)
	}
}

// current reads the object; a missing one is an empty object at revision 0
// when ignoreNotFound.
func (s *Store) current(ctx context.Context, k string, ignoreNotFound bool) (runtime.Object, []byte, int64, error) {
	resp, err := s.client.Get(ctx, k)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(resp.Kvs) == 0 {
		if !ignoreNotFound {
			return nil, nil, 0, storage.NewKeyNotFoundError(k, 0)
		}
		return s.newFunc(), nil, 0, nil
	}
	kv := resp.Kvs[0]
	obj := s.newFunc()
	if err := s.decode(kv.Value, obj, kv.ModRevision); err != nil {
		return nil, nil, 0, err
	}
	return obj, kv.Value, kv.ModRevision, nil
}

func (s *Store) decode(data []byte, out runtime.Object, rev int64) error {
	if _, _, err := s.codec.Decode(data, nil, out); err != nil {
		return storage.NewInternalError(err)
	}
	return s.versioner.UpdateObject(out, uint64(rev))
}

// Resync loads every claim key into the Index and follows changes made by
// other API servers until ctx ends.
func (s *Store) Resync(ctx context.Context) error {
	resp, err := s.client.Get(ctx, s.claimRoot, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	s.Index.mu.Lock()
	for _, kv := range resp.Kvs {
		s.Index.held[strings.TrimPrefix(string(kv.Key), s.claimRoot)] = true
	}
	s.Index.mu.Unlock()
	go func() {
		w := s.client.Watch(ctx, s.claimRoot, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		for r := range w {
			for _, ev := range r.Events {
				claim := strings.TrimPrefix(string(ev.Kv.Key), s.claimRoot)
				s.Index.set([]string{claim}, ev.Type == clientv3.EventTypePut)
			}
		}
	}()
	return nil
}

// Index is an in-memory view of the claims held, for picking free values
// without asking etcd; etcd's transaction stays the final word.
type Index struct {
	mu   sync.RWMutex
	held map[string]bool
}

// Held reports whether a claim is held.
func (i *Index) Held(claim string) bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.held[claim]
}

func (i *Index) set(claims []string, held bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, c := range claims {
		if held {
			i.held[c] = true
		} else {
			delete(i.held, c)
		}
	}
}

func unique(claims []string) []string {
	seen := map[string]bool{}
	out := claims[:0:0]
	for _, c := range claims {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// diff is a - b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
