package apiserver

import (
	restful "github.com/emicklei/go-restful/v3"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// installOpenAPI serves /openapi/v2 and /openapi/v3/<group-version> as the
// library's PrepareRun does, from the same routes and definitions, but
// builds the documents when they are first asked for instead of at start:
// v2 on its first request, and every v3 document on the first request for
// the /openapi/v3 index (which holds a hash of each). Most clients never
// ask for v2 and only kubectl apply and explain read v3, yet building every
// document up front costs start-up time and several MiB of heap for as long
// as the server runs. Call it after every API group is installed, with the
// library's own installation turned off (SkipOpenAPIInstallation).
func installOpenAPI(s *genericapiserver.GenericAPIServer, v2 *common.Config, v3 *common.OpenAPIV3Config) error {
	services := s.Handler.GoRestfulContainer.RegisteredWebServices()
	mux := s.Handler.NonGoRestfulMux

	// The etags given here only tell the handlers' caches whether a
	// document changed, which it never does; clients get a hash of the
	// document's bytes.
	swagger := cached.Once(cached.Func(func() (*spec.Swagger, string, error) {
		doc, err := builder.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(services), v2)
		if err != nil {
			return nil, "", err
		}
		doc.Definitions = handler.PruneDefaults(doc.Definitions)
		return doc, "v2", nil
	}))
	handler.NewOpenAPIServiceLazy(swagger).RegisterOpenAPIVersionedService("/openapi/v2", mux)

	byGroupVersion := handler3.NewOpenAPIService()
	if err := byGroupVersion.RegisterOpenAPIV3VersionedService("/openapi/v3", mux); err != nil {
		return err
	}
	// The v3 builder changes the definitions that the documents go on
	// sharing (it deletes keys from schemas' extension maps), so no
	// document may be served while another is built: build them all, one
	// after another as PrepareRun does, before serving any. The index asks
	// for all of them at once anyway.
	v3Docs := cached.Once(cached.Func(func() (map[string]*spec3.OpenAPI, string, error) {
		docs := map[string]*spec3.OpenAPI{}
		for _, ws := range services {
			doc, err := builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices([]*restful.WebService{ws}), v3)
			if err != nil {
				return nil, "", err
			}
			docs[ws.RootPath()[1:]] = doc // "api/v1", "apis/apps/v1"
		}
		return docs, "v3", nil
	}))
	for _, ws := range services {
		gv := ws.RootPath()[1:]
		byGroupVersion.UpdateGroupVersionLazy(gv, cached.Transform(func(docs map[string]*spec3.OpenAPI, _ string, err error) (*spec3.OpenAPI, string, error) {
			return docs[gv], gv, err
		}, v3Docs))
	}
	return nil
}
