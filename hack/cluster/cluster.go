// Package cluster runs a real single-node Kubernetes cluster on a bare Linux machine without
// Docker: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet,
// kube-proxy, kube-router (NetworkPolicies), CoreDNS and Traefik, all inside a network
// namespace that has no link out of it. It needs root, Linux with cgroup v1 or v2, Debian's
// containerd, runc, containernetworking-plugins, iptables, ipset and conntrack, and the binaries
// hack/kubebin/build.sh builds.
//
// Everything the cluster writes lives under Options.StateDir and Options.RunDir, except the few
// host paths containerd 1.6, libcni and kubelet insist on; Close removes those too and restores
// the kernel settings kubelet rewrites.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure a cluster. The zero value of every field but Bin, Images and Repo has a
// default.
type Options struct {
	// Bin holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
	// kube-proxy, kube-router and coredns (hack/kubebin/build.sh kube net traefik).
	Bin []string
	// Images are image tarballs imported into containerd before the node starts
	// (image.Build's output): the pause image, the add-ons' and the workloads'.
	Images []string
	// PauseImage is the sandbox image's reference (it must be among Images).
	PauseImage string
	// Namespace is the network namespace's name (default gatewarden-cluster).
	Namespace string
	// StateDir (default /var/lib/gatewarden-cluster) and RunDir (default
	// /run/gatewarden-cluster) hold everything the cluster writes; both are removed by Close.
	StateDir, RunDir string
	// LogDir receives every process's log and the pods' logs (default StateDir/logs, removed
	// with the rest by Close); set it to keep them after the cluster is gone.
	LogDir string
	// NodeName defaults to gatewarden-node.
	NodeName string
	// Logger reports progress (default: discard).
	Logger *slog.Logger
}

// Network layout inside the namespace. The pod range is deliberately not kind's
// (10.244.0.0/16), so nothing in the chart can silently depend on kind's defaults.
const (
	NodeIP      = "10.255.0.2"
	nodeCIDR    = NodeIP + "/24"
	PodCIDR     = "10.88.0.0/16"
	NodePodCIDR = "10.88.0.0/24" // what kube-controller-manager gives the only node
	ServiceCIDR = "10.96.0.0/16"
	APIServerIP = "10.96.0.1"
	DNSIP       = "10.96.0.10"
	apiPort     = 6443
)

// Cluster is a running cluster.
type Cluster struct {
	opts   Options
	Netns  *Netns
	PKI    *pki
	Config *rest.Config // admin, through a forwarded port on the host's 127.0.0.1
	Client kubernetes.Interface
	// Kubeconfig is an admin kubeconfig for the host (kubectl --kubeconfig).
	Kubeconfig string
	// Timings of the start-up phases, in order.
	Timings []Timing

	log      *slog.Logger
	lock     *os.File   // held from Up to Close
	procs    []*process // in start order
	byName   map[string]*process
	cancel   context.CancelFunc // ends the forwarders
	sysctls  map[string]string  // host kernel settings kubelet rewrites, as they were
	hostDirs []string           // fixed host paths that did not exist before and are removed
	cniNS    map[string]bool    // /run/netns/cni-* that existed before
	users    map[string]string  // token by user name
}

// Attach describes a cluster this package did not start (kind, for hack/e2e-kind.sh): only the
// API is used; Close, Healthy and the namespace-bound helpers do nothing or refuse.
func Attach(cfg *rest.Config) (*Cluster, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Config: cfg, Client: cs, log: slog.New(slog.DiscardHandler), byName: map[string]*process{}}, nil
}

// Attached reports whether the cluster was attached rather than started here.
func (c *Cluster) Attached() bool { return c.Netns == nil }

// Timing is how long one start-up phase took.
type Timing struct {
	Phase string
	Took  time.Duration
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = "gatewarden-cluster"
	}
	if o.StateDir == "" {
		o.StateDir = "/var/lib/gatewarden-cluster"
	}
	if o.RunDir == "" {
		o.RunDir = "/run/gatewarden-cluster"
	}
	if o.NodeName == "" {
		o.NodeName = "gatewarden-node"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// The host's kernel settings kubelet rewrites at start (it has no flag to leave them alone).
var kubeletSysctls = []string{"kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory"}

// Host paths containerd 1.6, libcni and kubelet use whatever they are told.
var fixedHostDirs = []string{"/run/containerd", "/var/lib/cni", "/var/log/containers", "/var/lib/kubelet", "/opt/cni", "/etc/cni"}

// Up starts the cluster and waits until the node is Ready, CoreDNS answers and kube-router
// enforces policies. On error everything started is stopped again.
func Up(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts.defaults()
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: needs root (network namespaces, containerd, kubelet)")
	}
	// One cluster at a time on a machine: another run waits here instead of removing this
	// one's processes as leftovers.
	lock, err := lockMachine(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := Cleanup(ctx, opts); err != nil {
		lock.Close()
		return nil, fmt.Errorf("cluster: remove a previous run's leftovers: %w", err)
	}
	c := &Cluster{opts: opts, log: opts.Logger, lock: lock, byName: map[string]*process{}, sysctls: map[string]string{}, cniNS: map[string]bool{}, users: map[string]string{}}
	defer func() {
		if err != nil {
			if cerr := c.Close(); cerr != nil {
				c.log.Warn("cleanup after a failed start", slog.Any("error", cerr))
			}
		}
	}()
	for _, d := range fixedHostDirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			c.hostDirs = append(c.hostDirs, d)
		}
	}
	if m, _ := filepath.Glob("/run/netns/cni-*"); m != nil {
		for _, p := range m {
			c.cniNS[p] = true
		}
	}
	for _, k := range kubeletSysctls {
		v, err := readSysctl(k)
		if err != nil {
			return nil, err
		}
		c.sysctls[k] = v
	}
	for _, d := range []string{opts.StateDir, opts.RunDir, c.logDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.saveHostState(); err != nil {
		return nil, err
	}
	fwdCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel

	phase := func(name string, f func(context.Context) error) error {
		start := time.Now()
		c.log.Info("cluster: " + name)
		if err := f(ctx); err != nil {
			return fmt.Errorf("cluster: %s: %w", name, err)
		}
		c.Timings = append(c.Timings, Timing{name, time.Since(start)})
		return nil
	}
	if err := phase("network namespace", c.startNetns); err != nil {
		return nil, err
	}
	if err := phase("control plane", func(ctx context.Context) error { return c.startControlPlane(ctx, fwdCtx) }); err != nil {
		return nil, err
	}
	if err := phase("containerd and images", c.startContainerd); err != nil {
		return nil, err
	}
	if err := phase("node", c.startNode); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) logDir() string {
	if c.opts.LogDir != "" {
		return c.opts.LogDir
	}
	return filepath.Join(c.opts.StateDir, "logs")
}
func (c *Cluster) state(p string) string { return filepath.Join(c.opts.StateDir, p) }
func (c *Cluster) runp(p string) string  { return filepath.Join(c.opts.RunDir, p) }

// LogDir is where every process of the cluster writes its log; pod logs are under
// LogDir/pods.
func (c *Cluster) LogDir() string { return c.logDir() }

// PodLogDir is where kubelet writes the containers' logs.
func (c *Cluster) PodLogDir() string { return filepath.Join(c.logDir(), "pods") }

// bin finds a binary in Options.Bin.
func (c *Cluster) bin(name string) (string, error) {
	for _, d := range c.opts.Bin {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %v (hack/kubebin/build.sh kube net traefik builds it)", name, c.opts.Bin)
}

// startIn starts a binary inside the namespace.
func (c *Cluster) startIn(ctx context.Context, name string, args ...string) (*process, error) {
	path, err := c.bin(name)
	if err != nil {
		return nil, err
	}
	// Not bound to ctx: the process lives until Close.
	p, err := start(c.Netns.Command(context.WithoutCancel(ctx), path, args...), c.logDir(), name)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.byName[name] = p
	return p, nil
}

func (c *Cluster) startNetns(ctx context.Context) error {
	n, err := createNetns(ctx, c.opts.Namespace, nodeCIDR, ServiceCIDR)
	if err != nil {
		return err
	}
	c.Netns = n
	for k, v := range map[string]string{
		"net.ipv4.ip_forward":                 "1",
		"net.bridge.bridge-nf-call-iptables":  "1",
		"net.bridge.bridge-nf-call-ip6tables": "1",
	} {
		if err := n.Sysctl(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startControlPlane(ctx, fwdCtx context.Context) error {
	p, err := newPKI(c.state("pki"), []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(NodeIP), net.ParseIP(APIServerIP)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return err
	}
	c.PKI = p
	users, err := tokenUsers(c.opts.NodeName)
	if err != nil {
		return err
	}
	if err := writeTokenFile(p.path("tokens.csv"), users); err != nil {
		return err
	}
	inside := fmt.Sprintf("https://%s:%d", NodeIP, apiPort)
	for _, u := range users {
		c.users[u.Name] = u.Token
		if err := writeKubeconfig(c.kubeconfigFor(u.Name), inside, p.path("ca.crt"), u.Token); err != nil {
			return err
		}
	}

	etcd, err := c.startIn(ctx, "etcd", "--name=gatewarden", "--data-dir="+c.state("etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=gatewarden=http://127.0.0.1:2380", "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	api, err := c.startIn(ctx, "kube-apiserver",
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0", // inside the namespace: no link leads out of it
		"--advertise-address="+NodeIP,
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--kubelet-client-certificate="+p.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+p.path("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--token-auth-file="+p.path("tokens.csv"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.path("sa.key"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--service-cluster-ip-range="+ServiceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	// The host reaches the API server through a forwarded port on 127.0.0.1.
	local, err := c.Netns.Forward(fwdCtx, net.JoinHostPort(NodeIP, fmt.Sprint(apiPort)))
	if err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host:            "https://" + local,
		BearerToken:     c.users["admin"],
		TLSClientConfig: rest.TLSClientConfig{CAData: p.CAPEM},
		QPS:             50, Burst: 100,
	}
	c.Kubeconfig = c.state("admin-host.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.Config.Host, p.path("ca.crt"), c.users["admin"]); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM)
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := waitFor(wctx, "kube-apiserver /readyz", 200*time.Millisecond, func(ctx context.Context) error {
		return httpOK(ctx, hc, c.Config.Host+"/readyz", c.users["admin"])
	}, etcd, api); err != nil {
		return err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	if _, err := c.startIn(ctx, "kube-controller-manager",
		"--kubeconfig="+c.kubeconfigFor("system:kube-controller-manager"),
		"--bind-address=127.0.0.1", "--leader-elect=false",
		"--allocate-node-cidrs=true", "--cluster-cidr="+PodCIDR, "--node-cidr-mask-size=24",
		"--service-cluster-ip-range="+ServiceCIDR,
		"--service-account-private-key-file="+p.path("sa.key"),
		"--root-ca-file="+p.path("ca.crt"),
		"--use-service-account-credentials=true",
		"--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
	); err != nil {
		return err
	}
	_, err = c.startIn(ctx, "kube-scheduler",
		"--kubeconfig="+c.kubeconfigFor("system:kube-scheduler"),
		"--bind-address=127.0.0.1", "--leader-elect=false")
	return err
}

func (c *Cluster) kubeconfigFor(user string) string {
	return c.state(strings.NewReplacer(":", "-").Replace(user) + ".kubeconfig")
}

func httpOK(ctx context.Context, hc *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write sysctl %s: %w", key, err)
	}
	return nil
}

// restoreSysctls puts back the host kernel settings kubelet changed.
func (c *Cluster) restoreSysctls() error {
	var errs errJoin
	for k, v := range c.sysctls {
		if cur, err := readSysctl(k); err == nil && cur == v {
			continue
		}
		errs.add(writeSysctl(k, v))
	}
	return errs.err()
}

// lockMachine takes the machine-wide cluster lock (a flock on RunDir.lock), waiting for a run
// that holds it until ctx ends.
func lockMachine(ctx context.Context, o Options) (*os.File, error) {
	f, err := os.OpenFile(o.RunDir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cluster: lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("cluster: another cluster run holds %s: %w", f.Name(), ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
