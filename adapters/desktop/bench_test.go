package desktop

import (
	"context"
	"testing"
)

// BenchmarkCheckAndSign is the app's own work per request: parse and
// verify the link (Ed25519), sign one digest with an RSA-2048 software key
// and verify it, build ss_result. Token time and delivery are not included.
func BenchmarkCheckAndSign(b *testing.B) {
	p := newTestPortal(b)
	ks := newFakeKeystore(b)
	app := newTestApp(b, p, ks)
	link, _ := signLink(b, p.URL, linkKey(b))
	certs, _ := ks.Certificates(context.Background())
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		chk, err := app.Check(ctx, link)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := app.Sign(ctx, chk, certs[0], []byte("1234")); err != nil {
			b.Fatal(err)
		}
	}
}
