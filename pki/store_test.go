package pki_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/pkitest"
)

func TestMemoryStore(t *testing.T) {
	pkitest.StoreConformance(t, func(t *testing.T) pki.Store { return pki.NewMemoryStore() })
}

func TestSQLiteStore(t *testing.T) {
	pkitest.StoreConformance(t, func(t *testing.T) pki.Store {
		s, err := pki.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "ca.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
