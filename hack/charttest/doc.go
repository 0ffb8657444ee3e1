// Package charttest tests charts/gatewarden without Docker:
//
//   - TestRender, TestRenderCounts, TestRenderRequiresValues, TestIngressModesCovered: render the
//     chart with Helm's Go SDK (client-only install, values.schema.json enforced) for every
//     ingress mode, every ci/*.yaml values file and a 53-character release name; decode every
//     object strictly into the Kubernetes and Gateway API Go types (unknown or duplicate fields
//     fail); check the invariants in invariants_test.go (restricted pod security, requests,
//     probes, NetworkPolicy coverage and default deny, selectors, Services, Secret/ConfigMap
//     references and keys, checksum annotations, names, and that every route to catalog or
//     inventory passes through authproxy). TestInvariantChecks breaks one object per case and
//     expects the matching problem, so the checks cannot silently pass.
//   - TestLint: helm lint --strict (SDK) with every ci/ values file.
//   - TestNetworkPolicies: evaluates the rendered NetworkPolicies with cyclonus' engine against a
//     table of flows that must be open or closed, per ingress mode and for external Redis.
//   - TestInstall: starts etcd and kube-apiserver (built by ../kubebin/build.sh, cached under
//     $GATEWARDEN_CACHE or ~/.cache/gatewarden), applies the CRDs in testdata/crds (see
//     SOURCES.md), and for every scenario does a strict server-side dry run of every object, then
//     helm install and helm upgrade (generated Secrets must survive the upgrade).
//
// Run from this folder: go test ./...   (-short skips TestInstall). A cold kubebin build takes
// a long time (tens of minutes on 2 busy cores): run ../kubebin/build.sh first, or raise
// -timeout. Env: CHARTTEST_KUBEBIN = a folder holding etcd and kube-apiserver (skips the build);
// CHARTTEST_DUMP = a folder to write the manifests of failing render scenarios to; CI = when set,
// a build failure for lack of network fails instead of skipping.
package charttest
