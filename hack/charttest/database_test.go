package charttest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// dbEnv is how a service reaches its database: DATABASE_URL and where PGPASSWORD comes from.
type dbEnv struct {
	URL            string
	Secret, Key    string
	PostgreSQLPods bool
}

// TestRenderDatabase: catalog and inventory get DATABASE_URL (never with a password in it) and
// PGPASSWORD from a Secret: the release's PostgreSQL by default, externalDatabase when set, and
// nothing (the in-memory database) when neither.
func TestRenderDatabase(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	host := "gw-gatewarden-postgresql." + testNS + ".svc.cluster.local:5432"
	tests := []struct {
		name      string
		values    map[string]any
		catalog   dbEnv
		inventory dbEnv
	}{
		{
			name:      "the release's PostgreSQL",
			values:    base,
			catalog:   dbEnv{URL: "postgres://catalog@" + host + "/catalog?sslmode=disable", Secret: "gw-gatewarden-postgresql", Key: "catalog-password", PostgreSQLPods: true},
			inventory: dbEnv{URL: "postgres://inventory@" + host + "/inventory?sslmode=disable", Secret: "gw-gatewarden-postgresql", Key: "inventory-password", PostgreSQLPods: true},
		},
		{
			name:      "existing Secret",
			values:    readValues(t, filepath.Join(chartDir, "ci", "existing-secrets-values.yaml")),
			catalog:   dbEnv{URL: "postgres://catalog@" + host + "/catalog?sslmode=disable", Secret: "gatewarden-postgresql", Key: "catalog-password", PostgreSQLPods: true},
			inventory: dbEnv{URL: "postgres://inventory@" + host + "/inventory?sslmode=disable", Secret: "gatewarden-postgresql", Key: "inventory-password", PostgreSQLPods: true},
		},
		{
			name:      "external databases",
			values:    readValues(t, filepath.Join(chartDir, "ci", "external-redis-cluster-values.yaml")),
			catalog:   dbEnv{URL: "postgres://catalog@10.30.0.5:5432/catalog?sslmode=require", Secret: "catalog-db", Key: "password"},
			inventory: dbEnv{URL: "postgres://inventory@10.30.0.5:5432/inventory?sslmode=require", Secret: "inventory-db", Key: "pgpassword"},
		},
		{
			name:   "one external database",
			values: with(t, base, "externalDatabase", map[string]any{"catalog": map[string]any{"url": "postgres://shop@db.example.com/shop"}}),
			// No existingSecret: no PGPASSWORD (e.g. a password in ~/.pgpass or trust).
			catalog:   dbEnv{URL: "postgres://shop@db.example.com/shop", PostgreSQLPods: true},
			inventory: dbEnv{URL: "postgres://inventory@" + host + "/inventory?sslmode=disable", Secret: "gw-gatewarden-postgresql", Key: "inventory-password", PostgreSQLPods: true},
		},
		{
			name:   "no database: in memory",
			values: with(t, base, "postgresql", map[string]any{"enabled": false}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, scenario{Name: tc.name, Release: "gw", Values: tc.values})
			_, pods := r.find("StatefulSet", "gw-gatewarden-postgresql")
			for svc, want := range map[string]dbEnv{"catalog": tc.catalog, "inventory": tc.inventory} {
				d := mustFind(t, r, "Deployment", "gw-gatewarden-"+svc).Typed.(*appsv1.Deployment)
				got := dbEnv{PostgreSQLPods: pods}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					switch e.Name {
					case "DATABASE_URL":
						got.URL = e.Value
					case "PGPASSWORD":
						got.Secret, got.Key = secretRef(e)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", svc, diff)
				}
			}
		})
	}

	// A password in the URL would end up in the Deployment and in logs: refused.
	vals := with(t, base, "externalDatabase", map[string]any{"catalog": map[string]any{"url": "postgres://catalog:secret@db.example.com/catalog"}})
	_, err := renderValues(context.Background(), ch, "gw", testNS, vals)
	if err == nil || !strings.Contains(err.Error(), "without a password") {
		t.Errorf("render error = %v, want one refusing the password in externalDatabase.catalog.url", err)
	}
}

// with returns a deep copy of vals with key set to v.
func with(t *testing.T, vals map[string]any, key string, v any) map[string]any {
	t.Helper()
	out := deepCopy(t, vals)
	out[key] = v
	return out
}

func secretRef(e corev1.EnvVar) (name, key string) {
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		return "", ""
	}
	return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
}
