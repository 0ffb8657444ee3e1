// Package e2e runs gatewarden's end-to-end suite on a real single-node Kubernetes cluster
// (hack/cluster): the chart installed with its defaults behind Traefik, NetworkPolicies enforced
// by kube-router, the dev IdP as FusionAuth. It needs root on Linux and Debian's containerd,
// runc, containernetworking-plugins, iptables, ipset, conntrack, redis-server and busybox-static
// (hack/test.sh installs them in CI); elsewhere every test skips and says why.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/cluster/deploy"
)

// dep is the deployment every test of the package shares (set up once by TestMain, read-only
// afterwards except through its own methods).
var (
	dep        *deploy.Deployment
	skipReason string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

// missing lists what the cluster needs and this machine lacks.
func missing() []string {
	var out []string
	for _, c := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ipset", "conntrack", "ip", "nsenter", "redis-server", "busybox"} {
		if _, err := exec.LookPath(c); err != nil {
			out = append(out, c)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		out = append(out, "/usr/lib/cni/bridge (containernetworking-plugins)")
	}
	return out
}

func testMain(m *testing.M) int {
	if kc := os.Getenv("GATEWARDEN_CLUSTER_KUBECONFIG"); kc != "" {
		return attached(m, kc)
	}
	switch {
	case runtime.GOOS != "linux":
		skipReason = "the cluster needs Linux"
	case os.Geteuid() != 0:
		skipReason = "the cluster needs root (network namespaces, containerd, kubelet); CI runs as root"
	case len(missing()) > 0:
		skipReason = "missing " + strings.Join(missing(), ", ") + " (apt-get install containerd runc containernetworking-plugins iptables ipset conntrack redis-server busybox-static)"
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "cluster e2e: CI is set but", skipReason)
			return 1
		}
	case os.Getenv("GATEWARDEN_SKIP_CLUSTER") != "":
		skipReason = "GATEWARDEN_SKIP_CLUSTER is set"
	}
	if skipReason != "" {
		fmt.Fprintln(os.Stderr, "cluster e2e: skipping:", skipReason)
		return m.Run()
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repo := filepath.Join(wd, "../../..")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	start := time.Now()
	mode := deploy.Mode(os.Getenv("GATEWARDEN_CLUSTER_MODE"))
	switch mode {
	case "":
		mode = deploy.ModeDeployment
	case deploy.ModeDeployment, deploy.ModeSidecar:
	default:
		fmt.Fprintf(os.Stderr, "cluster e2e: GATEWARDEN_CLUSTER_MODE=%q: want %s or %s\n", mode, deploy.ModeDeployment, deploy.ModeSidecar)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cluster e2e: authproxy as a %s\n", mode)
	logDir, err := filepath.Abs(filepath.Join(artifacts(), "cluster-logs-"+string(mode)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = os.RemoveAll(logDir)
	dep, err = deploy.Start(ctx, deploy.Options{Repo: repo, Logger: logger, Mode: mode, LogDir: logDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster e2e:", err)
		fmt.Fprintln(os.Stderr, "cluster e2e: process and pod logs in", logDir)
		return 1
	}
	// The stage's times go to stderr and to artifacts/cluster-times-<mode>.txt, which
	// hack/test.sh prints (go test shows a passing package's output only with -v).
	var times strings.Builder
	fmt.Fprintf(&times, "cluster e2e (%s): ready in %s\n", mode, time.Since(start).Round(time.Second))
	for _, t := range dep.Timings {
		fmt.Fprintf(&times, "  %-55s %6.1fs\n", t.Phase, t.Took.Seconds())
	}
	testStart := time.Now()
	code := m.Run()
	fmt.Fprintf(&times, "  %-55s %6.1fs\n", "tests", time.Since(testStart).Seconds())
	if code != 0 {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		fmt.Fprintln(os.Stderr, dep.Cluster.Diagnose(dctx))
		dcancel()
	}
	fmt.Fprintln(os.Stderr, "cluster e2e: process and pod logs in", logDir)
	stop := time.Now()
	if err := dep.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster e2e: teardown:", err)
		code = 1
	}
	fmt.Fprintf(&times, "  %-55s %6.1fs\n", "teardown", time.Since(stop).Seconds())
	fmt.Fprint(os.Stderr, times.String())
	_ = os.WriteFile(filepath.Join(artifacts(), "cluster-times-"+string(mode)+".txt"), []byte(times.String()), 0o644)
	return code
}

// attached runs the suite against an installation someone else made (hack/e2e-kind.sh on kind):
// the tests that need this package's own cluster skip.
func attached(m *testing.M, kubeconfig string) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ingress := os.Getenv("GATEWARDEN_CLUSTER_INGRESS")
	if ingress == "" {
		ingress = "traefik"
	}
	dep, err = deploy.Attach(deploy.AttachOptions{
		Repo: filepath.Join(wd, "../../.."), Kubeconfig: kubeconfig, Ingress: ingress,
		GatewayAddr: os.Getenv("GATEWARDEN_CLUSTER_GATEWAY_ADDR"), IdPAddr: os.Getenv("GATEWARDEN_CLUSTER_IDP_ADDR"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster e2e:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cluster e2e: attached to the cluster of %s (ingress %s)\n", kubeconfig, ingress)
	return m.Run()
}

// requireOwnCluster skips a test that changes the installation or reaches into the node's
// network, on an attached cluster.
func requireOwnCluster(t *testing.T) {
	t.Helper()
	if dep != nil && dep.Attached() {
		t.Skip("attached to a cluster this suite did not install (hack/e2e-kind.sh): this test upgrades the release or reaches the node's network, which only hack/cluster's own cluster allows")
	}
}

// artifacts is $E2E_ARTIFACTS_DIR or hack/cluster/artifacts.
func artifacts() string {
	if d := os.Getenv("E2E_ARTIFACTS_DIR"); d != "" {
		return d
	}
	return "../artifacts"
}

// sidecar reports whether authproxy runs in Traefik's pods in this run.
func sidecar() bool { return dep != nil && dep.Opts.Mode == deploy.ModeSidecar }

// requireOwnPods skips a test that is about authproxy's own Deployment in sidecar mode.
func requireOwnPods(t *testing.T) {
	t.Helper()
	if sidecar() {
		t.Skip("authproxy runs in Traefik's pod in this run: it has no replicas of its own to restart, roll or compare (GATEWARDEN_CLUSTER_MODE=deployment runs this test)")
	}
}

// requireCluster skips the test when the cluster could not be set up here, and fails it when
// the NetworkPolicy engine or another part of the cluster has died (kube-router fails open: no
// result is trusted without it).
func requireCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dep.Cluster.Healthy(ctx); err != nil {
		t.Fatalf("the cluster is not healthy: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := dep.Cluster.Healthy(ctx); err != nil {
			t.Errorf("the cluster became unhealthy during the test: %v", err)
		}
	})
}
