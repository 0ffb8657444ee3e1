package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Helm installs or upgrades a chart release with Helm's Go SDK (what `helm upgrade --install
// --wait` does), with the admin credentials.
func (c *Cluster) Helm(ctx context.Context, chartDir, release, namespace string, values map[string]any, timeout time.Duration) (*release.Release, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("helm: load %s: %w", chartDir, err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	kc := c.Kubeconfig
	flags.KubeConfig = &kc
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", func(format string, v ...any) {
		c.log.Debug(fmt.Sprintf(format, v...), slog.String("component", "helm"))
	}); err != nil {
		return nil, fmt.Errorf("helm: init: %w", err)
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	if _, err := hist.Run(release); err != nil {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.CreateNamespace = release, namespace, true
		in.Wait, in.Timeout = true, timeout
		r, err := in.RunWithContext(ctx, ch, values)
		if err != nil {
			return nil, fmt.Errorf("helm install %s: %w", release, err)
		}
		return r, nil
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout = namespace, true, timeout
	r, err := up.RunWithContext(ctx, release, ch, values)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade %s: %w", release, err)
	}
	return r, nil
}
