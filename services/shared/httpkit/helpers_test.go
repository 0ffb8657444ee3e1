package httpkit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// logBuffer is the test kit's log sink (testkit.LogBuffer) that decodes what it holds as JSON
// log lines.
type logBuffer struct{ testkit.LogBuffer }

// lines decodes every log line as a JSON object, failing on non-JSON lines.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
