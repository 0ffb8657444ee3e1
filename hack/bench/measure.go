package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// machineCPU is the busy CPU time of the whole machine so far (all CPUs,
// user+nice+system+irq+softirq+steal from /proc/stat's "cpu" line).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100)
}

// rssBytes is the resident set size of pid (VmRSS), 0 if unknown.
func rssBytes(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// childPIDs lists the processes whose parent is pid (nginx's workers).
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// redisCommands is the number of commands redis-server has run, by name
// (INFO commandstats, every command but INFO itself, which the bench sends).
func redisCommands(ctx context.Context, rdb redis.UniversalClient) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	return parseCommandStats(info)
}

// commandsDelta is after less before, per request: the total and the
// commands by name ("get 1.00, evalsha 0.25"), largest first.
func commandsDelta(before, after map[string]int64, requests int64) (float64, string) {
	if requests <= 0 {
		return 0, ""
	}
	type kv struct {
		name string
		n    int64
	}
	var all []kv
	var total int64
	for name, n := range after {
		if d := n - before[name]; d > 0 {
			all = append(all, kv{name, d})
			total += d
		}
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	parts := make([]string, 0, len(all))
	for _, c := range all {
		parts = append(parts, fmt.Sprintf("%s %.2f", c.name, float64(c.n)/float64(requests)))
	}
	return float64(total) / float64(requests), strings.Join(parts, ", ")
}

// parseCommandStats reads calls= of the cmdstat_ lines, INFO excluded.
func parseCommandStats(info string) (map[string]int64, error) {
	calls := make(map[string]int64)
	seen := false
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		seen = true
		if name == "cmdstat_info" {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, err
				}
				calls[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	if !seen {
		return nil, errors.New("no cmdstat_ lines in INFO commandstats")
	}
	return calls, nil
}
