//go:build !linux

package testkit

import "os/exec"

// dieWithParent does nothing where there is no parent-death signal; Stop and Close end the
// server.
func dieWithParent(*exec.Cmd) {}
