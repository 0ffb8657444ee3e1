// Package charttest tests charts/gatewarden without Docker:
//
//   - TestRender, TestRenderCounts, TestRenderRequiresValues, TestIngressModesCovered: render the
//     chart with Helm's Go SDK (client-only install, values.schema.json enforced) for every
//     ingress mode, every ci/*.yaml values file and a 53-character release name; decode every
//     object strictly into the Kubernetes and Gateway API Go types (unknown or duplicate fields
//     fail); check the invariants in invariants_test.go (restricted pod security, requests,
//     probes, NetworkPolicy coverage and default deny, selectors, Services, Secret/ConfigMap
//     references and keys, checksum annotations, names, and that every route to catalog or
//     inventory passes through authproxy, the forwardAuth address, Redis addresses that resolve
//     from authproxy's namespace). TestInvariantChecks breaks one object per case and expects the
//     matching problem, so the checks cannot silently pass. knownChartBugs lists problems the
//     chart has today (logged, and a failure once fixed, so the entry goes with the fix).
//   - Sidecar mode (authproxy.mode sidecar, ci/traefik-sidecar-values.yaml): only authproxy's
//     ConfigMaps, Secrets (with an identical copy of the Redis password), Service (selecting
//     exactly authproxy.sidecar.podLabels) and login IngressRoute may be in the sidecar
//     namespace; names are unique per kind and namespace; no authproxy workload is rendered.
//     TestSidecarEnvMatchesDeployment (with TestSidecarEnvChecks) holds the sidecar's
//     environment ConfigMap to the Deployment's env for the same values; TestRenderCountsSidecar
//     pins what it renders; TestRedisAddrsFromTheSidecar the Service names it may use;
//     TestTraefikSidecarValues checks k8s/traefik/values-sidecar.yaml (the container Traefik's
//     chart adds) against what the chart renders: mounts, keys, envFrom, files, port, security.
//   - TestLint: helm lint --strict (SDK) with every ci/ values file.
//   - TestValuesDocUpToDate, TestValuesDocMatchesHelm, TestValuesDocSchema (docs_test.go): the
//     README's values table is what valuesdoc (`make chart-docs`) writes from values.yaml's
//     helm-docs style "# --" comments; every value has a description; the documented keys,
//     types and defaults are what Helm reads; types and keys agree with values.schema.json.
//   - TestTiltfile (tiltfile_test.go, tiltfake_test.go): runs the repository's Tiltfile under
//     Starlark with stand-ins for Tilt's functions, for each --ingress, the chart rendered with
//     Helm's SDK from the Tiltfile's own helm() arguments, and emulates Tilt's grouping: every
//     object selector names exactly one object, no object is left uncategorized, every chart
//     workload is a resource named after its component, dependencies name resources, port
//     forwards target declared ports, built images are used, and every third-party chart is
//     installed at the exact version k8s/charts.yaml pins (TestTiltfileChartPins) from a
//     declared repository. TestTiltfileChecks breaks a small Tiltfile per case. What only Tilt
//     proves (its real functions, the charts at those versions, images, live_update) is listed
//     at the top of tiltfile_test.go.
//   - TestNetworkPolicies: evaluates the rendered NetworkPolicies with cyclonus' engine against a
//     table of flows that must be open or closed, per ingress mode, for external Redis and for
//     the sidecar (Traefik's pods reach Redis, the services reach them on 4180).
//   - TestInstall: starts etcd and kube-apiserver (built by ../kubebin/build.sh, cached under
//     $GATEWARDEN_CACHE or ~/.cache/gatewarden), applies the CRDs in testdata/crds (see
//     SOURCES.md), and for every scenario does a strict server-side dry run of every object (in
//     its own namespace; the sidecar namespace is created), then helm install and helm upgrade
//     (generated Secrets must survive the upgrade, the Redis password copy must match).
//
// Run from this folder: go test ./...   (-short skips TestInstall). A cold kubebin build takes
// a long time (tens of minutes on 2 busy cores): run ../kubebin/build.sh first, or raise
// -timeout. Env: CHARTTEST_KUBEBIN = a folder holding etcd and kube-apiserver (skips the build);
// CHARTTEST_DUMP = a folder to write the manifests of failing render scenarios to; CI = when set,
// a build failure for lack of network fails instead of skipping.
package charttest
