package tracetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Span is one span as the collector's file exporter writes it (OTLP JSON), flattened with its
// service's name.
type Span struct {
	Service      string     `json:"-"`
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Attributes   []KeyValue `json:"attributes"`
	Status       struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

// KeyValue is an OTLP attribute; Value keeps the JSON of its AnyValue.
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Attr returns the attribute's value as JSON text ("" when absent).
func (s Span) Attr(key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return string(kv.Value)
		}
	}
	return ""
}

type exportLine struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []struct {
				Key   string `json:"key"`
				Value struct {
					StringValue string `json:"stringValue"`
				} `json:"value"`
			} `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []Span `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

// ReadSpans parses the file exporter's output: one OTLP JSON export request per line.
func ReadSpans(path string) ([]Span, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	var spans []Span
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var line exportLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("read spans: %w", err)
		}
		for _, rs := range line.ResourceSpans {
			service := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.StringValue
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					s.Service = service
					spans = append(spans, s)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	return spans, nil
}
