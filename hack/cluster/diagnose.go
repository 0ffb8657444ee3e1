package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Diagnose describes what is not well in the cluster: every pod that is not Ready with its
// container states and the end of its logs, and the latest warning events. Tests print it when
// something times out.
func (c *Cluster) Diagnose(ctx context.Context) string {
	var b strings.Builder
	pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return "diagnose: " + err.Error()
	}
	for _, p := range pods.Items {
		ready := p.Status.Phase == corev1.PodRunning
		for _, cs := range p.Status.ContainerStatuses {
			ready = ready && cs.Ready
		}
		fmt.Fprintf(&b, "pod %s/%s %s ready=%v ip=%s\n", p.Namespace, p.Name, p.Status.Phase, ready, p.Status.PodIP)
		if ready {
			continue
		}
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			fmt.Fprintf(&b, "  container %s ready=%v restarts=%d state=%+v last=%+v\n", cs.Name, cs.Ready, cs.RestartCount, cs.State, cs.LastTerminationState)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				fmt.Fprintf(&b, "  condition %s=%s %s %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
		for _, f := range c.podLogFiles(p) {
			fmt.Fprintf(&b, "  log %s:\n%s\n", f, indent(logTail(f, 1500)))
		}
	}
	ev, err := c.Client.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil {
		sort.Slice(ev.Items, func(i, j int) bool { return ev.Items[i].LastTimestamp.Before(&ev.Items[j].LastTimestamp) })
		items := ev.Items
		if len(items) > 25 {
			items = items[len(items)-25:]
		}
		for _, e := range items {
			fmt.Fprintf(&b, "event %s %s/%s: %s %s\n", e.LastTimestamp.Format("15:04:05"), e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	if err := c.Healthy(ctx); err != nil {
		fmt.Fprintf(&b, "cluster: %v\n", err)
	}
	return b.String()
}

// podLogFiles are the current log files of a pod's containers (kubelet's
// <podLogsDir>/<namespace>_<name>_<uid>/<container>/<restart>.log).
func (c *Cluster) podLogFiles(p corev1.Pod) []string {
	dir := filepath.Join(c.PodLogDir(), fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID))
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.log"))
	return files
}

// PodLogs returns the logs of a pod's container as kubelet wrote them (CRI format: time,
// stream, tag, line).
func (c *Cluster) PodLogs(p corev1.Pod, container string) (string, error) {
	dir := filepath.Join(c.PodLogDir(), fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), container)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.Write(data)
	}
	return b.String(), nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
