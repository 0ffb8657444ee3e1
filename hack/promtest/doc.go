// Package promtest checks gatewarden's operator metrics end to end: it starts the local system
// (hack/stack: dev IdP, Redis, authproxy, catalog, inventory behind a front proxy), drives a
// login and some decisions, runs a real Prometheus scraping every component with the chart's
// alert rules (charts/gatewarden/files/prometheus-rules.yaml) loaded as rule_files, and checks
// through Prometheus's HTTP API that every target is up, every rule group is loaded and
// healthy, every alert expression and dashboard query (charts/gatewarden/files/
// grafana-dashboard.json) evaluates without error, and every metric name they select is among
// the scraped series.
//
// The Prometheus binary is $PROMTEST_PROMETHEUS, or else the one hack/kubebin/build.sh prom
// builds and caches (hack/test.sh builds it before the nested modules' tests).
package promtest
