package apiserver

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/registry/apps"
	"github.com/portway/portway/internal/registry/authentication"
	"github.com/portway/portway/internal/registry/authorization"
	"github.com/portway/portway/internal/registry/configmap"
	"github.com/portway/portway/internal/registry/endpoints"
	"github.com/portway/portway/internal/registry/endpointslice"
	"github.com/portway/portway/internal/registry/event"
	"github.com/portway/portway/internal/registry/lease"
	"github.com/portway/portway/internal/registry/namespace"
	"github.com/portway/portway/internal/registry/node"
	"github.com/portway/portway/internal/registry/pod"
	"github.com/portway/portway/internal/registry/secret"
	"github.com/portway/portway/internal/registry/service"
	"github.com/portway/portway/internal/registry/serviceaccount"
	"github.com/portway/portway/internal/satoken"
)

// storageBuilder builds the REST endpoints of one resource.
type storageBuilder func(generic.RESTOptionsGetter) (map[string]rest.Storage, error)

// resourceStorage adapts a plain registry.Resource to a storageBuilder.
func resourceStorage[T runtime.Object](r *registry.Resource[T]) storageBuilder {
	return func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
		s, err := r.NewStorage(opts)
		if err != nil {
			return nil, err
		}
		return s.REST, nil
	}
}

// apiDeps is what the served resources need besides storage.
type apiDeps struct {
	services         service.Config
	kubeletTransport http.RoundTripper // pods/log, exec, attach, portforward
	proxyTransport   http.RoundTripper // pods/proxy, services/proxy
	authenticator    authenticator.Request
	authorizer       authorization.Authorizer
	tokens           *satoken.Signer // serviceaccounts/token
}

// served lists every resource, by group version. Pods reach their nodes'
// agents through the Nodes in storage, services/proxy reads Endpoints and
// Pods, and serviceaccounts/token Pods, Secrets and Nodes, so those are
// built first.
func served(deps apiDeps) map[schema.GroupVersion][]storageBuilder {
	kubelets := pod.Kubelets{Transport: deps.kubeletTransport}
	proxy := service.Proxy{Transport: deps.proxyTransport}
	tokens := serviceaccount.Tokens{Signer: deps.tokens}
	return map[schema.GroupVersion][]storageBuilder{
		{Version: "v1"}: {
			namespace.NewStorage,
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				s, err := node.Resource.NewStorage(opts)
				if err != nil {
					return nil, err
				}
				kubelets.Nodes = s.Store
				tokens.Nodes = s.Store
				return s.REST, nil
			},
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				s, err := pod.NewStorage(opts, kubelets, deps.proxyTransport)
				if err != nil {
					return nil, err
				}
				proxy.Pods = s["pods"].(rest.Getter)
				tokens.Pods = proxy.Pods
				return s, nil
			},
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				s, err := endpoints.Resource.NewStorage(opts)
				if err != nil {
					return nil, err
				}
				proxy.Endpoints = s.Store
				return s.REST, nil
			},
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				return service.NewStorage(opts, deps.services, proxy)
			},
			resourceStorage(event.Resource),
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				s, err := secret.Resource.NewStorage(opts)
				if err != nil {
					return nil, err
				}
				tokens.Secrets = s.Store
				return s.REST, nil
			},
			resourceStorage(configmap.Resource),
			func(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
				return serviceaccount.NewStorage(opts, tokens)
			},
		},
		{Group: "apps", Version: "v1"}:          {apps.NewDeploymentStorage, apps.NewReplicaSetStorage},
		{Group: "events.k8s.io", Version: "v1"}: {resourceStorage(event.EventsV1Resource)},
		{Group: "authentication.k8s.io", Version: "v1"}: {func(generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
			return authentication.NewStorage(deps.authenticator, satoken.APIAudiences), nil
		}},
		{Group: "authorization.k8s.io", Version: "v1"}: {func(generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
			return authorization.NewStorage(deps.authorizer), nil
		}},
		{Group: "coordination.k8s.io", Version: "v1"}: {resourceStorage(lease.Resource)},
		{Group: "discovery.k8s.io", Version: "v1"}:    {resourceStorage(endpointslice.Resource)},
	}
}

func installAPIs(s *genericapiserver.GenericAPIServer, opts generic.RESTOptionsGetter, deps apiDeps) error {
	resources := served(deps)
	var groups []*genericapiserver.APIGroupInfo
	for _, gv := range registry.GroupVersions {
		info := genericapiserver.NewDefaultAPIGroupInfo(gv.Group, registry.Scheme, runtime.NewParameterCodec(registry.Scheme), registry.Codecs)
		storage := map[string]rest.Storage{}
		for _, build := range resources[gv] {
			rests, err := build(opts)
			if err != nil {
				return err
			}
			for path, r := range rests {
				storage[path] = r
			}
		}
		info.VersionedResourcesStorageMap[gv.Version] = storage
		if gv.Group == "" {
			if err := s.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info); err != nil {
				return err
			}
			continue
		}
		groups = append(groups, &info)
	}
	if err := s.InstallAPIGroups(groups...); err != nil {
		return err
	}
	// Aggregated discovery, which kubectl reads, orders groups by priority
	// (then name): give them GroupVersions' order, as /apis has. 15 is
	// kube-apiserver's version priority for a group's v1.
	for i, info := range groups {
		gv := info.PrioritizedVersions[0]
		s.AggregatedDiscoveryGroupManager.SetGroupVersionPriority(metav1.GroupVersion(gv), len(groups)-i, 15)
	}
	return nil
}
