package image

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Import loads image tarballs (Build's output) into the containerd listening on socket, in its
// namespace (k8s.io for the images kubelet sees), with ctrPath (Debian's ctr): one
// `ctr --address SOCKET -n NAMESPACE images import TAR` per tarball. The images keep the tag they
// were built with.
func Import(ctx context.Context, ctrPath, socket, namespace string, tarPaths ...string) error {
	for _, tarPath := range tarPaths {
		cmd := exec.CommandContext(ctx, ctrPath, "--address", socket, "-n", namespace, "images", "import", tarPath)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("image: import %s: %w: %s", tarPath, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
