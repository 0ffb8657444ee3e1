package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// memRevocations is an in-memory Revocations that counts full reads.
type memRevocations struct {
	mu    sync.Mutex
	revs  session.Revocations
	down  bool
	reads int
}

func (m *memRevocations) RevocationVersion(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return "", session.ErrUnavailable
	}
	return m.revs.Version, nil
}

func (m *memRevocations) Revocations(context.Context) (*session.Revocations, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, session.ErrUnavailable
	}
	m.reads++
	r := m.revs
	return &r, nil
}

func (m *memRevocations) set(r session.Revocations, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revs, m.down = r, down
}

// TestRevocationFeed: the document (the cutoff included), its ETag and 304, a rebuild only when
// the version moved, and 503 while the store is down.
func TestRevocationFeed(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	f := &revocationFeed{src: src}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.serve(w, r); err != nil {
			writeError(w, err, "")
		}
	}))
	t.Cleanup(srv.Close)
	get := func(ifNoneMatch string) (int, string, *jwtauth.RevocationFeed) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, body := send(t, req)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, resp.Header.Get("ETag"), nil
		}
		doc, err := jwtauth.ParseRevocationFeed([]byte(body))
		if err != nil {
			t.Fatalf("the feed does not parse: %v: %s", err, body)
		}
		return resp.StatusCode, resp.Header.Get("ETag"), doc
	}

	status, etag, doc := get("")
	want := &jwtauth.RevocationFeed{Version: "0", Sessions: []string{}, Subjects: []jwtauth.RevokedSubject{}}
	if status != 200 || etag != `"0"` {
		t.Fatalf("empty feed: %d, ETag %s", status, etag)
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("empty feed (-want +got):\n%s", diff)
	}

	src.set(session.Revocations{Version: "ab.1", Sessions: []string{"s2", "s1"}, Subjects: map[string]int64{"u2": 9, "u1": 7}, Cutoff: 1_700_000_000}, false)
	for _, tt := range []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{name: "changed", ifNoneMatch: `"0"`, status: 200},
		{name: "unchanged", ifNoneMatch: `"ab.1"`, status: 304},
		{name: "weak and listed", ifNoneMatch: `"x", W/"ab.1"`, status: 304},
		{name: "unconditional", status: 200},
	} {
		status, etag, doc := get(tt.ifNoneMatch)
		if status != tt.status || etag != `"ab.1"` {
			t.Errorf("%s: %d, ETag %s; want %d, \"ab.1\"", tt.name, status, etag, tt.status)
		}
		if doc != nil {
			want := &jwtauth.RevocationFeed{
				Version: "ab.1", Sessions: []string{"s1", "s2"},
				Subjects: []jwtauth.RevokedSubject{{Subject: "u1", IssuedAtMax: 7}, {Subject: "u2", IssuedAtMax: 9}},
				Cutoff:   1_700_000_000,
			}
			if diff := cmp.Diff(want, doc); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	}
	src.mu.Lock()
	reads := src.reads
	src.mu.Unlock()
	if reads != 2 {
		t.Errorf("full reads = %d, want 2 (one per version)", reads)
	}

	src.set(session.Revocations{}, true)
	if status, _, _ := get(`"ab.1"`); status != http.StatusServiceUnavailable {
		t.Errorf("store down: status %d, want 503 (a follower must not take it for unchanged)", status)
	}
}
