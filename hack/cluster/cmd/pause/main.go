// Command pause is the sandbox ("pause") container's process for the single-node test cluster,
// where no image can be pulled: it holds the pod's namespaces by doing nothing until SIGTERM or
// SIGINT, then exits 0. It does not reap zombies (no pod here shares its process namespace).
package main

import (
	"context"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
}
