package main

import (
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bare-decision answers the captured allow's header names with values of
// the same lengths, and a new 32-hex X-Request-Id per request.
func TestDecisionAnswer(t *testing.T) {
	t.Parallel()
	allow := http.Header{
		"Cache-Control":        {"no-store"},
		"Authorization":        {"Bearer " + strings.Repeat("t", 563)},
		"X-Auth-Request-User":  {"0f5a"},
		"X-Auth-Request-Email": {"admin@example.com"},
	}
	url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		maps.Copy(w.Header(), allow)
		w.Header().Set("X-Request-Id", "00112233445566778899aabbccddeeff")
		w.WriteHeader(http.StatusOK)
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/authz", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := captureAnswer(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authz", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		got := rec.Header().Clone()
		id := got.Get("X-Request-Id")
		if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
			t.Fatalf("X-Request-Id %q, want 32 hex characters", id)
		}
		ids = append(ids, id)
		got.Del("X-Request-Id")
		if diff := cmp.Diff(allow, got); diff != "" {
			t.Fatalf("answer headers (-want +got):\n%s", diff)
		}
	}
	if ids[0] == ids[1] {
		t.Fatalf("the same X-Request-Id twice: %s", ids[0])
	}
	if d := a.describe(); !strings.Contains(d, "Authorization (570 B)") || !strings.HasSuffix(d, "X-Request-Id (32 hex, new per request)") {
		t.Fatalf("describe: %s", d)
	}
}
