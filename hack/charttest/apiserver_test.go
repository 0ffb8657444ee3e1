package charttest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// controlPlane is an etcd and a kube-apiserver running on 127.0.0.1 for one test.
type controlPlane struct {
	URL        string
	Token      string
	CAPEM      []byte
	Kubeconfig string // path of a kubeconfig for the admin token
	Dir        string
}

func (cp *controlPlane) restConfig() *rest.Config {
	return &rest.Config{
		Host:            cp.URL,
		BearerToken:     cp.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.CAPEM},
		QPS:             100,
		Burst:           200,
	}
}

// kubeBinDir returns the folder with etcd and kube-apiserver: $CHARTTEST_KUBEBIN, or the cache
// folder hack/kubebin/build.sh prints (building the binaries when the cache is cold). Without
// network and outside CI (env CI unset) the test is skipped.
func kubeBinDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CHARTTEST_KUBEBIN"); d != "" {
		return d
	}
	start := time.Now()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", "../kubebin/build.sh")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := stderr.String()
		if os.Getenv("CI") == "" && isNetworkError(msg) {
			t.Skipf("building etcd and kube-apiserver needs the Go module proxy, which is unreachable (set CI=1 to fail instead): %v\n%s", err, tail(msg, 2000))
		}
		t.Fatalf("hack/kubebin/build.sh: %v\n%s", err, tail(msg, 4000))
	}
	dir := strings.TrimSpace(stdout.String())
	t.Logf("kube binaries in %s (%.1fs)", dir, time.Since(start).Seconds())
	return dir
}

func isNetworkError(s string) bool {
	for _, m := range []string{"dial tcp", "no such host", "i/o timeout", "connection refused", "network is unreachable", "TLS handshake timeout", "proxy.golang.org"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCerts writes a CA, a serving certificate for 127.0.0.1 signed by it, and the service
// account signing key. It returns the CA certificate PEM.
func writeCerts(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "charttest-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER)
	writePEM(t, filepath.Join(dir, "server.crt"), "CERTIFICATE", srvDER)
	writePEM(t, filepath.Join(dir, "server.key"), "PRIVATE KEY", srvKeyDER)
	writePEM(t, filepath.Join(dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// startProcess starts a binary with its output in dir/<name>.log and stops it (SIGTERM, then
// SIGKILL after 10 s) when the test ends. The returned channel closes when the process exits.
func startProcess(t *testing.T, dir, name string, args ...string) (<-chan struct{}, string) {
	t.Helper()
	logPath := filepath.Join(dir, filepath.Base(name)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return done, logPath
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	return tail(string(b), 3000)
}

// startControlPlane starts etcd and kube-apiserver on free 127.0.0.1 ports in a temporary folder
// and waits until the apiserver is ready. Both stop when the test ends.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	bin := kubeBinDir(t)
	dir := t.TempDir()
	caPEM := writeCerts(t, dir)
	token := fmt.Sprintf("charttest-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	etcdClient, etcdPeer := testkit.FreePort(t), testkit.FreePort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcdDone, etcdLog := startProcess(t, dir, filepath.Join(bin, "etcd"),
		"--name=charttest", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=charttest="+peerURL, "--unsafe-no-fsync", "--log-level=warn")

	port := testkit.FreePort(t)
	apiDone, apiLog := startProcess(t, dir, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+filepath.Join(dir, "server.crt"),
		"--tls-private-key-file="+filepath.Join(dir, "server.key"),
		"--client-ca-file="+filepath.Join(dir, "ca.crt"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--profiling=false",
	)

	cp := &controlPlane{URL: fmt.Sprintf("https://127.0.0.1:%d", port), Token: token, CAPEM: caPEM, Dir: dir}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	start := time.Now()
	err := testkit.Poll(t.Context(), "kube-apiserver /readyz", 3*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		select {
		case <-etcdDone:
			return testkit.Abort(fmt.Errorf("etcd exited:\n%s", logTail(etcdLog)))
		case <-apiDone:
			return testkit.Abort(errors.New("kube-apiserver exited")) // its log follows
		default:
		}
		return probeReady(ctx, client, cp.URL+"/readyz", token)
	})
	if err != nil {
		t.Fatalf("%v\nkube-apiserver's log ends:\n%s", err, logTail(apiLog))
	}
	t.Logf("kube-apiserver ready at %s after %.1fs", cp.URL, time.Since(start).Seconds())
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: charttest
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: charttest
  context: {cluster: charttest, user: admin}
current-context: charttest
`, cp.URL, filepath.Join(dir, "ca.crt"), token)
	if err := os.WriteFile(cp.Kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return cp
}

func probeReady(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
