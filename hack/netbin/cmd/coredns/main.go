// Command coredns is CoreDNS v1.15.0 with its standard plugin set, built the way CoreDNS's own
// main (coredns.go at its module root) builds it, for the single-node test cluster (hack/cluster).
package main

import (
	_ "github.com/coredns/coredns/core/plugin" // the standard plugin set, as CoreDNS registers it
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
