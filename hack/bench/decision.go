package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// decisionAnswer is authproxy's allow for the cached-session request, as
// the bare-decision row replays it: the same header names with values of
// the same lengths (the values themselves, captured once at start), and a
// fresh X-Request-Id per request where authproxy sends one. It makes the
// bare-decision row the ceiling a net/http server reaches for a decision's
// bytes.
type decisionAnswer struct {
	status    int
	header    http.Header // Date and Content-Length left to net/http, as for authproxy
	requestID bool        // write a 32-hex-character X-Request-Id per request
}

// captureAnswer sends req once and keeps the answer's status and headers.
func captureAnswer(ctx context.Context, req *http.Request) (decisionAnswer, error) {
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return decisionAnswer{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decisionAnswer{}, fmt.Errorf("authproxy's allow: status %d, want 200", resp.StatusCode)
	}
	a := decisionAnswer{status: resp.StatusCode, header: resp.Header.Clone()}
	for _, k := range []string{"Date", "Content-Length"} {
		a.header.Del(k)
	}
	if a.header.Get("X-Request-Id") != "" {
		a.requestID = true
		a.header.Del("X-Request-Id")
	}
	return a, nil
}

// ServeHTTP writes the captured answer: the captured header slices are
// shared read-only between requests, the request id is new.
func (a decisionAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	maps.Copy(h, a.header)
	if a.requestID {
		id := r.Header.Get("X-Request-Id")
		if len(id) != 32 {
			var b [16]byte
			_, _ = rand.Read(b[:]) // as authproxy's httpkit.NewRequestID
			id = hex.EncodeToString(b[:])
		}
		h["X-Request-Id"] = []string{id}
	}
	w.WriteHeader(a.status)
}

// describe lists the answer's header names with their value lengths.
func (a decisionAnswer) describe() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.header)) {
		parts = append(parts, fmt.Sprintf("%s (%d B)", k, len(strings.Join(a.header[k], ", "))))
	}
	if a.requestID {
		parts = append(parts, "X-Request-Id (32 hex, new per request)")
	}
	return strings.Join(parts, ", ")
}
