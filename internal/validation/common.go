package validation

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Messages Kubernetes shares between several checks.
const (
	fieldImmutableErrorMsg = apivalidation.FieldImmutableErrorMsg // "field is immutable"
	immutableWhenSetMsg    = "field is immutable when `immutable` is set"
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
)

// supportedPortProtocols are the protocols of container, endpoints and
// endpoint slice ports. field.NotSupported lists them sorted: "SCTP", "TCP",
// "UDP".
var supportedPortProtocols = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)

// standardFinalizers are the finalizer names Kubernetes accepts without a
// "domain/" prefix.
var standardFinalizers = sets.New(
	string(corev1.FinalizerKubernetes),
	metav1.FinalizerOrphanDependents,
	metav1.FinalizerDeleteDependents,
)

func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsDNS1123Label(value))
}

func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsDNS1123Subdomain(value))
}

func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsQualifiedName(value))
}

// validateObjectName checks a reference to another object by name (a node,
// a service account, a priority class, ...) with that kind's name rules.
func validateObjectName(name string, fn apivalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, name, fn(name, false))
}

// invalidEach turns the messages of a k8s.io/apimachinery/pkg/util/validation
// check into one Invalid error each, as Kubernetes does.
func invalidEach(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// validateKubeFinalizers applies the rule core and discovery objects add to
// metadata.finalizers: a name without a "/" must be one of Kubernetes' own.
// The generic ObjectMeta validation the caller runs does not know this rule;
// Kubernetes reports it right after the other metadata errors, which is where
// each core kind's Validate function puts it.
func validateKubeFinalizers(meta *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	for i, f := range meta.Finalizers {
		errs = append(errs, validateKubeFinalizerName(f, field.NewPath("metadata", "finalizers").Index(i))...)
	}
	return errs
}

func validateKubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers.Has(name) {
		return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// ValidateNonSpecialIP rejects addresses that make no sense as the address of
// a network endpoint: unspecified, loopback and link-local ones (the latter
// tend to be node-local services such as a cloud metadata server).
func ValidateNonSpecialIP(ipAddress string, fldPath *field.Path) field.ErrorList {
	ip := netutils.ParseIPSloppy(ipAddress)
	if ip == nil {
		return field.ErrorList{field.Invalid(fldPath, ipAddress, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, fmt.Sprintf("may not be unspecified (%v)", ipAddress)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(fldPath, ipAddress, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// validateFileMode checks the permission bits of a projected file.
func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

// coreRepr prints a struct value the way kube-apiserver's messages print it.
//
// field.Error prints a struct bad value with %#v, which names its type.
// Kubernetes validates its internal types, which live in package "core", so
// its messages read core.NodeAddress{...}; formatting our v1 value would give
// v1.NodeAddress{...}. The internal and v1 structs have the same fields for
// every value we wrap, so renaming the package qualifier is enough. The
// meta/v1 types that share the "v1." qualifier keep it, as they do in
// Kubernetes.
type coreRepr struct{ v any }

var v1Qualified = regexp.MustCompile(`\bv1\.(\w+)`)

// metaV1Types are the k8s.io/apimachinery/pkg/apis/meta/v1 types that can
// appear inside a wrapped value (Taint.TimeAdded).
var metaV1Types = sets.New("Time", "MicroTime")

func (r coreRepr) String() string {
	return v1Qualified.ReplaceAllStringFunc(fmt.Sprintf("%#v", r.v), func(s string) string {
		if metaV1Types.Has(strings.TrimPrefix(s, "v1.")) {
			return s
		}
		return "core." + strings.TrimPrefix(s, "v1.")
	})
}

// joinMsgs joins several messages into one detail, for the checks where
// Kubernetes reports them as a single error.
func joinMsgs(msgs []string) string {
	return strings.Join(msgs, ";")
}
