// Command gatewarden-cluster runs gatewarden on a real single-node Kubernetes cluster on this
// machine, without Docker (see hack/cluster/README.md):
//
//	gatewarden-cluster up     build what is missing, start the cluster, install the chart, print
//	                          how to reach it, and run until Ctrl-C (then tear everything down)
//	gatewarden-cluster down   remove what a run that died left behind
//	gatewarden-cluster probe-image TAR
//	                          write the image of the probe program the NetworkPolicy tests run in
//	                          pods (for kind load image-archive, in hack/e2e-kind.sh)
//
// It needs root on Linux.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/cluster"
	"github.com/gatewarden/gatewarden/hack/cluster/deploy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatewarden-cluster:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatewarden-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "repository root (default: found from the working directory)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gatewarden-cluster [-repo DIR] up|down|probe-image TAR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || (fs.Arg(0) == "probe-image") != (fs.NArg() == 2) || fs.NArg() > 2 {
		fs.Usage()
		return errors.New("one command is needed: up, down, or probe-image with a file name")
	}
	root := *repo
	if root == "" {
		var err error
		if root, err = findRepo(); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch fs.Arg(0) {
	case "probe-image":
		return deploy.ProbeImage(ctx, root, fs.Arg(1))
	case "down":
		return cluster.Cleanup(ctx, cluster.Options{})
	case "up":
		start := time.Now()
		d, err := deploy.Start(ctx, deploy.Options{Repo: root, Logger: logger})
		if err != nil {
			return err
		}
		defer func() {
			if err := d.Close(); err != nil {
				fmt.Fprintln(stderr, "teardown:", err)
			}
		}()
		proxy, err := cluster.BrowserProxy(ctx, d.Transport)
		if err != nil {
			return err
		}
		gateway, err := d.Cluster.Netns.Forward(ctx, net.JoinHostPort(cluster.NodeIP, "30080"))
		if err != nil {
			return err
		}
		idp, err := d.Transport.DialContext(ctx, "tcp", "fusionauth.localhost:9011")
		if err != nil {
			return err
		}
		idpTarget := idp.RemoteAddr().String()
		idp.Close()
		idpLocal, err := d.Cluster.Netns.Forward(ctx, idpTarget)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "gatewarden is running on a single-node cluster (ready in %s).\n\n", time.Since(start).Round(time.Second))
		for _, t := range d.Timings {
			fmt.Fprintf(stdout, "  %-55s %6.1fs\n", t.Phase, t.Took.Seconds())
		}
		fmt.Fprintf(stdout, `
  kubectl:   kubectl --kubeconfig %s get pods -A
  gateway:   %s (Traefik), identity provider %s
  browser:   chromium --proxy-server=%s --proxy-bypass-list='<-loopback>' %s
  curl:      curl --proxy %s %s/products
  forwarded: gateway %s, identity provider %s (the Host header must stay localhost and
             fusionauth.localhost:9011; the cluster suite attaches with
             GATEWARDEN_CLUSTER_KUBECONFIG, GATEWARDEN_CLUSTER_GATEWAY_ADDR, GATEWARDEN_CLUSTER_IDP_ADDR)

The cluster lives in network namespace %q, which has no link out of the machine.
Ctrl-C stops it and removes everything it created.
`, d.Cluster.Kubeconfig, deploy.PublicURL, deploy.Issuer, proxy, deploy.PublicURL, proxy, deploy.PublicURL, gateway, idpLocal, d.Cluster.Netns.Name)
		<-ctx.Done()
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", fs.Arg(0))
	}
}

// findRepo walks up from the working directory to the folder holding charts/gatewarden.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "charts/gatewarden/Chart.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the gatewarden repository (use -repo)")
		}
		dir = parent
	}
}
