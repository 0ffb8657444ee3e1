package deploy

import "testing"

// TestAttachedBeforeCluster: a Deployment whose start failed before its
// cluster existed is not attached, so Close cleans up instead of
// panicking on the nil cluster (a failed tool build once did).
func TestAttachedBeforeCluster(t *testing.T) {
	d := &Deployment{}
	if d.Attached() {
		t.Fatal("a deployment without a cluster reports attached")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close without a cluster: %v", err)
	}
}
