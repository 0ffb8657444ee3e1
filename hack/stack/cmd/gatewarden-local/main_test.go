package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestRunRejectsBadInput(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	busy := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	bin := t.TempDir() // no binaries needed: the port check comes before anything starts
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "port in use", args: []string{"-bin-dir", bin, "-gateway-port", busy, "-authproxy-port", "0", "-catalog-port", "0", "-inventory-port", "0", "-devidp-port", "0"},
			want: []string{"gateway port " + busy, "127.0.0.1:" + busy, "already in use", "-<part>-port"}},
		{name: "unknown proxy", args: []string{"-bin-dir", bin, "-proxy", "traefik"}, want: []string{`unknown proxy "traefik"`}},
		{name: "bad redis mode", args: []string{"-redis", "cluster"}, want: []string{`-redis: "cluster"`}},
		{name: "stray argument", args: []string{"now"}, want: []string{"unexpected arguments: now"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if err == nil {
				t.Fatalf("want an error; stdout:\n%s", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
