package svctest

import "github.com/gatewarden/gatewarden/hack/testkit"

// LogBuffer is the test kit's goroutine-safe log sink, under the name the services' tests and
// Running.Stderr use.
type LogBuffer = testkit.LogBuffer
