// Package stack runs the whole gatewarden system on one machine: the dev IdP (the FusionAuth
// stand-in), Redis (a real redis-server when one is on PATH, otherwise an embedded miniredis),
// authproxy, catalog and inventory as child processes, and a real front proxy doing forward auth
// in front of them: Caddy embedded as a library, nginx with auth_request, or Debian's caddy
// binary.
//
// The run command (cmd/gatewarden-local) and the end-to-end tests (e2e) both use Start. Every
// part listens on 127.0.0.1 only. The binaries are built from the main module (Build), so this
// package depends on their command-line contracts, not on their Go APIs.
package stack
