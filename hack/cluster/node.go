package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewarden/gatewarden/hack/cluster/image"
)

// containerdConfig is containerd 1.6's configuration with every path of its own, cgroupfs,
// the pause image built here (nothing can be pulled) and the CNI bridge.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "%[1]s/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "%[2]s/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[5]q
`

// cniConfig is one bridge with host-local addresses from the node's pod range; no masquerade
// (there is nowhere to masquerade to).
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "gatewarden",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

func (c *Cluster) socket() string { return c.runp("containerd.sock") }

func (c *Cluster) startContainerd(ctx context.Context) error {
	cniDir := c.state("cni/net.d")
	if err := os.MkdirAll(cniDir, 0o755); err != nil {
		return err
	}
	conf := c.state("containerd.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, containerdConfig, c.state("containerd"), c.runp("containerd"), c.socket(), c.opts.PauseImage, cniDir), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cniDir, "10-gatewarden.conflist"), fmt.Appendf(nil, cniConfig, c.state("cni/ipam"), NodePodCIDR), 0o644); err != nil {
		return err
	}
	path, err := exec.LookPath("containerd")
	if err != nil {
		return fmt.Errorf("containerd is not installed (apt-get install containerd runc containernetworking-plugins): %w", err)
	}
	p, err := start(c.Netns.Command(context.WithoutCancel(ctx), path, "--config", conf, "--log-level", "warn"), c.logDir(), "containerd")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	c.byName["containerd"] = p
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := waitFor(wctx, "containerd", 100*time.Millisecond, func(ctx context.Context) error {
		return exec.CommandContext(ctx, "ctr", "--address", c.socket(), "version").Run()
	}, p); err != nil {
		return err
	}
	// The CRI plugin's images live in containerd namespace k8s.io.
	return image.Import(ctx, "ctr", c.socket(), "k8s.io", c.opts.Images...)
}

const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[1]q}
authorization: {mode: Webhook}
address: %[2]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
resolvConf: ""
clusterDNS: [%[3]s]
clusterDomain: cluster.local
containerRuntimeEndpoint: unix://%[4]s
podLogsDir: %[5]q
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageMinimumGCAge: 24h
evictionHard: {memory.available: "50Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
protectKernelDefaults: false
makeIPTablesUtilChains: true
maxPods: 60
`

const kubeProxyConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %[1]q}
mode: iptables
clusterCIDR: %[2]s
hostnameOverride: %[3]s
bindAddress: %[4]s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host-wide conntrack table size alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`

func (c *Cluster) startNode(ctx context.Context) error {
	kc := c.state("kubelet.yaml")
	if err := os.WriteFile(kc, fmt.Appendf(nil, kubeletConfig, c.PKI.path("ca.crt"), NodeIP, DNSIP, c.socket(), c.PodLogDir()), 0o644); err != nil {
		return err
	}
	kubelet, err := c.startIn(ctx, "kubelet", "--config="+kc,
		"--kubeconfig="+c.kubeconfigFor("system:node:"+c.opts.NodeName),
		"--root-dir="+c.state("kubelet"),
		"--hostname-override="+c.opts.NodeName, "--node-ip="+NodeIP, "--v=1")
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: c.Netns.DialContext}}
	defer hc.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitFor(wctx, "kubelet /healthz", 200*time.Millisecond, func(ctx context.Context) error {
		return httpOK(ctx, hc, "http://127.0.0.1:10248/healthz", "")
	}, kubelet); err != nil {
		return err
	}
	// kubelet has rewritten the host's kernel.panic, kernel.panic_on_oops and
	// vm.overcommit_memory by now: put them back at once.
	if err := c.restoreSysctls(); err != nil {
		return err
	}
	pc := c.state("kube-proxy.yaml")
	if err := os.WriteFile(pc, fmt.Appendf(nil, kubeProxyConfig, c.kubeconfigFor("system:kube-proxy"), PodCIDR, c.opts.NodeName, NodeIP), 0o644); err != nil {
		return err
	}
	proxy, err := c.startIn(ctx, "kube-proxy", "--config="+pc)
	if err != nil {
		return err
	}
	if err := waitFor(wctx, "node Ready", 500*time.Millisecond, func(ctx context.Context) error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, c.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				if len(n.Spec.PodCIDRs) == 0 {
					return fmt.Errorf("node has no pod CIDR yet")
				}
				return nil
			}
		}
		return fmt.Errorf("node not Ready")
	}, kubelet, proxy, c.byName["containerd"]); err != nil {
		return err
	}
	_ = c.restoreSysctls()
	if err := c.Apply(ctx, []byte(kubeRouterRBAC)); err != nil {
		return err
	}
	// kube-router exits when its Node does not exist and then enforces nothing: it starts
	// only now, and Healthy checks it before every test.
	router, err := c.startIn(ctx, "kube-router", "--kubeconfig="+c.kubeconfigFor("kube-router"),
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
		"--hostname-override="+c.opts.NodeName, "--health-port=20244", "--metrics-port=0", "-v=1")
	if err != nil {
		return err
	}
	return waitFor(wctx, "kube-router /healthz", 500*time.Millisecond, func(ctx context.Context) error {
		return httpOK(ctx, hc, "http://"+net.JoinHostPort("127.0.0.1", "20244")+"/healthz", "")
	}, router)
}

// Healthy reports an error when a process of the cluster has died or kube-router's health
// check fails: kube-router fails open, so a test must not run without it.
func (c *Cluster) Healthy(ctx context.Context) error {
	if c.Attached() {
		return nil // its NetworkPolicy engine is the cluster's own (kind: kindnet)
	}
	for _, p := range c.procs {
		if p.Exited() {
			return p.failure()
		}
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: c.Netns.DialContext}}
	defer hc.CloseIdleConnections()
	if err := httpOK(ctx, hc, "http://127.0.0.1:20244/healthz", ""); err != nil {
		return fmt.Errorf("kube-router (the NetworkPolicy engine) is not healthy: %w", err)
	}
	return nil
}
