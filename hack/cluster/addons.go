package cluster

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"
)

//go:embed manifests/*.yaml
var manifestFS embed.FS

// AddonImages are the images of the cluster's add-ons (all among Options.Images).
type AddonImages struct {
	CoreDNS string
	Traefik string
	DevIDP  string
}

// IdP is how the FusionAuth stand-in is configured.
type IdP struct {
	Issuer       string // e.g. http://fusionauth.localhost:9011
	ClientID     string
	ClientSecret string
	PublicURL    string // the gateway's public URL (redirect and logout URLs)
}

// renderManifest executes one embedded manifest template.
func renderManifest(name string, data any) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").ParseFS(manifestFS, "manifests/"+name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// kubeRouterRBAC lets kube-router's user read what it enforces.
const kubeRouterRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: gatewarden-cluster-kube-router}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-router}
`

// InstallAddons installs CoreDNS, the namespaces of k8s/kind/namespaces.yaml (repo is the
// repository root) and the FusionAuth stand-in, and waits until they are ready.
func (c *Cluster) InstallAddons(ctx context.Context, repo string, images AddonImages, idp IdP) error {
	start := time.Now()
	ns, err := os.ReadFile(filepath.Join(repo, "k8s/kind/namespaces.yaml"))
	if err != nil {
		return err
	}
	dns, err := renderManifest("coredns.yaml", map[string]string{"CoreDNS": images.CoreDNS, "DNSIP": DNSIP})
	if err != nil {
		return err
	}
	fa, err := renderManifest("fusionauth-devidp.yaml", map[string]string{
		"DevIDP": images.DevIDP, "Issuer": idp.Issuer, "ClientID": idp.ClientID,
		"ClientSecret": idp.ClientSecret, "PublicURL": idp.PublicURL,
	})
	if err != nil {
		return err
	}
	for _, m := range [][]byte{ns, dns, fa} {
		if err := c.Apply(ctx, m); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := c.WaitRollout(wctx, "Deployment", "kube-system", "coredns"); err != nil {
		return err
	}
	if err := c.WaitRollout(wctx, "Deployment", "fusionauth", "fusionauth"); err != nil {
		return err
	}
	c.Timings = append(c.Timings, Timing{"add-ons (CoreDNS, FusionAuth stand-in)", time.Since(start)})
	return nil
}

// Traefik describes the ingress controller's installation.
type Traefik struct {
	Image string
	// CRDs is Traefik's CustomResourceDefinitions YAML.
	CRDs []byte
	// SidecarContainers and SidecarVolumes are YAML list items (indented for the pod spec's
	// containers and volumes lists) added to Traefik's pod: the authproxy sidecar.
	SidecarContainers, SidecarVolumes string
	// FSGroup is the pod's fsGroup ("" = none).
	FSGroup string
}

// InstallTraefik applies Traefik's CRDs and the controller and, when wait is set, waits until
// it is ready.
func (c *Cluster) InstallTraefik(ctx context.Context, t Traefik, wait bool) error {
	if err := c.Apply(ctx, t.CRDs); err != nil {
		return fmt.Errorf("traefik CRDs: %w", err)
	}
	m, err := renderManifest("traefik.yaml", map[string]string{
		"Traefik": t.Image, "SidecarContainers": t.SidecarContainers, "SidecarVolumes": t.SidecarVolumes, "FSGroup": t.FSGroup,
	})
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, m); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	return c.WaitRollout(wctx, "Deployment", "traefik", "traefik")
}
