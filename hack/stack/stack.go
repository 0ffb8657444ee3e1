package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// Proxy names a front proxy.
type Proxy string

const (
	// ProxyCaddyEmbedded is Caddy running inside this process (caddy.Load); always available.
	ProxyCaddyEmbedded Proxy = "caddy-embedded"
	// ProxyNginx is nginx (auth_request), run as a child with a generated configuration.
	ProxyNginx Proxy = "nginx"
	// ProxyCaddyBinary is a caddy binary (Debian's /usr/bin/caddy), run as a child.
	ProxyCaddyBinary Proxy = "caddy"
)

// Proxies lists every front proxy Start can run.
func Proxies() []Proxy { return []Proxy{ProxyCaddyEmbedded, ProxyNginx, ProxyCaddyBinary} }

// Dev IdP application (the same values as the FusionAuth kickstart, k8s/fusionauth/kickstart.json).
const (
	ClientID     = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	ClientSecret = "dev-client-secret"
	// DevIDPAPIKey opens the dev IdP's admin API (the Authorization header of
	// DELETE /api/jwt/refresh?userId= and DELETE /api/user/<id>), whose
	// actions send FusionAuth's webhook to the first authproxy.
	DevIDPAPIKey = "dev-api-key"
)

// User is a dev IdP account.
type User struct {
	Email, Password, Name string
	Roles                 []string
	Branches              []string
}

// DevUsers are the dev IdP's default accounts (devidp.DefaultUsers).
func DevUsers() []User {
	var users []User
	for _, u := range devidp.DefaultUsers() {
		su := User{Email: u.Email, Password: u.Password, Name: u.Name}
		if u.Registration != nil {
			su.Roles, su.Branches = u.Registration.Roles, u.Registration.Data.Branches
		}
		users = append(users, su)
	}
	return users
}

// Options configure Start. The zero value runs the embedded Caddy on free ports, building the
// binaries into a temporary directory.
type Options struct {
	// Proxy is the front proxy; "" = ProxyCaddyEmbedded.
	Proxy Proxy
	// Ports of every part; 0 = a free port.
	Ports Ports
	// Redis chooses redis-server, a Sentinel deployment or the embedded miniredis; "" =
	// redis-server when on PATH.
	Redis RedisMode
	// RepoRoot is the main module's directory; "" = found above the working directory.
	RepoRoot string
	// Binaries are prebuilt programs (see Build); zero = Build into WorkDir.
	Binaries Binaries
	// WorkDir holds configuration, secrets and logs; "" = a temporary directory removed by Close.
	WorkDir string
	// RulesFile is authproxy's route rules; "" = <RepoRoot>/authproxy/rules.example.yaml.
	RulesFile string
	// Record puts a Recorder in front of catalog and inventory (the gateway sends through it).
	Record bool
	// Output receives every part's log lines, prefixed with the part's name; nil discards them.
	Output io.Writer
	// LogLevel of the Go programs (debug, info, warn, error); "" = info.
	LogLevel string
	// NginxPath and CaddyPath locate the proxy binaries; "" = PATH, then /usr/sbin/nginx and
	// /usr/bin/caddy.
	NginxPath, CaddyPath string
	// ReadyTimeout bounds the wait for each part to become ready; 0 = 60s.
	ReadyTimeout time.Duration
	// CatalogDatabase and InventoryDatabase are the services' --database URLs; "" = their
	// embedded in-memory default.
	CatalogDatabase, InventoryDatabase string
	// AuthProxyReplicas is the number of authproxy processes behind the gateway; 0 = 1. With
	// more than one, they share a generated signing key (instead of dev mode's in-memory key)
	// and the gateway spreads forward-auth calls over them, skipping one that is down.
	AuthProxyReplicas int
	// GatewayTimeouts are the front proxy's client limits; zero fields take the defaults.
	GatewayTimeouts GatewayTimeouts
	// Intercept, when set, is called once per Link with the address the link leads to and
	// returns the address its clients should use instead (a fault proxy in front of it).
	Intercept func(link Link, target string) (string, error)
	// AuthProxyArgs and DevIDPArgs are extra flags for those programs (e.g. --refresh-window,
	// --access-token-ttl).
	AuthProxyArgs, DevIDPArgs []string
}

// Link names a connection between parts that Options.Intercept may route through a proxy.
type Link string

const (
	// LinkAuthProxyRedis is authproxy's connection to Redis.
	LinkAuthProxyRedis Link = "authproxy->redis"
	// LinkIdP is every client's way to the dev IdP (authproxy, the services, browsers): the
	// IdP's issuer URL names the intercepted address.
	LinkIdP Link = "*->devidp"
	// LinkServicesJWKS is catalog's and inventory's way to authproxy's JWKS.
	LinkServicesJWKS Link = "services->authproxy-jwks"
)

// Stack is a running system. Close stops it.
type Stack struct {
	Proxy Proxy
	Ports Ports
	// GatewayURL is the front proxy (what users and tests talk to); it is authproxy's public URL
	// and the gateway tokens' issuer.
	GatewayURL string
	// Direct addresses of each part (tests use them to bypass the gateway). DevIDPURL is the
	// IdP's issuer URL (the intercepted address under Options.Intercept).
	AuthProxyURL, CatalogURL, InventoryURL, DevIDPURL string
	// AuthProxyURLs lists every replica; AuthProxyURL is the first.
	AuthProxyURLs []string
	RedisAddr     string
	// RedisKind is "redis-server", "redis-sentinel" or "miniredis".
	RedisKind string
	// CatalogRecorder and InventoryRecorder see what reached each service (Options.Record).
	CatalogRecorder, InventoryRecorder *Recorder
	// WorkDir holds the generated configuration (Caddyfile, nginx.conf, secrets).
	WorkDir string

	removeWorkDir bool
	closeOnce     sync.Once
	closeErr      error
	mu            sync.Mutex        // guards procs (Kill and Restart replace entries)
	procs         []*process        // started order: devidp, authproxy..., catalog, inventory, proxy
	ready         map[string]string // part name -> URL that answers when it is ready
	readyTimeout  time.Duration
	redis         *redisInstance
	caddy         *embedded
	recorders     []*Recorder
}

// shutdownGrace is how long a child has to exit after SIGTERM before it is killed.
const shutdownGrace = 10 * time.Second

// Start runs the whole system and returns once every part answers (or the first error, after
// stopping what had started). ctx bounds the start only; the parts run until Close.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Proxy == "" {
		opts.Proxy = ProxyCaddyEmbedded
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.Output != nil {
		opts.Output = &syncWriter{w: opts.Output} // every part writes from its own goroutine
	}
	proxyPath, err := proxyBinary(opts)
	if err != nil {
		return nil, err
	}
	if opts.RepoRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
		if opts.RepoRoot, err = gobuild.RepoRoot(wd); err != nil {
			return nil, err
		}
	}
	if opts.RulesFile == "" {
		opts.RulesFile = filepath.Join(opts.RepoRoot, "authproxy", "rules.example.yaml")
	}
	if !fileExists(opts.RulesFile) {
		return nil, fmt.Errorf("stack: rules file %s not found", opts.RulesFile)
	}
	ports, reserved, err := opts.Ports.resolve()
	if err != nil {
		return nil, err
	}
	// The ports stay held until every part's address is chosen (replicas, fault proxies).
	released := false
	release := func() {
		if !released {
			closeAll(reserved)
			released = true
		}
	}
	defer release()

	replicas := max(opts.AuthProxyReplicas, 1)
	s := &Stack{
		ready:        map[string]string{},
		readyTimeout: opts.ReadyTimeout,
		Proxy:        opts.Proxy,
		Ports:        ports,
		GatewayURL:   httpURL(ports.Gateway),
		AuthProxyURL: httpURL(ports.AuthProxy),
		CatalogURL:   httpURL(ports.Catalog),
		InventoryURL: httpURL(ports.Inventory),
		DevIDPURL:    httpURL(ports.DevIDP),
		RedisAddr:    addr(ports.Redis),
		WorkDir:      opts.WorkDir,
	}
	if s.WorkDir == "" {
		if s.WorkDir, err = os.MkdirTemp("", "gatewarden-stack-"); err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
		s.removeWorkDir = true
	} else if err := os.MkdirAll(s.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()

	s.AuthProxyURLs = []string{s.AuthProxyURL}
	for range replicas - 1 {
		l, err := listen(0)
		if err != nil {
			return nil, fmt.Errorf("stack: authproxy replica: find a free port: %w", err)
		}
		reserved = append(reserved, l)
		s.AuthProxyURLs = append(s.AuthProxyURLs, httpURL(l.Addr().(*net.TCPAddr).Port))
	}
	intercept := func(l Link, target string) (string, error) {
		if opts.Intercept == nil {
			return target, nil
		}
		a, err := opts.Intercept(l, target)
		if err != nil {
			return "", fmt.Errorf("stack: intercept %s: %w", l, err)
		}
		return a, nil
	}
	idpAddr, err := intercept(LinkIdP, addr(ports.DevIDP))
	if err != nil {
		return nil, err
	}
	s.DevIDPURL = "http://" + idpAddr
	redisForAuthProxy, err := intercept(LinkAuthProxyRedis, s.RedisAddr)
	if err != nil {
		return nil, err
	}
	jwksAddr, err := intercept(LinkServicesJWKS, addr(ports.AuthProxy))
	if err != nil {
		return nil, err
	}
	release()

	bins := opts.Binaries
	if bins == (Binaries{}) {
		if bins, err = Build(ctx, opts.RepoRoot, filepath.Join(s.WorkDir, "bin")); err != nil {
			return nil, err
		}
	}

	for name, p := range map[string]string{"authproxy": bins.AuthProxy, "catalog": bins.Catalog, "inventory": bins.Inventory, "devidp": bins.DevIDP} {
		if !fileExists(p) {
			return nil, fmt.Errorf("stack: %s binary %q not found (build them with stack.Build or `make build`)", name, p)
		}
	}
	secrets, err := writeSecrets(s.WorkDir)
	if err != nil {
		return nil, err
	}

	s.redis, err = startRedis(opts.Redis, ports.Redis, s.WorkDir, opts.Output)
	if err != nil {
		return nil, err
	}
	s.RedisKind = s.redis.kind
	if err := waitTCP(ctx, s.RedisAddr, opts.ReadyTimeout, s.redis.proc); err != nil {
		return nil, fmt.Errorf("stack: redis: %w", err)
	}
	redisFlags := []string{"--redis-addrs=" + redisForAuthProxy}
	if opts.Redis == RedisSentinel {
		if err := startSentinel(ctx, s.redis, s.redis.path, s.RedisAddr, s.WorkDir, opts.Output, opts.ReadyTimeout); err != nil {
			return nil, err
		}
		redisFlags = []string{"--redis-addrs=" + s.redis.sentinelAddr, "--redis-master-name=" + SentinelMaster}
	}

	run := func(name, path string, args []string, readyURL string) error {
		p, err := startProcess(name, path, args, nil, s.WorkDir, opts.Output)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		s.ready[name] = readyURL
		if err := waitHTTP(ctx, readyURL, opts.ReadyTimeout, p); err != nil {
			return fmt.Errorf("stack: %s: %w", name, err)
		}
		return nil
	}

	if err := run("devidp", bins.DevIDP, append([]string{
		"--listen=" + addr(ports.DevIDP),
		"--issuer=" + s.DevIDPURL,
		"--client-id=" + ClientID,
		"--client-secret=" + ClientSecret,
		"--redirect-uris=" + s.GatewayURL + "/oauth2/callback",
		"--logout-uris=" + s.GatewayURL + "/",
		"--webhook-url=" + s.AuthProxyURL + "/webhooks/fusionauth",
		"--api-key=" + DevIDPAPIKey,
	}, opts.DevIDPArgs...), s.DevIDPURL+"/.well-known/openid-configuration"); err != nil {
		return nil, err
	}

	for i, u := range s.AuthProxyURLs {
		args := []string{
			"--listen=" + strings.TrimPrefix(u, "http://"),
			"--public-url=" + s.GatewayURL,
			"--fusionauth-url=" + s.DevIDPURL,
			"--client-id=" + ClientID,
			"--client-secret-file=" + secrets.clientSecret,
			"--cookie-secret-file=" + secrets.cookieSecret,
			"--rules-file=" + opts.RulesFile,
			"--dev-mode",
			"--trusted-proxies=127.0.0.1/32",
			"--pass-user-headers",
			"--webhook-enabled",
			"--log-level=" + opts.LogLevel,
		}
		args = append(args, redisFlags...)
		if replicas > 1 {
			// Every replica must sign with the same key: the services know one JWKS.
			args = append(args, "--signing-key-files="+secrets.signingKey)
		}
		if err := run(authProxyName(i), bins.AuthProxy, append(args, opts.AuthProxyArgs...), u+"/readyz"); err != nil {
			return nil, err
		}
	}

	gatewayIssuer := "iss=" + s.GatewayURL + ",jwks=http://" + jwksAddr + "/.well-known/jwks.json"
	// Both services follow authproxy's revocation feed over the same link as the JWKS: a
	// token of a revoked session or user is refused within about a second, and every token
	// is refused (503) once the feed has not been read for 5 s (Redis or that link down).
	revocationFeed := "--revocation-feed=http://" + jwksAddr + "/revocations"
	if err := run("catalog", bins.Catalog, []string{
		"--listen=" + addr(ports.Catalog),
		"--issuer=" + gatewayIssuer,
		revocationFeed,
		"--log-level=" + opts.LogLevel,
		"--database=" + opts.CatalogDatabase,
	}, s.CatalogURL+"/readyz"); err != nil {
		return nil, err
	}
	// inventory also takes the dev IdP's access tokens (rules with forward: access-token).
	if err := run("inventory", bins.Inventory, []string{
		"--listen=" + addr(ports.Inventory),
		"--issuer=" + gatewayIssuer,
		"--issuer=iss=" + s.DevIDPURL + ",jwks=" + s.DevIDPURL + "/.well-known/jwks.json,aud=" + ClientID,
		revocationFeed,
		"--log-level=" + opts.LogLevel,
		"--database=" + opts.InventoryDatabase,
	}, s.InventoryURL+"/readyz"); err != nil {
		return nil, err
	}

	targets := proxyTargets{
		Gateway:   ports.Gateway,
		Catalog:   addr(ports.Catalog),
		Inventory: addr(ports.Inventory),
		Timeouts:  opts.GatewayTimeouts,
	}
	for _, u := range s.AuthProxyURLs {
		targets.AuthProxies = append(targets.AuthProxies, strings.TrimPrefix(u, "http://"))
	}
	if opts.Record {
		for _, r := range []struct {
			rec    **Recorder
			target *string
			url    string
		}{{&s.CatalogRecorder, &targets.Catalog, s.CatalogURL}, {&s.InventoryRecorder, &targets.Inventory, s.InventoryURL}} {
			rec, err := startRecorder(r.url)
			if err != nil {
				return nil, fmt.Errorf("stack: recorder: %w", err)
			}
			s.recorders = append(s.recorders, rec)
			*r.rec = rec
			*r.target = strings.TrimPrefix(rec.URL(), "http://")
		}
	}

	var proxyProc *process
	switch opts.Proxy {
	case ProxyCaddyEmbedded:
		if s.caddy, err = startEmbeddedCaddy(ctx, targets, s.WorkDir, opts.Output); err != nil {
			return nil, err
		}
	case ProxyCaddyBinary:
		dir := filepath.Join(s.WorkDir, "caddy")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("stack: caddy: %w", err)
		}
		src, err := caddyfile(targets, dir, "WARN", false)
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(s.WorkDir, "Caddyfile")
		if err := os.WriteFile(conf, src, 0o600); err != nil {
			return nil, fmt.Errorf("stack: caddy: %w", err)
		}
		env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir}
		if proxyProc, err = startProcess("caddy", proxyPath, []string{"run", "--config", conf, "--adapter", "caddyfile"}, env, dir, opts.Output); err != nil {
			return nil, err
		}
	case ProxyNginx:
		dir := filepath.Join(s.WorkDir, "nginx")
		conf, err := writeNginxConfig(targets, dir, "warn")
		if err != nil {
			return nil, err
		}
		if proxyProc, err = startProcess("nginx", proxyPath, []string{"-e", "stderr", "-p", dir, "-c", conf}, nil, dir, opts.Output); err != nil {
			return nil, err
		}
	}
	if proxyProc != nil {
		s.procs = append(s.procs, proxyProc)
		s.ready[proxyProc.name] = s.GatewayURL + "/.well-known/jwks.json"
	}
	if err := waitHTTP(ctx, s.GatewayURL+"/.well-known/jwks.json", opts.ReadyTimeout, proxyProc); err != nil {
		return nil, fmt.Errorf("stack: %s: %w", opts.Proxy, err)
	}
	return s, nil
}

// proxyBinary finds the proxy program (none for the embedded Caddy).
func proxyBinary(opts Options) (string, error) {
	var name, given, fallback string
	switch opts.Proxy {
	case ProxyCaddyEmbedded:
		return "", nil
	case ProxyNginx:
		name, given, fallback = "nginx", opts.NginxPath, "/usr/sbin/nginx"
	case ProxyCaddyBinary:
		name, given, fallback = "caddy", opts.CaddyPath, "/usr/bin/caddy"
	default:
		return "", fmt.Errorf("stack: unknown proxy %q (one of %v)", opts.Proxy, Proxies())
	}
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if fileExists(fallback) {
		return fallback, nil
	}
	return "", fmt.Errorf("stack: %s: %w", name, ErrProxyNotInstalled)
}

// ErrProxyNotInstalled is returned when the chosen proxy's binary is not on this machine.
var ErrProxyNotInstalled = errors.New("not installed")

// ProxyAvailable reports whether Start can run p on this machine.
func ProxyAvailable(p Proxy) bool {
	_, err := proxyBinary(Options{Proxy: p})
	return err == nil
}

type secretFiles struct{ clientSecret, cookieSecret, signingKey string }

// writeSecrets writes the client secret and a fresh random cookie secret (mode 0600), so no
// secret appears on a command line.
func writeSecrets(dir string) (secretFiles, error) {
	cookie := make([]byte, 32)
	if _, err := rand.Read(cookie); err != nil {
		return secretFiles{}, fmt.Errorf("stack: cookie secret: %w", err)
	}
	f := secretFiles{
		clientSecret: filepath.Join(dir, "client-secret"),
		cookieSecret: filepath.Join(dir, "cookie-secret"),
		signingKey:   filepath.Join(dir, "signing-key.pem"),
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("stack: signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return f, fmt.Errorf("stack: signing key: %w", err)
	}
	if err := os.WriteFile(f.signingKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return f, fmt.Errorf("stack: signing key: %w", err)
	}
	if err := os.WriteFile(f.clientSecret, []byte(ClientSecret), 0o600); err != nil {
		return f, fmt.Errorf("stack: client secret: %w", err)
	}
	if err := os.WriteFile(f.cookieSecret, []byte(hex.EncodeToString(cookie)), 0o600); err != nil {
		return f, fmt.Errorf("stack: cookie secret: %w", err)
	}
	return f, nil
}

// Close stops every part in reverse order (children get SIGTERM, then up to 10 s to exit) and
// removes the temporary work directory. It is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.caddy != nil {
			errs = append(errs, s.caddy.close())
		}
		s.mu.Lock()
		procs := append([]*process(nil), s.procs...)
		s.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			errs = append(errs, procs[i].stop(shutdownGrace))
		}
		for _, r := range s.recorders {
			errs = append(errs, r.close())
		}
		if s.redis != nil {
			errs = append(errs, s.redis.close())
		}
		if s.removeWorkDir {
			errs = append(errs, os.RemoveAll(s.WorkDir))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Wait blocks until ctx is done (returning nil) or a part exits on its own (returning an error
// that names it and shows its last output).
func (s *Stack) Wait(ctx context.Context) error {
	s.mu.Lock()
	procs := append([]*process(nil), s.procs...)
	s.mu.Unlock()
	if s.redis != nil && s.redis.proc != nil {
		procs = append(procs, s.redis.proc)
	}
	exited := make(chan *process, len(procs))
	for _, p := range procs {
		go func() {
			select {
			case <-p.done:
				exited <- p
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-exited:
		_, err := p.exited()
		return err
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
