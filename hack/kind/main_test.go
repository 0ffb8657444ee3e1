package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func repoConfig(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := findUp(wd, configRel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	config := repoConfig(t)
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr bool
		help    bool
	}{
		{name: "create defaults", args: []string{"create"}, want: options{command: "create", name: "gatewarden", config: config, wait: 3 * time.Minute}},
		{name: "create flags", args: []string{"create", "--name=x", "--config=c.yaml", "--image=kindest/node:v1", "--wait=10s", "--kubeconfig=k"},
			want: options{command: "create", name: "x", config: "c.yaml", image: "kindest/node:v1", wait: 10 * time.Second, kubeconfig: "k"}},
		{name: "delete", args: []string{"delete", "--name=y"}, want: options{command: "delete", name: "y", wait: 3 * time.Minute}},
		{name: "delete has no --config", args: []string{"delete", "--config=c.yaml"}, wantErr: true},
		{name: "kind passthrough", args: []string{"kind", "load", "docker-image", "img", "--name", "gatewarden"},
			want: options{command: "kind", name: "gatewarden", wait: 3 * time.Minute, kindArgs: []string{"load", "docker-image", "img", "--name", "gatewarden"}}},
		{name: "no command", args: nil, wantErr: true},
		{name: "unknown command", args: []string{"explode"}, wantErr: true},
		{name: "stray argument", args: []string{"create", "extra"}, wantErr: true},
		{name: "help", args: []string{"-h"}, wantErr: true, help: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(tt.args, wd, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.help != errors.Is(err, flag.ErrHelp) {
				t.Errorf("parse(%q) error = %v, want help %v", tt.args, err, tt.help)
			}
			if err != nil {
				return
			}
			if got.command != tt.want.command || got.name != tt.want.name || got.config != tt.want.config ||
				got.image != tt.want.image || got.wait != tt.want.wait || got.kubeconfig != tt.want.kubeconfig ||
				!slices.Equal(got.kindArgs, tt.want.kindArgs) {
				t.Errorf("parse(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestFindUpFailsOutsideTheRepository(t *testing.T) {
	t.Parallel()
	if _, err := findUp(t.TempDir(), configRel); err == nil {
		t.Fatal("findUp found a cluster config in an empty temporary directory")
	}
}

// The cluster config must be a valid kind v1alpha4 Cluster (unknown fields rejected) that
// publishes the ingress NodePorts on the host's 80 and 443, on loopback only.
func TestClusterConfig(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(repoConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("%s: %v", configRel, err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("kind/apiVersion = %s/%s", c.Kind, c.APIVersion)
	}
	if c.Name != defaultName {
		t.Errorf("name = %q, want %q (the Tiltfile allows context kind-%s)", c.Name, defaultName, defaultName)
	}
	if c.Networking.DisableDefaultCNI {
		t.Error("the default CNI (kindnet) enforces NetworkPolicies; keep it")
	}
	want := map[int32]int32{80: 30080, 443: 30443}
	got := map[int32]int32{}
	for _, n := range c.Nodes {
		for _, m := range n.ExtraPortMappings {
			got[m.HostPort] = m.ContainerPort
			if m.ListenAddress != "127.0.0.1" {
				t.Errorf("host port %d listens on %q, want 127.0.0.1", m.HostPort, m.ListenAddress)
			}
		}
	}
	for host, node := range want {
		if got[host] != node {
			t.Errorf("host port %d maps to node port %d, want %d", host, got[host], node)
		}
	}
}
