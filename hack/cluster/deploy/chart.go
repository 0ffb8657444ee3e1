package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gatewarden/gatewarden/hack/cluster"
)

// ServicesJWKSRefresh is the jwksRefresh value set here; TokenTTL is the chart's default
// authproxy.tokenTTL.
const (
	ServicesJWKSRefresh = 15 * time.Second
	TokenTTL            = 60 * time.Second
)

// sidecarValues are the Traefik chart values that add authproxy to Traefik's pods.
const sidecarValues = "k8s/traefik/values-sidecar.yaml"

// withSidecar adds to t what the Traefik chart values file adds to Traefik's pod: the
// containers, volumes and fsGroup a user gives Traefik's chart, used here as they are.
func withSidecar(t cluster.Traefik, valuesFile string) (cluster.Traefik, error) {
	b, err := os.ReadFile(valuesFile)
	if err != nil {
		return t, err
	}
	var v struct {
		Deployment struct {
			AdditionalContainers []any `json:"additionalContainers"`
			AdditionalVolumes    []any `json:"additionalVolumes"`
		} `json:"deployment"`
		PodSecurityContext struct {
			FSGroup *int64 `json:"fsGroup"`
		} `json:"podSecurityContext"`
	}
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		return t, fmt.Errorf("%s: %w", valuesFile, err)
	}
	if len(v.Deployment.AdditionalContainers) == 0 {
		return t, fmt.Errorf("%s: no deployment.additionalContainers", valuesFile)
	}
	list := func(items []any) (string, error) {
		out, err := yaml.Marshal(items)
		if err != nil {
			return "", err
		}
		return indentLines(string(out), "        "), nil
	}
	if t.SidecarContainers, err = list(v.Deployment.AdditionalContainers); err != nil {
		return t, err
	}
	if t.SidecarVolumes, err = list(v.Deployment.AdditionalVolumes); err != nil {
		return t, err
	}
	if v.PodSecurityContext.FSGroup != nil {
		t.FSGroup = fmt.Sprint(*v.PodSecurityContext.FSGroup)
	}
	return t, nil
}

func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// traefikCRDs is Traefik's CRD bundle, vendored once for the chart tests and used here too.
const traefikCRDs = "hack/charttest/testdata/crds/traefik-v3_crds.yaml"

// UserValues are the chart values a user of this cluster sets: where the gateway is seen
// (publicURL), where FusionAuth is and the application's client (fusionAuth.*), a real signing
// key instead of dev mode, and the Redis and PostgreSQL images (the official ones cannot be
// pulled here, so the harness packs Debian's redis-server and PostgreSQL 15, which have what the
// chart's scripts need). PostgreSQL keeps its data on an emptyDir: this cluster has no storage
// provisioner, so a claim would stay pending, as on any cluster without a default StorageClass.
// Everything else is the chart's default: Traefik IngressRoute + ForwardAuth, NetworkPolicies
// on, two authproxy replicas, Redis and PostgreSQL in the cluster. jwksRefresh is shortened (5m
// by default) so that the key-rotation test need not wait minutes between publishing a key and
// signing with it, as an operator who rotates often would set it.
func UserValues(signingKey string) map[string]any {
	return map[string]any{
		"jwksRefresh": ServicesJWKSRefresh.String(),
		"publicURL":   PublicURL,
		"fusionAuth": map[string]any{
			"url": Issuer, "issuer": Issuer, "clientId": ClientID,
			"clientSecret": map[string]any{"value": ClientSecret},
		},
		"authproxy": map[string]any{
			"signing": map[string]any{"keys": []any{signingKey}},
		},
		"redis": map[string]any{
			"image": map[string]any{"repository": "gatewarden.local/redis", "tag": "debian"},
		},
		"postgresql": map[string]any{
			"image":       map[string]any{"repository": "gatewarden.local/postgres", "tag": "15-debian"},
			"persistence": map[string]any{"enabled": false},
		},
	}
}

// install installs Traefik and the chart and waits until both are ready.
func (d *Deployment) install(ctx context.Context) error {
	key, err := NewSigningKey()
	if err != nil {
		return err
	}
	d.SigningKeys = []string{key}
	d.Values = UserValues(key)
	if d.Opts.Mode == ModeSidecar {
		authproxy := d.Values["authproxy"].(map[string]any)
		authproxy["mode"] = "sidecar"
	}
	crds, err := os.ReadFile(filepath.Join(d.Opts.Repo, traefikCRDs))
	if err != nil {
		return err
	}
	t := cluster.Traefik{Image: d.images["traefik"], CRDs: crds}
	if d.Opts.Mode == ModeSidecar {
		if t, err = withSidecar(t, filepath.Join(d.Opts.Repo, sidecarValues)); err != nil {
			return err
		}
	}
	if err := d.Cluster.InstallTraefik(ctx, t, false); err != nil {
		return err
	}
	if err := d.Upgrade(ctx, nil); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	return d.Cluster.WaitRollout(wctx, "Deployment", "traefik", "traefik")
}

// Upgrade applies change to the values (nil: none) and runs `helm upgrade --install --wait`.
func (d *Deployment) Upgrade(ctx context.Context, change func(values map[string]any)) error {
	if change != nil {
		change(d.Values)
	}
	if _, err := d.Cluster.Helm(ctx, filepath.Join(d.Opts.Repo, "charts/gatewarden"), Release, Namespace, d.Values, 4*time.Minute); err != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return fmt.Errorf("%w\n%s", err, d.Cluster.Diagnose(dctx))
	}
	return nil
}
