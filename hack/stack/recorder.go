package stack

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Recorder is a reverse proxy in front of a service that remembers the requests that reached
// the service (method, path and headers), so tests can see what the front proxy really sent:
// the gateway token, and that no client-supplied identity header got through.
type Recorder struct {
	srv      *http.Server
	url      string
	mu       sync.Mutex
	requests []RecordedRequest
}

// RecordedRequest is one request as the service received it.
type RecordedRequest struct {
	Method string
	URI    string
	Header http.Header
}

const maxRecorded = 512

func startRecorder(target string) (*Recorder, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(target)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	rec := &Recorder{url: "http://" + l.Addr().String()}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
	}}
	rec.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.mu.Lock()
			rec.requests = append(rec.requests, RecordedRequest{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()})
			if len(rec.requests) > maxRecorded {
				rec.requests = rec.requests[len(rec.requests)-maxRecorded:]
			}
			rec.mu.Unlock()
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = rec.srv.Serve(l) }()
	return rec, nil
}

// URL is the recorder's own address (what the front proxy sends to).
func (r *Recorder) URL() string { return r.url }

// Requests returns a copy of the recorded requests, oldest first.
func (r *Recorder) Requests() []RecordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecordedRequest, len(r.requests))
	copy(out, r.requests)
	return out
}

// Find returns the most recent request whose URI carries marker (tests put a unique query
// parameter on each request), or false.
func (r *Recorder) Find(marker string) (RecordedRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.requests) - 1; i >= 0; i-- {
		if strings.Contains(r.requests[i].URI, marker) {
			return r.requests[i], true
		}
	}
	return RecordedRequest{}, false
}

func (r *Recorder) close() error { return r.srv.Close() }

// Seen returns the headers of the newest request whose query contains marker (hack/e2e's
// Recorder).
func (r *Recorder) Seen(marker string) (http.Header, bool) {
	req, ok := r.Find(marker)
	return req.Header, ok
}
