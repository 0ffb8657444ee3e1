package faults

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// ProcStats is one process's resource use at one moment of a soak.
type ProcStats struct {
	Minute     int // 0 = start, -1 = end
	Part       string
	PID        int
	RSSKiB     int64
	Goroutines int // -1 when the process is not a Go program with /metrics
	FDs        int
	Sockets    int // open sockets (connections and listeners)
}

// sampler reads /proc and the parts' /metrics.
type sampler struct {
	s    *stack.Stack
	http *http.Client
	urls map[string]string // part -> /metrics URL
}

func newSampler(s *stack.Stack) *sampler {
	urls := map[string]string{"catalog": s.CatalogURL + "/metrics", "inventory": s.InventoryURL + "/metrics"}
	for i, u := range s.AuthProxyURLs {
		name := "authproxy"
		if i > 0 {
			name += "-" + strconv.Itoa(i+1)
		}
		urls[name] = u + "/metrics"
	}
	return &sampler{s: s, http: &http.Client{Timeout: 2 * time.Second}, urls: urls}
}

// sample reads every part and this process (which runs the embedded Caddy and the fault
// proxies), sorted by part.
func (sm *sampler) sample(minute int) []ProcStats {
	pids := sm.s.PIDs()
	pids["harness (caddy, toxiproxy)"] = os.Getpid()
	var out []ProcStats
	for part, pid := range pids {
		st := ProcStats{Minute: minute, Part: part, PID: pid, Goroutines: -1}
		st.RSSKiB = rssKiB(pid)
		st.FDs, st.Sockets = fds(pid)
		if u, ok := sm.urls[part]; ok {
			st.Goroutines = sm.goroutines(u)
		}
		if pid == os.Getpid() {
			st.Goroutines = runtime.NumGoroutine()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ProcStats) int { return strings.Compare(a.Part, b.Part) })
	return out
}

func rssKiB(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

func fds(pid int) (all, sockets int) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	es, err := os.ReadDir(dir)
	if err != nil {
		return -1, -1
	}
	for _, e := range es {
		all++
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			sockets++
		}
	}
	return all, sockets
}

// goroutines reads go_goroutines from a Prometheus text endpoint.
func (sm *sampler) goroutines(url string) int {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	resp, err := sm.http.Do(req)
	if err != nil {
		return -1
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

func writeStats(w io.Writer, samples [][]ProcStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "minute\tpart\tpid\tRSS MiB\tgoroutines\tfds\tsockets\t")
	for _, sample := range samples {
		for _, st := range sample {
			m := strconv.Itoa(st.Minute)
			if st.Minute < 0 {
				m = "end"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%d\t%d\t%d\t\n", m, st.Part, st.PID, float64(st.RSSKiB)/1024, st.Goroutines, st.FDs, st.Sockets)
		}
	}
	_ = tw.Flush()
}
