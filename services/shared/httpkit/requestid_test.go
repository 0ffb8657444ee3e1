package httpkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, RequestIDFrom(r.Context()))
	})))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		incoming []string // nil = header absent
		wantKeep bool
	}{
		{name: "absent", incoming: nil},
		{name: "sane kept", incoming: []string{"req-1.A_b"}, wantKeep: true},
		{name: "64 chars kept", incoming: []string{strings.Repeat("a", 64)}, wantKeep: true},
		{name: "65 chars replaced", incoming: []string{strings.Repeat("a", 65)}},
		{name: "empty replaced", incoming: []string{""}},
		{name: "space replaced", incoming: []string{"a b"}},
		{name: "log injection replaced", incoming: []string{`x","level":"ERROR`}},
		{name: "non ascii replaced", incoming: []string{"idé"}},
		{name: "slash replaced", incoming: []string{"a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/id", nil)
			for _, v := range tt.incoming {
				req.Header.Add(HeaderRequestID, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			got := resp.Header.Get(HeaderRequestID)
			if !ValidRequestID(got) {
				t.Fatalf("response id %q is not sane", got)
			}
			if body != got {
				t.Errorf("context id = %q, want %q", body, got)
			}
			if tt.wantKeep && got != tt.incoming[0] {
				t.Errorf("id = %q, want incoming %q kept", got, tt.incoming[0])
			}
			if !tt.wantKeep && tt.incoming != nil && got == tt.incoming[0] {
				t.Errorf("insane incoming id %q was kept", got)
			}
		})
	}
}

func TestNewRequestIDUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := NewRequestID()
		if !ValidRequestID(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "a b", strings.Repeat("x", 65), "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidRequestID(s) {
			return
		}
		if len(s) > 64 || strings.ContainsAny(s, " \t\r\n\"\\/:;,=") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}
