package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The fixed-rate generator: a lean open-loop load loop for the p99 row.
//
// The net/http client spends more CPU per request than the decision it
// measures, so at "half the max rate" on two cores it saturated them and
// reported its own queueing. This one writes request bytes serialized once
// per run on raw keep-alive TCP connections and reads only what it must of
// each answer (status line, Content-Length or chunked framing,
// Connection). As wrk2 does, each connection has its own schedule (rate /
// conns, staggered), and latency counts from each request's scheduled time
// (coordinated omission corrected), on the timeline a punctual generator
// would have had: request k is sent at v(k) = max(due(k), done(k-1)) and
// done(k) = v(k) + its service time (answer read less the actual send). A
// stall of the server thus delays and is charged to every request scheduled
// during it, while the generator's own lateness is not: Go's timers wake up
// to about 1 ms late (the netpoller sleeps in whole milliseconds), and a
// late wake-up would otherwise show as server latency for that request and
// the ones queued behind it. That lateness (actual send less v(k)) is
// measured apart. One goroutine per connection, no allocation per request.

// fixedSpec is one fixed-rate run.
type fixedSpec struct {
	addr     string        // host:port to dial
	request  []byte        // one whole request, sent as is each time
	rate     float64       // requests per second, all connections together
	conns    int           // connections, one goroutine each
	duration time.Duration // requests are scheduled in [start, start+duration)
	// timeout bounds each request from its send until its answer is read; a
	// response that does not come by then is an error. Sending stops
	// timeout after the schedule's end: requests still unsent then are
	// errors too.
	timeout time.Duration
}

// fixedResult is what a fixed-rate run measured.
type fixedResult struct {
	hist      histogram // latencies, as above
	slop      histogram // generator lateness: actual send less the punctual send time v(k)
	scheduled int64     // requests the schedule held
	answered  int64     // responses read (hist holds their latencies)
	bad       int64     // answers outside 2xx/3xx
	errs      int64     // dial/write/read errors, timeouts, scheduled but never sent
	elapsed   time.Duration
}

// newFixedSpec serializes a GET of rawURL with headers (sorted by name)
// once, with Host set from the URL.
func newFixedSpec(rawURL string, headers map[string]string, rate float64, conns int, duration time.Duration) (fixedSpec, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fixedSpec{}, err
	}
	if u.Scheme != "http" || u.Port() == "" {
		return fixedSpec{}, fmt.Errorf("fixed rate: %q: want http://host:port", rawURL)
	}
	if rate <= 0 || conns < 1 || duration <= 0 {
		return fixedSpec{}, fmt.Errorf("fixed rate: need rate > 0, conns >= 1, duration > 0 (got %v, %d, %s)", rate, conns, duration)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		v := headers[k]
		if strings.ContainsAny(k+v, "\r\n") || strings.EqualFold(k, "Host") {
			return fixedSpec{}, fmt.Errorf("fixed rate: header %q: CR, LF or Host not allowed", k)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	return fixedSpec{addr: u.Host, request: b.Bytes(), rate: rate, conns: conns, duration: duration, timeout: 2 * time.Second}, nil
}

// runFixed sends spec's schedule and waits for every connection. It ends
// by itself: the schedule ends at duration, every read and write has a
// deadline, and ctx stops it early.
func runFixed(ctx context.Context, spec fixedSpec) fixedResult {
	type connResult struct {
		hist, slop                     histogram
		scheduled, answered, bad, errs int64
	}
	results := make([]connResult, spec.conns)
	start := time.Now().Add(10 * time.Millisecond) // every goroutine up before the first send
	end := start.Add(spec.duration)
	var wg sync.WaitGroup
	for i := range results {
		r := &results[i]
		wg.Go(func() {
			c := fixedConn{spec: spec, br: bufio.NewReaderSize(nil, 16<<10)}
			var vdone time.Time // when the previous answer would have come with a punctual generator
			// Connection i sends the schedule's requests i, i+conns, i+2*conns, ...
			for k := int64(0); ; k++ {
				due := start.Add(time.Duration(float64(k*int64(spec.conns)+int64(i)) / spec.rate * float64(time.Second)))
				if !due.Before(end) {
					break
				}
				r.scheduled++
				status, sent, service, err := c.do(ctx, due, end.Add(spec.timeout))
				switch {
				case err != nil:
					r.errs++
					vdone = time.Time{}
				default:
					var v time.Time
					v, vdone = punctual(due, vdone, service)
					r.answered++
					r.hist.record(vdone.Sub(due))
					r.slop.record(sent.Sub(v))
					if status < 200 || status >= 400 {
						r.bad++
					}
				}
			}
			c.close()
		})
	}
	wg.Wait()
	res := fixedResult{elapsed: time.Since(start)}
	for i := range results {
		r := &results[i]
		res.hist.merge(&r.hist)
		res.slop.merge(&r.slop)
		res.scheduled += r.scheduled
		res.answered += r.answered
		res.bad += r.bad
		res.errs += r.errs
	}
	return res
}

// punctual is when a punctual generator would have sent a request due at
// due on a connection whose previous answer came at prevDone (v), and when
// its answer, taking service, would have come (done). The request's
// latency is done - due.
func punctual(due, prevDone time.Time, service time.Duration) (v, done time.Time) {
	v = due
	if prevDone.After(v) {
		v = prevDone
	}
	return v, v.Add(service)
}

// errNotSent is a scheduled request that the run's end or ctx left unsent.
var errNotSent = errors.New("scheduled request not sent before the run's end")

// fixedConn is one connection's state: the socket (nil until dialed or
// after an error), its reader, a reusable timer for the waits.
type fixedConn struct {
	spec  fixedSpec
	conn  net.Conn
	br    *bufio.Reader
	timer *time.Timer
}

// do waits until due, sends the request and reads its answer: it returns
// the status, when it sent and how long the answer took from the send.
// Past stop (or with ctx done) it sends nothing.
func (c *fixedConn) do(ctx context.Context, due, stop time.Time) (status int, sent time.Time, service time.Duration, err error) {
	if d := time.Until(due); d > 0 {
		if c.timer == nil {
			c.timer = time.NewTimer(d)
		} else {
			c.timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			c.timer.Stop()
			return 0, sent, 0, errNotSent
		case <-c.timer.C:
		}
	}
	sent = time.Now()
	if ctx.Err() != nil || !sent.Before(stop) {
		return 0, sent, 0, errNotSent
	}
	status, err = c.roundTrip(ctx, c.spec.request, sent)
	return status, sent, time.Since(sent), err
}

// roundTrip sends req on the connection (dialing it first if needed) and
// reads the answer, all within c.spec.timeout from now. The connection is
// closed after an error or an answer that ends it.
func (c *fixedConn) roundTrip(ctx context.Context, req []byte, now time.Time) (int, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: c.spec.timeout}
		conn, err := d.DialContext(ctx, "tcp", c.spec.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		c.br.Reset(conn)
	}
	if err := c.conn.SetDeadline(now.Add(c.spec.timeout)); err != nil {
		c.close()
		return 0, err
	}
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, err
	}
	status, keepAlive, err := readResponse(c.br)
	if err != nil || !keepAlive {
		c.close()
	}
	return status, err
}

func (c *fixedConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
	if c.timer != nil {
		c.timer.Stop()
	}
}

// Errors of readResponse.
var (
	errMalformed   = errors.New("malformed HTTP response")
	errLineTooLong = errors.New("HTTP response line longer than the read buffer")
	errUnsupported = errors.New("unsupported HTTP response (1xx, or a transfer coding other than chunked)")
)

const maxHeaderLines = 256

// readResponse reads one HTTP/1.x response from br and discards its body.
// It returns the status code and whether the connection may carry another
// request. It reads only the framing: the status line, Content-Length,
// Transfer-Encoding: chunked and Connection; everything else is skipped
// without a copy.
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK", the reason optional.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, errMalformed
	}
	if line[7] != '0' && line[7] != '1' {
		return 0, false, errMalformed
	}
	http11 := line[7] == '1'
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, errMalformed
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, false, errMalformed
	}
	if status < 200 {
		return 0, false, errUnsupported
	}
	contentLength, chunked, codings := int64(-1), false, 0
	sawClose, sawKeepAlive := false, false
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return 0, false, errMalformed
		}
		if line, err = readLine(br); err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validToken(line[:colon]) {
			return 0, false, errMalformed
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		if !validValue(value) {
			return 0, false, errMalformed
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || (contentLength >= 0 && n != contentLength) {
				return 0, false, errMalformed
			}
			contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")) && http11: // HTTP/1.0 has no transfer codings
			codings++
			if codings > 1 || !bytes.EqualFold(value, []byte("chunked")) {
				return 0, false, errUnsupported
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				sawClose = sawClose || bytes.EqualFold(tok, []byte("close"))
				sawKeepAlive = sawKeepAlive || bytes.EqualFold(tok, []byte("keep-alive"))
			}
		}
	}
	// HTTP/1.1 keeps the connection unless told to close; 1.0 closes unless told to keep it.
	keepAlive = !sawClose && (http11 || sawKeepAlive)
	switch {
	case status == 204 || status == 304:
	case chunked:
		if err := discardChunked(br); err != nil {
			return 0, false, err
		}
	case contentLength >= 0:
		if _, err := br.Discard(int(contentLength)); err != nil {
			return 0, false, unexpectedEOF(err)
		}
	default: // the body runs until the server closes
		if _, err := io.Copy(io.Discard, br); err != nil {
			return 0, false, err
		}
		keepAlive = false
	}
	return status, keepAlive, nil
}

// discardChunked reads a chunked body and its trailers.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseHex(bytes.TrimRight(line, " \t"))
		if !ok {
			return errMalformed
		}
		if size == 0 {
			for n := 0; ; n++ {
				if n == maxHeaderLines {
					return errMalformed
				}
				if line, err = readLine(br); err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size)); err != nil {
			return unexpectedEOF(err)
		}
		if line, err = readLine(br); err != nil {
			return err
		}
		if len(line) != 0 {
			return errMalformed
		}
	}
}

// readLine returns the next line without its CRLF (or LF), a slice of br's
// buffer valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errLineTooLong
	case err != nil:
		return nil, unexpectedEOF(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseDecimal reads a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// parseHex reads a chunk size: 1 to 12 hex digits.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		switch {
		case d >= '0' && d <= '9':
			d -= '0'
		case d >= 'a' && d <= 'f':
			d -= 'a' - 10
		case d >= 'A' && d <= 'F':
			d -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// validToken reports whether b is an RFC 9110 token (a field name).
func validToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validValue reports whether b holds no control character but tab.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// histogram counts durations in log-linear buckets, as HDR histograms do:
// exact below 128 ns, then 64 buckets per power of two, so a percentile is
// within 1/128 of the true value (the bucket's middle is reported).
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = histSub + (64-histSubBits)*(histSub/2)
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits // >= 1
	return histSub + (e-1)*(histSub/2) + int(v>>e) - histSub/2
}

// histRange is the lowest value of bucket i and the bucket's width.
func histRange(i int) (lo, width uint64) {
	if i < histSub {
		return uint64(i), 1
	}
	e := (i-histSub)/(histSub/2) + 1
	m := uint64((i-histSub)%(histSub/2) + histSub/2)
	return m << e, 1 << e
}

func (h *histogram) record(d time.Duration) {
	h.counts[histIndex(uint64(max(d, 0)))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the value below which a fraction q of the recorded
// durations lie (the middle of the bucket holding that rank; 0 when empty).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, w := histRange(i)
			return min(time.Duration(lo+w/2), h.max)
		}
	}
	return h.max
}

// countAtLeast is how many recorded durations lie in buckets whose lowest
// value is at least d (a lower bound of those >= d, within one bucket).
func (h *histogram) countAtLeast(d time.Duration) uint64 {
	var n uint64
	for i := histIndex(uint64(max(d, 0))) + 1; i < histBuckets; i++ {
		n += h.counts[i]
	}
	return n
}
