#!/usr/bin/env bash
# Regenerates internal/apiserver/openapi/zz_generated.openapi.go: the OpenAPI
# definitions of every type portway serves. kubectl apply/explain and
# server-side apply read them, so rerun this when a served group is added.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd hack/tools && GOBIN="$bin" go install k8s.io/kube-openapi/cmd/openapi-gen)
GODEBUG=gotypesalias=0 "$bin/openapi-gen" \
  --go-header-file hack/boilerplate.go.txt \
  --output-dir internal/apiserver/openapi \
  --output-pkg github.com/portway/portway/internal/apiserver/openapi \
  --output-file zz_generated.openapi.go \
  --report-filename /dev/null \
  k8s.io/apimachinery/pkg/apis/meta/v1 \
  k8s.io/apimachinery/pkg/runtime \
  k8s.io/apimachinery/pkg/version \
  k8s.io/apimachinery/pkg/util/intstr \
  k8s.io/apimachinery/pkg/api/resource \
  k8s.io/api/core/v1 \
  k8s.io/api/discovery/v1 \
  k8s.io/api/coordination/v1 \
  k8s.io/api/events/v1 \
  k8s.io/api/apps/v1 \
  k8s.io/api/authentication/v1 \
  k8s.io/api/authorization/v1 \
  k8s.io/api/autoscaling/v1 \
  k8s.io/api/policy/v1
