//go:build tools

// Package tools pins the code generators and linters that hack/ scripts run.
package tools

import (
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
)
