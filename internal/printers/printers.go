// Package printers builds the server-side Table columns and rows that
// `kubectl get` prints, matching kube-apiserver 1.32
// (k8s.io/kubernetes/pkg/printers/internalversion) for the v1 types portway
// serves.
//
// Kubernetes' table convertor always generates the wide form
// (GenerateOptions{Wide: true}); kubectl hides priority 1 columns itself
// unless -o wide is given. So every Row returns one cell per column, wide
// cells included, and cell values keep the Go types Kubernetes uses (string,
// int64) because they are JSON encoded as they are.
//
// Column descriptions come from the same API documentation
// (SwaggerDoc) Kubernetes uses, so they match byte for byte.
package printers

import (
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// now is the clock for age cells; tests replace it.
var now = time.Now

// Placeholders Kubernetes prints for missing values.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
)

// maxListed is how many endpoints or ports a cell lists before it switches to
// "+ N more...".
const maxListed = 3

var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	ageColumn = column("Age", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], 0)
)

// column defines a string column; priority 1 columns show only with -o wide.
// Every column of the resources here has type "string", even those whose
// cells are integers, because that is how Kubernetes declares them.
func column(name, description string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Description: description, Priority: priority}
}

// since is how long ago t was, in kubectl's short form ("5m", "2d3h"), or
// "<unknown>" for a zero time.
func since(t time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now().Sub(t))
}

// age is the AGE cell of an object created at t.
func age(t metav1.Time) string { return since(t.Time) }

// joinListed joins the listed items (the first maxListed of total), adding
// " + N more..." when some were left out; with nothing listed it returns
// empty, whose value differs between Kubernetes' printers.
func joinListed(listed []string, total int, empty string) string {
	s := strings.Join(listed, ",")
	switch {
	case total > len(listed):
		return s + " + " + strconv.Itoa(total-len(listed)) + " more..."
	case s == "":
		return empty
	}
	return s
}

// NamespaceColumns are the columns of a Namespace table.
var NamespaceColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Status", "The status of the namespace", 0),
	ageColumn,
}

// NamespaceRow returns the cells of a Namespace.
func NamespaceRow(ns *corev1.Namespace) []any {
	return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp)}
}

// ConfigMapColumns are the columns of a ConfigMap table.
var ConfigMapColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Data", corev1.ConfigMap{}.SwaggerDoc()["data"], 0),
	ageColumn,
}

// ConfigMapRow returns the cells of a ConfigMap; DATA counts both data and
// binaryData keys.
func ConfigMapRow(cm *corev1.ConfigMap) []any {
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp)}
}

// SecretColumns are the columns of a Secret table.
var SecretColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Type", corev1.Secret{}.SwaggerDoc()["type"], 0),
	column("Data", corev1.Secret{}.SwaggerDoc()["data"], 0),
	ageColumn,
}

// SecretRow returns the cells of a Secret.
func SecretRow(s *corev1.Secret) []any {
	// Kubernetes counts the internal object's data, into which conversion
	// merges stringData; count the union of keys the same way.
	n := len(s.Data)
	for k := range s.StringData {
		if _, ok := s.Data[k]; !ok {
			n++
		}
	}
	return []any{s.Name, string(s.Type), int64(n), age(s.CreationTimestamp)}
}

// ServiceAccountColumns are the columns of a ServiceAccount table.
var ServiceAccountColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Secrets", corev1.ServiceAccount{}.SwaggerDoc()["secrets"], 0),
	ageColumn,
}

// ServiceAccountRow returns the cells of a ServiceAccount; SECRETS counts
// its secret references.
func ServiceAccountRow(sa *corev1.ServiceAccount) []any {
	return []any{sa.Name, int64(len(sa.Secrets)), age(sa.CreationTimestamp)}
}

// LeaseColumns are the columns of a coordination.k8s.io/v1 Lease table.
var LeaseColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Holder", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"], 0),
	ageColumn,
}

// LeaseRow returns the cells of a Lease; HOLDER is empty when nobody holds it.
func LeaseRow(l *coordinationv1.Lease) []any {
	var holder string
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []any{l.Name, holder, age(l.CreationTimestamp)}
}
