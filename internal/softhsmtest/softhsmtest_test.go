package softhsmtest_test

import (
	"slices"
	"testing"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
)

func TestNewAndImport(t *testing.T) {
	tok := softhsmtest.New(t)
	if tok.Serial == "" {
		t.Fatal("no serial")
	}
	h := testpki.NewHierarchy(t)
	rsaLeaf := h.Issue(t, testpki.RSA2048, testpki.Options{})
	ecLeaf := h.Issue(t, testpki.P256, testpki.Options{})
	tok.Import(t, "rsa", rsaLeaf.Key, rsaLeaf.Cert)
	tok.ImportWith(t, "ec", ecLeaf.Key, ecLeaf.Cert, softhsmtest.ImportOptions{ID: []byte{2}, AlwaysAuthenticate: true})
	objs := tok.Objects(t)
	slices.Sort(objs)
	if len(objs) != 6 || !slices.Contains(objs, "cert:ec:02") || !slices.Contains(objs, "privkey:ec:02") {
		t.Errorf("objects = %q", objs)
	}
}

func TestGenerateKey(t *testing.T) {
	tok := softhsmtest.New(t)
	pub := tok.GenerateKey(t, "gen", []byte{7}, 2048)
	if pub.N.BitLen() != 2048 || pub.E != 65537 {
		t.Errorf("public key: %d bits, e=%d", pub.N.BitLen(), pub.E)
	}
	objs := tok.Objects(t)
	slices.Sort(objs)
	if !slices.Equal(objs, []string{"privkey:gen:07", "pubkey:gen:07"}) {
		t.Errorf("objects = %q", objs)
	}
}
