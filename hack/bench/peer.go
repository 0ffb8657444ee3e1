package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// oauth2ProxyVersion is the peer's pinned version (hack/oauth2proxybin's go.mod).
const (
	oauth2ProxyVersion = "v7.15.6"
	oauth2ProxyCookie  = "_oauth2_proxy"
)

// buildOAuth2Proxy returns the oauth2-proxy binary that hack/kubebin/build.sh
// oauth2proxy builds from the Go module proxy into the cache (a cache hit
// after the first run).
func buildOAuth2Proxy(ctx context.Context) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var stderr strings.Builder
	bin, err := gobuild.Cached(ctx, root, "oauth2proxy", "oauth2-proxy", &stderr)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return bin, nil
}

func repoRoot() (string, error) {
	root, err := gobuild.RepoRoot(".")
	if err != nil {
		return "", fmt.Errorf("%w: run from the repository", err)
	}
	return root, nil
}

// startOAuth2Proxy runs oauth2-proxy as its docs configure it for nginx
// auth_request and Traefik forwardAuth: OIDC provider (the dev IdP, PKCE
// S256), Redis session store, X-Auth-Request headers, no upstream (202 from
// /oauth2/auth), reverse-proxy mode, default logging.
func startOAuth2Proxy(ctx context.Context, bin, publicURL string, port int, idpURL, redisAddr string) (*child, error) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	c, err := startChild(ctx, bin, nil,
		"--http-address", "127.0.0.1:"+strconv.Itoa(port),
		"--provider", "oidc",
		"--oidc-issuer-url", idpURL,
		"--client-id", devidp.DefaultClientID,
		"--client-secret", devidp.DefaultClientSecret,
		"--code-challenge-method", "S256",
		"--redirect-url", publicURL+"/oauth2/callback",
		"--cookie-secret", hex.EncodeToString(secret), // 32 bytes: AES-256
		"--cookie-name", oauth2ProxyCookie,
		"--cookie-secure=false", // plain http on loopback
		"--email-domain", "*",
		"--upstream", "static://202",
		"--reverse-proxy",
		"--set-xauthrequest",
		"--skip-provider-button",
		"--session-store-type", "redis",
		"--redis-connection-url", "redis://"+redisAddr,
	)
	if err != nil {
		return nil, err
	}
	c.url = publicURL
	if err := testkit.Poll(ctx, publicURL+"/ready", 15*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		return testkit.HTTPOK(ctx, nil, publicURL+"/ready")
	}); err != nil {
		c.stop()
		return nil, fmt.Errorf("oauth2-proxy not ready: %w\n%s", err, c.output())
	}
	return c, nil
}
