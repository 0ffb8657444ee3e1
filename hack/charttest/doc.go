// Package charttest tests charts/gatewarden: it renders the chart with Helm's Go SDK for every
// ingress mode and every ci/ values file and checks the objects strictly against the Kubernetes
// API types and the chart's security invariants, installs it into a real kube-apiserver (built by
// hack/kubebin), and evaluates the rendered NetworkPolicies with cyclonus' policy engine.
//
// Run from this folder: go test ./...  (the apiserver test builds or reuses cached binaries).
package charttest
