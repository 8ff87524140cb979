package callback_test

import (
	"context"
	"testing"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/callback/callbacktest"
	"github.com/securesign/securesign/internal/testpki"
)

func TestMemoryStoreConformance(t *testing.T) {
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.P256, testpki.Options{})
	callbacktest.StoreConformance(t, func(t *testing.T) (callback.Store, func(context.Context, *callback.Pending) error) {
		s := callback.NewMemoryStore()
		return s, func(_ context.Context, p *callback.Pending) error { return s.Add(p) }
	}, leaf.Cert)
}
