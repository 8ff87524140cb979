package pki_test

import (
	"testing"

	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/pkitest"
)

func TestMemoryStore(t *testing.T) {
	pkitest.StoreConformance(t, func(t *testing.T) pki.Store { return pki.NewMemoryStore() })
}
