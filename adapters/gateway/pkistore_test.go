package gateway

import (
	"testing"

	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/pkitest"
)

// TestPKIStoreConformance runs the pki package's Store tests on the
// gateway's SQL, on SQLite and PostgreSQL.
func TestPKIStoreConformance(t *testing.T) {
	for name, open := range map[string]func(testing.TB) Store{"sqlite": newSQLiteStore, "postgres": newPostgresStore} {
		t.Run(name, func(t *testing.T) {
			pkitest.StoreConformance(t, func(t *testing.T) pki.Store {
				ps, err := PKIStore(open(t))
				if err != nil {
					t.Fatal(err)
				}
				return ps
			})
		})
	}
}
