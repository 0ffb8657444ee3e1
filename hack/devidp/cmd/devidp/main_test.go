package main

import (
	"io"
	"strings"
	"testing"
)

func TestDefaultIssuer(t *testing.T) {
	t.Parallel()
	tests := []struct{ listen, want string }{
		{listen: "127.0.0.1:9011", want: "http://127.0.0.1:9011"},
		{listen: ":9011", want: "http://localhost:9011"},
		{listen: "0.0.0.0:9011", want: "http://localhost:9011"},
		{listen: "[::]:9011", want: "http://localhost:9011"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			t.Parallel()
			if got := defaultIssuer(tt.listen); got != tt.want {
				t.Fatalf("defaultIssuer(%q) = %q, want %q", tt.listen, got, tt.want)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "not defined"},
		{name: "bad redirect URI", args: []string{"--redirect-uris", "ftp://x/cb"}, wantErr: "scheme must be http or https"},
		{name: "missing users file", args: []string{"--users", "/nonexistent/users.yaml"}, wantErr: "users"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "log-level"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	got := splitList(" a, ,b ,")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("splitList = %q", got)
	}
}
