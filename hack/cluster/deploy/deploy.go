// Package deploy puts gatewarden on a hack/cluster cluster as a user would: it builds the
// images without Docker, starts the cluster, installs CoreDNS, Traefik (the chart's default
// ingress mode) and the FusionAuth stand-in, and installs the chart with the values a real user
// sets. hack/cluster's command and its end-to-end suite both use it.
package deploy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/gatewarden/gatewarden/hack/cluster"
	"github.com/gatewarden/gatewarden/hack/cluster/image"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// The deployment's fixed names, as in the kind development setup (k8s/gatewarden/values-kind.yaml).
const (
	Release      = "gatewarden"
	Namespace    = "gatewarden"
	PublicURL    = "http://localhost"
	Issuer       = "http://fusionauth.localhost:9011"
	ClientID     = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e" // k8s/fusionauth/kickstart.json
	ClientSecret = "dev-client-secret"
	// AppVersion is the chart's appVersion: the tag the chart pulls by default.
	appVersionFile = "charts/gatewarden/Chart.yaml"
)

// probeImage is the reference of the probe program's image (hack/cluster/cmd/probe).
const probeImage = "gatewarden.local/probe:dev"

// Attached reports whether the deployment was attached (hack/e2e-kind.sh) rather than started.
func (d *Deployment) Attached() bool { return d.Cluster != nil && d.Cluster.Attached() }

// Mode is how authproxy runs.
type Mode string

const (
	// ModeDeployment: authproxy's own Deployment (the chart's default).
	ModeDeployment Mode = "deployment"
	// ModeSidecar: authproxy as a container in Traefik's pod (k8s/traefik/values-sidecar.yaml).
	ModeSidecar Mode = "sidecar"
)

// Options configure a deployment.
type Options struct {
	Repo   string // repository root
	Mode   Mode   // default ModeDeployment
	Logger *slog.Logger
	// LogDir keeps the cluster's and the pods' logs after the cluster is gone ("" = removed
	// with it).
	LogDir string
}

// Deployment is gatewarden running on a cluster.
type Deployment struct {
	Cluster *cluster.Cluster
	Opts    Options
	// Values are the chart values of the current release.
	Values map[string]any
	// SigningKeys are the PEM signing keys in Values, newest first.
	SigningKeys []string
	// Transport reaches the gateway (PublicURL) and the IdP (Issuer) from the host.
	Transport *http.Transport
	// Timings of the build and start-up phases.
	Timings []cluster.Timing
	// Ingress is the chart's ingress.mode (traefik here; traefik or gatewayAPI when attached).
	Ingress string

	work   string
	images map[string]string // role -> image reference
	log    *slog.Logger
}

// Start builds everything, starts the cluster and installs gatewarden. On error, what was
// started is stopped.
func Start(ctx context.Context, opts Options) (_ *Deployment, err error) {
	if opts.Mode == "" {
		opts.Mode = ModeDeployment
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	work, err := os.MkdirTemp("", "gatewarden-cluster-")
	if err != nil {
		return nil, err
	}
	d := &Deployment{Opts: opts, work: work, log: opts.Logger, images: map[string]string{}, Ingress: "traefik"}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	phase := func(name string, f func() error) error {
		start := time.Now()
		d.log.Info("deploy: " + name)
		if err := f(); err != nil {
			return fmt.Errorf("deploy: %s: %w", name, err)
		}
		d.Timings = append(d.Timings, cluster.Timing{Phase: name, Took: time.Since(start)})
		return nil
	}
	var tools []string
	if err := phase("build Kubernetes, CoreDNS, kube-router, Traefik (cached)", func() error {
		tools, err = BuildTools(ctx, opts.Repo)
		return err
	}); err != nil {
		return nil, err
	}
	var tars []string
	if err := phase("build gatewarden and the images", func() error {
		tars, err = d.buildImages(ctx, tools)
		return err
	}); err != nil {
		return nil, err
	}
	if err := phase("start the cluster", func() error {
		d.Cluster, err = cluster.Up(ctx, cluster.Options{Bin: tools, Images: tars, PauseImage: d.images["pause"], Logger: d.log, LogDir: opts.LogDir})
		return err
	}); err != nil {
		return nil, err
	}
	d.Timings = append(d.Timings, d.Cluster.Timings...)
	if err := phase("CoreDNS and the FusionAuth stand-in", func() error {
		return d.Cluster.InstallAddons(ctx, opts.Repo,
			cluster.AddonImages{CoreDNS: d.images["coredns"], DevIDP: d.images["devidp"]},
			cluster.IdP{Issuer: Issuer, ClientID: ClientID, ClientSecret: ClientSecret, PublicURL: PublicURL})
	}); err != nil {
		return nil, err
	}
	if err := phase("install the chart and Traefik", func() error { return d.install(ctx) }); err != nil {
		return nil, err
	}
	ip, err := d.serviceIP(ctx, "fusionauth", "fusionauth")
	if err != nil {
		return nil, err
	}
	d.Transport = d.Cluster.Transport(map[string]string{
		"localhost:80":              net.JoinHostPort(cluster.NodeIP, "30080"),
		"fusionauth.localhost:9011": net.JoinHostPort(ip, "9011"),
	})
	if err := phase("routes programmed in Traefik", func() error { return d.waitRoutes(ctx) }); err != nil {
		return nil, err
	}
	return d, nil
}

// waitRoutes waits until Traefik routes every path of the chart: it reloads its configuration
// a moment after the Services' endpoints appear, so the rollout's end is not yet the routes'.
func (d *Deployment) waitRoutes(ctx context.Context) error {
	hc := &http.Client{Transport: d.Transport, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	want := map[string]int{"/products": http.StatusOK, "/branches/1/products": http.StatusUnauthorized, "/oauth2/start": http.StatusFound, "/": http.StatusOK}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var last error
		for path, code := range want {
			req, err := http.NewRequestWithContext(wctx, http.MethodGet, PublicURL+path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				last = err
				break
			}
			resp.Body.Close()
			if resp.StatusCode != code {
				last = fmt.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%w (last: %w)\n%s", wctx.Err(), last, d.Cluster.Diagnose(context.Background()))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close stops the cluster and removes the build folder.
func (d *Deployment) Close() error {
	if d.Attached() {
		return nil
	}
	var errs []error
	if d.Cluster != nil {
		errs = append(errs, d.Cluster.Close())
	}
	errs = append(errs, os.RemoveAll(d.work))
	return errors.Join(errs...)
}

func (d *Deployment) serviceIP(ctx context.Context, ns, name string) (string, error) {
	s, err := d.Cluster.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return s.Spec.ClusterIP, nil
}

// clusterSets are the hack/kubebin/build.sh sets the cluster runs (Kubernetes, CoreDNS and
// kube-router, Traefik); the script's other sets serve other suites.
var clusterSets = []string{"kube", "net", "traefik"}

// BuildTools builds (or finds in the cache) every third-party binary the cluster runs and
// returns the folders holding them.
func BuildTools(ctx context.Context, repo string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(repo, "hack/kubebin/build.sh")}, clusterSets...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/kubebin/build.sh %s: %w\n%s", strings.Join(clusterSets, " "), err, tail(stderr.String(), 4000))
	}
	// "SET FOLDER" lines.
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			dirs = append(dirs, f[1])
		}
	}
	if len(dirs) != len(clusterSets) {
		return nil, fmt.Errorf("hack/kubebin/build.sh %s: want %d SET FOLDER lines, got %q", strings.Join(clusterSets, " "), len(clusterSets), out.String())
	}
	return dirs, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// appVersion reads the chart's appVersion: the images are tagged with it, so the chart's
// default image references need no override.
func appVersion(repo string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repo, appVersionFile))
	if err != nil {
		return "", err
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil || c.AppVersion == "" {
		return "", fmt.Errorf("%s: no appVersion (%v)", appVersionFile, err)
	}
	return c.AppVersion, nil
}

// buildImages builds the static binaries and packs every image the cluster runs.
func (d *Deployment) buildImages(ctx context.Context, tools []string) ([]string, error) {
	repo := d.Opts.Repo
	bin := filepath.Join(d.work, "bin")
	if err := gobuild.Build(ctx, gobuild.Options{Dir: repo, Out: bin, Static: true}, "./authproxy", "./services/catalog", "./services/inventory", "./hack/devidp/cmd/devidp"); err != nil {
		return nil, err
	}
	if err := gobuild.Build(ctx, gobuild.Options{Dir: filepath.Join(repo, "hack/cluster"), Out: bin, Static: true}, "./cmd/pause", "./cmd/probe"); err != nil {
		return nil, err
	}
	version, err := appVersion(repo)
	if err != nil {
		return nil, err
	}
	find := func(name string) string {
		for _, dir := range tools {
			if p := filepath.Join(dir, name); fileExists(p) {
				return p
			}
		}
		return filepath.Join(tools[0], name)
	}
	specs := map[string]image.Spec{
		"authproxy": image.Binary("ghcr.io/gatewarden/authproxy:"+version, filepath.Join(bin, "authproxy"), "/authproxy"),
		"catalog":   image.Binary("ghcr.io/gatewarden/catalog:"+version, filepath.Join(bin, "catalog"), "/catalog"),
		"inventory": image.Binary("ghcr.io/gatewarden/inventory:"+version, filepath.Join(bin, "inventory"), "/inventory"),
		"devidp":    image.Binary("gatewarden.local/devidp:dev", filepath.Join(bin, "devidp"), "/devidp"),
		"pause":     image.Binary("gatewarden.local/pause:dev", filepath.Join(bin, "pause"), "/pause"),
		"probe":     image.Binary(probeImage, filepath.Join(bin, "probe"), "/probe"),
		"coredns":   image.Binary("gatewarden.local/coredns:v1.15.0", find("coredns"), "/coredns"),
		"traefik":   image.Binary("gatewarden.local/traefik:v3.6.12", find("traefik"), "/traefik"),
	}
	redis, err := redisImage(ctx)
	if err != nil {
		return nil, err
	}
	specs["redis"] = redis
	postgres, err := postgresImage(ctx, d.work)
	if err != nil {
		return nil, err
	}
	specs["postgresql"] = postgres
	var tars []string
	for role, spec := range specs {
		p := filepath.Join(d.work, "images", role+".tar")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := image.Build(spec, p); err != nil {
			return nil, err
		}
		d.images[role] = spec.Ref
		tars = append(tars, p)
	}
	return tars, nil
}

// redisImage packs Debian's redis-server and redis-cli with their shared libraries, plus a
// static busybox for the chart's `sh -c` command and readiness probe: the official image
// cannot be pulled here.
func redisImage(ctx context.Context) (image.Spec, error) {
	var files []image.File
	for _, p := range []string{"redis-server", "redis-cli"} {
		path, err := exec.LookPath(p)
		if err != nil {
			return image.Spec{}, fmt.Errorf("%s is not installed (apt-get install redis-server): %w", p, err)
		}
		files = append(files, image.File{Src: path, Path: "/usr/local/bin/" + p, Mode: 0o755})
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return image.Spec{}, fmt.Errorf("busybox is not installed (apt-get install busybox-static): %w", err)
	}
	for _, app := range []string{"sh", "grep"} {
		files = append(files, image.File{Src: bb, Path: "/bin/" + app, Mode: 0o755})
	}
	files = append(files, image.File{Path: "/data", Mode: 0o777 | os.ModeDir}, image.File{Path: "/tmp", Mode: 0o777 | os.ModeDir | os.ModeSticky})
	spec, err := image.WithSharedLibs(ctx, image.Spec{
		Ref: "gatewarden.local/redis:debian", Files: files,
		Entrypoint: []string{"/usr/local/bin/redis-server"}, User: "999:999",
		Env: []string{"PATH=/usr/local/bin:/bin"}, WorkingDir: "/data",
	})
	if err != nil {
		return image.Spec{}, err
	}
	return spec, nil
}

// postgresBin and postgresShare are where Debian's postgresql-15 keeps its programs, its
// loadable modules (postgresBin/../lib) and the files initdb and postgres read (postgresShare).
// PostgreSQL finds the latter two relative to its own binary, so they keep their host paths.
const (
	postgresBin   = "/usr/lib/postgresql/15/bin"
	postgresShare = "/usr/share/postgresql/15"
)

// postgresImage packs Debian's PostgreSQL 15 (postgres, initdb, pg_isready with their shared
// libraries, the loadable modules initdb loads, the share folder), UTC time zone data, a passwd
// entry for uid 999 (initdb refuses to run as a user without a name) and a static busybox for
// the chart's start script (sh, sed, grep, rm, mv, cat; initdb runs postgres through /bin/sh):
// the official image cannot be pulled here. work holds the passwd file.
func postgresImage(ctx context.Context, work string) (image.Spec, error) {
	var files []image.File
	for _, p := range []string{"postgres", "initdb", "pg_isready"} {
		path := filepath.Join(postgresBin, p)
		if !fileExists(path) {
			return image.Spec{}, fmt.Errorf("%s is not installed (apt-get install postgresql)", path)
		}
		files = append(files, image.File{Src: path, Path: path, Mode: 0o755})
	}
	for _, dir := range []string{filepath.Join(postgresBin, "../lib"), postgresShare} {
		dir = filepath.Clean(dir)
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			files = append(files, image.File{Src: p, Path: p})
			return nil
		})
		if err != nil {
			return image.Spec{}, fmt.Errorf("postgresql image: %w", err)
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return image.Spec{}, fmt.Errorf("busybox is not installed (apt-get install busybox-static): %w", err)
	}
	for _, app := range []string{"sh", "sed", "grep", "rm", "mv", "cat"} {
		files = append(files, image.File{Src: bb, Path: "/bin/" + app, Mode: 0o755})
	}
	passwd := filepath.Join(work, "postgres-passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n"), 0o644); err != nil {
		return image.Spec{}, err
	}
	files = append(files,
		image.File{Src: passwd, Path: "/etc/passwd", Mode: 0o644},
		image.File{Src: "/usr/share/zoneinfo/Etc/UTC", Path: "/usr/share/zoneinfo/Etc/UTC", Mode: 0o644},
		image.File{Src: "/usr/share/zoneinfo/Etc/UTC", Path: "/usr/share/zoneinfo/UTC", Mode: 0o644},
		image.File{Path: "/var/lib/postgresql/data", Mode: 0o777 | os.ModeDir},
		image.File{Path: "/var/run/postgresql", Mode: 0o777 | os.ModeDir},
		image.File{Path: "/tmp", Mode: 0o777 | os.ModeDir | os.ModeSticky})
	return image.WithSharedLibs(ctx, image.Spec{
		Ref: "gatewarden.local/postgres:15-debian", Files: files,
		Entrypoint: []string{filepath.Join(postgresBin, "postgres")}, User: "999:999",
		Env: []string{"PATH=" + postgresBin + ":/bin", "TZ=UTC"}, WorkingDir: "/var/lib/postgresql",
	})
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// NewSigningKey returns a new ES256 signing key in PKCS#8 PEM, as the README's openssl line
// makes one.
func NewSigningKey() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// AttachOptions describe a gatewarden installation someone else made (hack/e2e-kind.sh on kind):
// the chart released as Release in Namespace, the gateway at GatewayAddr for PublicURL and the
// IdP at IdPAddr for Issuer (kind publishes port 80; the script port-forwards FusionAuth).
type AttachOptions struct {
	Repo       string
	Kubeconfig string
	// Ingress is the chart's ingress.mode there (traefik or gatewayAPI).
	Ingress     string
	GatewayAddr string // default 127.0.0.1:80
	IdPAddr     string // default 127.0.0.1:9011
}

// Attach returns a Deployment for an installation on a cluster this package did not start. The
// tests that need the cluster's insides (upgrades, the nodes' network) skip on it.
func Attach(o AttachOptions) (*Deployment, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("deploy: attach: %w", err)
	}
	c, err := cluster.Attach(cfg)
	if err != nil {
		return nil, err
	}
	if o.GatewayAddr == "" {
		o.GatewayAddr = "127.0.0.1:80"
	}
	if o.IdPAddr == "" {
		o.IdPAddr = "127.0.0.1:9011"
	}
	d := &Deployment{Cluster: c, Opts: Options{Repo: o.Repo, Mode: ModeDeployment}, Ingress: o.Ingress, log: slog.New(slog.DiscardHandler)}
	d.Transport = c.Transport(map[string]string{"localhost:80": o.GatewayAddr, "fusionauth.localhost:9011": o.IdPAddr})
	return d, nil
}

// ProbeImage writes the image of the probe program the NetworkPolicy tests run in pods
// (gatewarden.local/probe:dev) to tarPath, for `kind load image-archive`.
func ProbeImage(ctx context.Context, repo, tarPath string) error {
	dir, err := os.MkdirTemp("", "gatewarden-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := gobuild.Build(ctx, gobuild.Options{Dir: filepath.Join(repo, "hack/cluster"), Out: dir, Static: true}, "./cmd/probe"); err != nil {
		return err
	}
	return image.Build(image.Binary(probeImage, filepath.Join(dir, "probe"), "/probe"), tarPath)
}
