package apiserver

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	restful "github.com/emicklei/go-restful/v3"
	"github.com/munnerz/goautoneg"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"
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

// installOpenAPI serves /openapi/v2 and /openapi/v3/<group-version> from
// the routes and definitions the library's PrepareRun would use (v2 with
// its handler, v3 with openAPIV3 below), but builds the documents when
// they are first asked for instead of at start: v2 on its first request,
// and every v3 document on the first request for the /openapi/v3 index
// (which holds a hash of each) or for any document. Most clients never ask
// for v2 and only kubectl apply and explain read v3, yet building every
// document up front costs start-up time and several MiB of heap for as
// long as the server runs. Call it after every API group is installed,
// with the library's own installation turned off (SkipOpenAPIInstallation).
func installOpenAPI(s *genericapiserver.GenericAPIServer, v2 *common.Config, v3 *common.OpenAPIV3Config) {
	services := s.Handler.GoRestfulContainer.RegisteredWebServices()
	mux := s.Handler.NonGoRestfulMux

	// The etag given here only tells the handler's cache whether the
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

	docs := &openAPIV3{build: sync.OnceValues(func() (*v3Documents, error) {
		// Building leaves ~12 MB of garbage that Go would hand back to
		// the kernel only over minutes, long enough to take a server
		// holding 10,000 objects over its memory goal: hand it back now.
		defer debug.FreeOSMemory()
		return buildV3(services, v3)
	})}
	docs.register(mux)
}

// openAPIV3 serves the v3 documents as kube-apiserver does: the index as
// its aggregator does (no Etag, the content type that http.ServeContent
// sniffs, 404 for a group version it lacks), each document as kube-openapi's
// handler3 does (the hash, headers, 301 to the current hash, JSON or
// protobuf by Accept). Where handler3 keeps each document's spec objects
// and its JSON for as long as the server runs (5.3 MB more live heap after
// the first kubectl apply), this keeps only the gzipped JSON (0.2 MB of
// the 1.2 MB more) and decompresses it for each request. Clients keep the
// documents in their HTTP cache by hash, so requests for them are few.
type openAPIV3 struct {
	build func() (*v3Documents, error)
}

type v3Documents struct {
	modified time.Time
	index    []byte                // {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=H"},...}}
	byGV     map[string]v3Document // by "api/v1", "apis/apps/v1", ...

	// While the documents are added: one compressor for all (each holds
	// ~1 MB of state) and its output.
	zw  *gzip.Writer
	buf bytes.Buffer
}

type v3Document struct {
	gzipped []byte // the JSON
	size    int    // of the JSON
	etag    string // handler3's: the JSON's SHA-512 in upper-case hex
}

// buildV3 builds every group version's document, one after another as
// PrepareRun does: the v3 builder changes the definitions that the
// documents share (it deletes keys from schemas' extension maps), so no two
// may be built at once. Each document's objects are garbage once its JSON
// is compressed.
func buildV3(services []*restful.WebService, cfg *common.OpenAPIV3Config) (*v3Documents, error) {
	docs := newV3Documents()
	for _, ws := range services {
		gv := ws.RootPath()[1:]
		doc, err := builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices([]*restful.WebService{ws}), cfg)
		if err != nil {
			return nil, fmt.Errorf("building the OpenAPI v3 document of %s: %w", gv, err)
		}
		if err := docs.add(gv, doc); err != nil {
			return nil, err
		}
	}
	return docs, docs.finish()
}

func newV3Documents() *v3Documents {
	return &v3Documents{modified: time.Now(), byGV: map[string]v3Document{}}
}

func (d *v3Documents) add(gv string, doc *spec3.OpenAPI) error {
	j, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encoding the OpenAPI v3 document of %s: %w", gv, err)
	}
	d.buf.Reset()
	if d.zw == nil {
		d.zw = gzip.NewWriter(&d.buf)
	} else {
		d.zw.Reset(&d.buf)
	}
	if _, err := d.zw.Write(j); err != nil {
		return err
	}
	if err := d.zw.Close(); err != nil {
		return err
	}
	d.byGV[gv] = v3Document{gzipped: bytes.Clone(d.buf.Bytes()), size: len(j), etag: contentETag(j)}
	return nil
}

// finish writes the index once every document is in, and lets the
// compressor go.
func (d *v3Documents) finish() error {
	d.zw, d.buf = nil, bytes.Buffer{}
	index := handler3.OpenAPIV3Discovery{Paths: map[string]handler3.OpenAPIV3DiscoveryGroupVersion{}}
	for gv, doc := range d.byGV {
		index.Paths[gv] = handler3.OpenAPIV3DiscoveryGroupVersion{ServerRelativeURL: hashedURL(gv, doc.etag)}
	}
	var err error
	d.index, err = json.Marshal(index)
	return err
}

func contentETag(data []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(data))
}

// hashedURL is a document's address in the index: clients may cache what
// it answers for good.
func hashedURL(gv, etag string) string {
	u := url.URL{Path: path.Join("/openapi/v3", gv), RawQuery: url.Values{"hash": {etag}}.Encode()}
	return u.String()
}

func (o *openAPIV3) register(mux common.PathHandlerByGroupVersion) {
	mux.Handle("/openapi/v3", http.HandlerFunc(o.serveIndex))
	mux.HandlePrefix("/openapi/v3/", http.HandlerFunc(o.serveGroupVersion))
}

func (o *openAPIV3) serveIndex(w http.ResponseWriter, r *http.Request) {
	docs, err := o.build()
	if err != nil {
		klog.ErrorS(err, "Serving /openapi/v3")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, "/openapi/v3", time.Now(), bytes.NewReader(docs.index))
}

// The types a document is served as, in handler3's order: for each Accept
// clause, the first of these it matches.
var v3Types = []struct{ subType, contentType string }{
	{"json", "application/json"},
	{"com.github.proto-openapi.spec.v3.v1.0+protobuf", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"},
	{"com.github.proto-openapi.spec.v3@v1.0+protobuf", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"},
}

func (o *openAPIV3) serveGroupVersion(w http.ResponseWriter, r *http.Request) {
	docs, err := o.build()
	if err != nil {
		klog.ErrorS(err, "Serving an OpenAPI v3 document", "path", r.URL.Path)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	gv := strings.TrimPrefix(r.URL.Path, "/openapi/v3/")
	doc, ok := docs.byGV[gv]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}

	// From here on as handler3.
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	clauses := goautoneg.ParseAccept(accept)
	w.Header().Add("Vary", "Accept")
	if len(clauses) == 0 {
		return
	}
	for _, clause := range clauses {
		for _, t := range v3Types {
			if (clause.Type != "application" && clause.Type != "*") || (clause.SubType != t.subType && clause.SubType != "*") {
				continue
			}
			w.Header().Set("Content-Type", t.contentType)
			w.Header().Set("Etag", strconv.Quote(doc.etag))
			if hash := r.URL.Query().Get("hash"); hash != "" {
				if hash != doc.etag {
					http.Redirect(w, r, hashedURL(gv, doc.etag), http.StatusMovedPermanently)
					return
				}
				w.Header().Set("Cache-Control", "public, immutable")
				w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).Format(time.RFC1123))
			}
			body, err := doc.body(t.subType != "json")
			if err != nil {
				// handler3 would answer an empty 200.
				klog.ErrorS(err, "Serving an OpenAPI v3 document", "groupVersion", gv)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			http.ServeContent(w, r, "", docs.modified, bytes.NewReader(body))
			return
		}
	}
	w.WriteHeader(http.StatusNotAcceptable)
}

// body is the document's JSON, or its protobuf form, made anew. kubectl
// and client-go's OpenAPI clients read JSON; protobuf is asked for seldom
// enough that its cost per request (~85 ms and 20 MB of garbage for
// api/v1) weighs less than keeping 0.8 MB for good.
func (d v3Document) body(protobuf bool) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(d.gzipped))
	if err != nil {
		return nil, err
	}
	j := make([]byte, d.size)
	if _, err := io.ReadFull(zr, j); err != nil || !protobuf {
		return j, err
	}
	return handler3.ToV3ProtoBinary(j)
}
