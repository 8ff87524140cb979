package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
)

func TestHeadless(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	file := filepath.Join(dir, "agreement.txt")
	os.WriteFile(file, []byte("I agree."), 0o600)
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, testpki.PEM(h.Root.Cert), 0o600)

	t.Run("PKCS#12", func(t *testing.T) {
		p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, leaf.Chain, "secret")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "user.p12"), p12, 0o600)
		os.WriteFile(filepath.Join(dir, "user.pem"), testpki.PEM(leaf.Cert), 0o600)
		var out bytes.Buffer
		err = run(context.Background(), []string{"--p12", filepath.Join(dir, "user.p12"), "--cert", filepath.Join(dir, "user.pem"),
			"--trust", root, "--headless", "--pin-env", "PIN", file}, &out, func(string) string { return "secret" })
		if err != nil || !strings.Contains(out.String(), "portal verified the signature of Rajesh Kumar") {
			t.Fatalf("%v\n%s", err, out.String())
		}
	})
	t.Run("SoftHSM", func(t *testing.T) {
		tok := softhsmtest.New(t)
		tok.Import(t, "Rajesh Kumar", leaf.Key, leaf.Cert)
		tok.ImportCert(t, "Sub-CA", h.Intermediate.Cert, []byte{0xca}) // DSC tokens carry their issuer
		var out bytes.Buffer
		err := run(context.Background(), []string{"--module", tok.Module, "--trust", root, "--headless", "--pin-env", "PIN", file},
			&out, func(string) string { return tok.PIN })
		if err != nil || !strings.Contains(out.String(), "portal verified") {
			t.Fatalf("%v\n%s", err, out.String())
		}
	})
}
