package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hostState is what Up found on the host before it started, kept in RunDir so that Cleanup can
// restore the host after a run that died without Close.
type hostState struct {
	Sysctls  map[string]string `json:"sysctls"`
	HostDirs []string          `json:"hostDirs"` // fixed host paths that did not exist
	CNINetns []string          `json:"cniNetns"` // /run/netns/cni-* that existed
	Cgroups  []string          `json:"cgroups"`  // cgroup folders that did not exist
}

func hostStatePath(o Options) string {
	return filepath.Join(filepath.Dir(o.RunDir), filepath.Base(o.RunDir)+".host.json")
}

// The cgroup folders kubelet and containerd create, per controller.
var cgroupNames = []string{"kubepods", "k8s.io"}

func cgroupDirs() []string {
	var out []string
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, ctrl := range ctrls {
		for _, n := range cgroupNames {
			out = append(out, filepath.Join("/sys/fs/cgroup", ctrl.Name(), n))
		}
	}
	out = append(out, "/sys/fs/cgroup/kubepods.slice") // cgroup v2 with systemd-style names
	return out
}

func (c *Cluster) saveHostState() error {
	st := hostState{Sysctls: c.sysctls, HostDirs: c.hostDirs}
	for p := range c.cniNS {
		st.CNINetns = append(st.CNINetns, p)
	}
	for _, d := range cgroupDirs() {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			st.Cgroups = append(st.Cgroups, d)
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(hostStatePath(c.opts), b, 0o600)
}

// Close stops the cluster and leaves the host as Up found it.
func (c *Cluster) Close() error {
	if c.Attached() {
		return nil
	}
	if c.cancel != nil {
		c.cancel()
	}
	// Node first, so nothing restarts what is being stopped; the control plane last.
	order := []string{"kube-router", "kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"}
	for _, n := range order {
		if p, ok := c.byName[n]; ok {
			p.stop(10 * time.Second)
		}
	}
	var errs errJoin
	errs.add(killContainers(c.opts))
	for _, n := range []string{"containerd", "kube-apiserver", "etcd"} {
		if p, ok := c.byName[n]; ok {
			p.stop(10 * time.Second)
		}
	}
	errs.add(Cleanup(context.Background(), c.opts))
	if c.lock != nil {
		c.lock.Close() // releases the flock
	}
	return errs.err()
}

// Cleanup removes what a cluster run with these options left behind: processes, mounts, pod
// network namespaces, cgroups, iptables state (with the namespace), folders, and restores the
// host kernel settings. It does nothing when there is nothing to remove.
func Cleanup(ctx context.Context, opts Options) error {
	opts.defaults()
	var st hostState
	b, err := os.ReadFile(hostStatePath(opts))
	switch {
	case errors.Is(err, os.ErrNotExist):
		st.Sysctls = map[string]string{}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("cleanup: %s: %w", hostStatePath(opts), err)
		}
	}
	var errs errJoin
	netnsPath := "/run/netns/" + opts.Namespace
	if _, err := os.Stat(netnsPath); err == nil {
		// Every process left in the namespace (a previous run's control plane and node).
		if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", opts.Namespace).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	errs.add(killContainers(opts))
	time.Sleep(200 * time.Millisecond)
	// Mounts under the fixed host paths only when the run created those folders: a machine's
	// own containerd (Docker's) keeps its mounts there.
	under := []string{opts.StateDir, opts.RunDir}
	for _, d := range []string{"/run/containerd", "/var/lib/kubelet"} {
		if slices.Contains(st.HostDirs, d) {
			under = append(under, d)
		}
	}
	errs.add(unmountUnder(under...))
	// Pod network namespaces containerd created (those that were not there before).
	if m, _ := filepath.Glob("/run/netns/cni-*"); m != nil {
		for _, p := range m {
			if slices.Contains(st.CNINetns, p) {
				continue
			}
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
			errs.add(ignoreNotExist(os.Remove(p)))
		}
	}
	if _, err := os.Stat(netnsPath); err == nil {
		errs.add(run(ctx, "ip", "netns", "delete", opts.Namespace))
	}
	for _, d := range st.Cgroups {
		errs.add(removeCgroup(d))
	}
	for k, v := range st.Sysctls {
		if cur, err := readSysctl(k); err == nil && cur != v {
			errs.add(writeSysctl(k, v))
		}
	}
	for _, d := range append([]string{opts.StateDir, opts.RunDir}, st.HostDirs...) {
		errs.add(os.RemoveAll(d))
	}
	if len(errs) == 0 {
		errs.add(ignoreNotExist(os.Remove(hostStatePath(opts))))
	}
	return errs.err()
}

// killContainers kills every process in the pods' cgroups and the containerd shims serving
// this cluster's containerd (their command line names its socket).
func killContainers(opts Options) error {
	for range 3 {
		for _, d := range cgroupDirs() {
			_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
				return nil
			})
		}
		sock := filepath.Join(opts.RunDir, "containerd.sock")
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil {
				continue
			}
			cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(cmd), "\x00")
			if strings.Contains(args[0], "containerd-shim") && slices.Contains(args, sock) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// unmountUnder lazily unmounts every mount point below the given folders, deepest first.
func unmountUnder(dirs ...string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		for _, d := range dirs {
			if mp == d || strings.HasPrefix(mp, d+"/") {
				points = append(points, mp)
			}
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs errJoin
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs.add(fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errs.err()
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// removeCgroup removes a cgroup folder and its children, deepest first (cgroup folders are
// removed with rmdir, never by deleting files).
func removeCgroup(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	var last error
	for _, d := range dirs {
		for range 20 {
			if err := syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
				last = nil
				break
			} else {
				last = fmt.Errorf("rmdir %s: %w", d, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return last
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
