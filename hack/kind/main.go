// Command kind creates and deletes gatewarden's development cluster through kind's Go API
// (sigs.k8s.io/kind/pkg/cluster), so the only host requirement is a container engine (Docker,
// Podman or nerdctl); no kind binary is needed.
//
//	go -C hack/kind run . create            # cluster "gatewarden" from k8s/kind/cluster.yaml
//	go -C hack/kind run . delete
//	go -C hack/kind run . kind load docker-image gatewarden/authproxy:dev --name gatewarden
//
// create is idempotent: an existing cluster of the same name is left alone. The "kind"
// subcommand runs kind's own command line (sigs.k8s.io/kind/cmd/kind/app) for everything else.
//
// It is its own module so that kind's dependencies stay out of the main module.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	kindapp "sigs.k8s.io/kind/cmd/kind/app"
	"sigs.k8s.io/kind/pkg/cluster"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"
)

// defaultName is the cluster name; the kubeconfig context is "kind-" + name, which the
// Tiltfile allows.
const defaultName = "gatewarden"

// configRel is the cluster config, relative to the repository root.
const configRel = "k8s/kind/cluster.yaml"

const usage = `usage: kind <command> [flags]

commands:
  create   create the cluster (no-op when it exists)
           flags: --name, --config, --image, --wait, --kubeconfig
  delete   delete the cluster
           flags: --name, --kubeconfig
  kind     run kind's own command line, e.g. "kind load docker-image IMAGE --name gatewarden"
`

// options is what create and delete act on.
type options struct {
	command    string
	name       string
	config     string
	image      string
	wait       time.Duration
	kubeconfig string
	kindArgs   []string
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "kind:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	opts, err := parse(args, wd, stderr)
	if err != nil {
		return err
	}
	logger := kindcmd.NewLogger()
	if opts.command == "kind" {
		return kindapp.Run(logger, kindcmd.IOStreams{In: os.Stdin, Out: stdout, ErrOut: stderr}, opts.kindArgs)
	}
	runtime, err := cluster.DetectNodeProvider()
	if err != nil {
		return fmt.Errorf("no container engine found (kind needs Docker, Podman or nerdctl): %w", err)
	}
	provider := cluster.NewProvider(runtime, cluster.ProviderWithLogger(logger))
	switch opts.command {
	case "create":
		existing, err := provider.List()
		if err != nil {
			return fmt.Errorf("list clusters: %w", err)
		}
		if slices.Contains(existing, opts.name) {
			fmt.Fprintf(stdout, "cluster %q exists; kubectl context kind-%s\n", opts.name, opts.name)
			return nil
		}
		createOpts := []cluster.CreateOption{
			cluster.CreateWithConfigFile(opts.config),
			cluster.CreateWithWaitForReady(opts.wait),
			cluster.CreateWithKubeconfigPath(opts.kubeconfig),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		}
		if opts.image != "" {
			createOpts = append(createOpts, cluster.CreateWithNodeImage(opts.image))
		}
		if err := provider.Create(opts.name, createOpts...); err != nil {
			return fmt.Errorf("create cluster %q: %w", opts.name, err)
		}
		fmt.Fprintf(stdout, "cluster %q created; kubectl context kind-%s\n", opts.name, opts.name)
	case "delete":
		if err := provider.Delete(opts.name, opts.kubeconfig); err != nil {
			return fmt.Errorf("delete cluster %q: %w", opts.name, err)
		}
		fmt.Fprintf(stdout, "cluster %q deleted\n", opts.name)
	}
	return nil
}

// parse reads the command and its flags. wd is where the search for the repository's cluster
// config starts.
func parse(args []string, wd string, stderr io.Writer) (options, error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return options{}, errors.New("missing command")
	}
	opts := options{command: args[0], name: defaultName, wait: 3 * time.Minute}
	switch opts.command {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, usage)
		return options{}, flag.ErrHelp
	case "kind":
		opts.kindArgs = args[1:]
		return opts, nil
	case "create", "delete":
	default:
		fmt.Fprint(stderr, usage)
		return options{}, fmt.Errorf("unknown command %q", opts.command)
	}
	fs := flag.NewFlagSet(opts.command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.name, "name", opts.name, "cluster name (kubectl context kind-<name>)")
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig file to update (default: $KUBECONFIG or ~/.kube/config)")
	if opts.command == "create" {
		fs.StringVar(&opts.config, "config", "", "cluster config (default: "+configRel+" of the repository)")
		fs.StringVar(&opts.image, "image", "", "node image (default: kind's default for its version)")
		fs.DurationVar(&opts.wait, "wait", opts.wait, "how long to wait for the control plane to be ready")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("%s: unexpected arguments %q", opts.command, fs.Args())
	}
	if opts.command == "create" && opts.config == "" {
		path, err := findUp(wd, configRel)
		if err != nil {
			return options{}, err
		}
		opts.config = path
	}
	return opts, nil
}

// findUp looks for rel in dir and its parents, so the program works from the repository root
// and from hack/kind alike.
func findUp(dir, rel string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s not found in %s or its parents; pass --config", rel, dir)
		}
	}
}
