package database

import (
	"testing"
	"testing/fstest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/hack/testkit/spantest"
)

// TestOpenTraced: through the traced connector the migrations run, each
// statement outside a transaction is a client span under the caller's,
// named for its keyword, and no span holds a statement's arguments.
func TestOpenTraced(t *testing.T) {
	t.Parallel()
	tp, exp := spantest.New(t)
	schema := Schema{Name: "tracetest", SQL: fstest.MapFS{
		"sqlite/00001_items.sql":   {Data: []byte("-- +goose Up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n-- +goose Down\nDROP TABLE items;\n")},
		"postgres/00001_items.sql": {Data: []byte("-- +goose Up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n-- +goose Down\nDROP TABLE items;\n")},
	}}
	src, err := ParseURL(Memory)
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenTraced(t.Context(), src, schema, nil, tp.Tracer("test"))
	if err != nil {
		t.Fatalf("OpenTraced: %v", err)
	}
	defer db.Close()
	exp.Reset() // the migrations' spans
	const secret = "s3cr3t-argument"
	ctx, parent := tp.Tracer("test").Start(t.Context(), "handler")
	if _, err := db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 1, secret); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = $1`, 1).Scan(&name); err != nil || name != secret {
		t.Fatalf("select: %q, %v", name, err)
	}
	parent.End()

	var got []string
	for _, s := range exp.GetSpans() {
		if s.Name == "handler" {
			continue
		}
		got = append(got, s.Name)
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %q: parent %s kind %v, want a client span under the handler", s.Name, s.Parent.SpanID(), s.SpanKind)
		}
		want := attribute.String("db.system.name", "sqlite")
		if len(s.Attributes) != 1 || s.Attributes[0] != want {
			t.Errorf("span %q attributes %v, want only %v", s.Name, s.Attributes, want)
		}
	}
	if len(got) != 2 || got[0] != "db INSERT" || got[1] != "db SELECT" {
		t.Errorf("statement spans %q, want [db INSERT db SELECT]", got)
	}
}
