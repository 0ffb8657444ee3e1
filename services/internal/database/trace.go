package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traced opens dsn with drv behind a connector whose connections give each
// statement run outside a transaction (ExecContext, QueryContext) a client
// span named "db SELECT", "db INSERT", ...: the statement's first keyword,
// the dialect, never the text's arguments (they travel apart from it). A
// query's span ends when its rows are ready, not when they are read.
// Everything else passes straight to the driver's connection, and what it
// does not implement answers as database/sql expects of a driver without it.
func traced(drv driver.Driver, dsn string, dialect Dialect, tracer trace.Tracer) (*sql.DB, error) {
	var inner driver.Connector
	if dc, ok := drv.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, err
		}
		inner = c
	} else {
		inner = dsnConnector{drv: drv, dsn: dsn}
	}
	system := "postgresql"
	if dialect == SQLite {
		system = "sqlite"
	}
	return sql.OpenDB(tracedConnector{inner: inner, tracer: tracer, system: attribute.String("db.system.name", system)}), nil
}

type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

type tracedConnector struct {
	inner  driver.Connector
	tracer trace.Tracer
	system attribute.KeyValue
}

func (c tracedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &tracedConn{Conn: conn, c: c}, nil
}

func (c tracedConnector) Driver() driver.Driver { return c.inner.Driver() }

type tracedConn struct {
	driver.Conn
	c tracedConnector
}

func (t *tracedConn) start(ctx context.Context, query string) (context.Context, trace.Span) {
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return t.c.tracer.Start(ctx, "db "+strings.ToUpper(op),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.c.system))
}

func end(span trace.Span, err error) {
	if err != nil && err != driver.ErrSkip {
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

func (t *tracedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := t.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := t.start(ctx, query)
	res, err := e.ExecContext(ctx, query, args)
	end(span, err)
	return res, err
}

func (t *tracedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := t.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := t.start(ctx, query)
	rows, err := q.QueryContext(ctx, query, args)
	end(span, err)
	return rows, err
}

func (t *tracedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := t.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return t.Prepare(query)
}

func (t *tracedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := t.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return t.Begin() //nolint:staticcheck // the driver offers nothing else
}

func (t *tracedConn) Ping(ctx context.Context) error {
	if p, ok := t.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (t *tracedConn) CheckNamedValue(v *driver.NamedValue) error {
	if c, ok := t.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (t *tracedConn) ResetSession(ctx context.Context) error {
	if r, ok := t.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (t *tracedConn) IsValid() bool {
	if v, ok := t.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}
