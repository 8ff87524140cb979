package deeplink

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
)

// TestVectorsPython checks testdata/vectors.json with an independent
// implementation (testdata/check_vectors.py: Python standard library, and
// the cryptography package for signatures when installed).
func TestVectorsPython(t *testing.T) {
	py := testenv.LookPath(t, "python3", "python3")
	out, err := exec.Command(py, "testdata/check_vectors.py", "testdata/vectors.json").CombinedOutput()
	if err != nil {
		t.Fatalf("check_vectors.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestVectorsOpenSSL verifies every signed vector's signature over its
// canonical form with openssl, and that openssl refuses a changed one.
func TestVectorsOpenSSL(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "openssl")
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	ks, err := ParseKeySet(f.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	verify := func(kid, canonical string, sig []byte) error {
		pub, _ := ks.Lookup(kid)
		der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pub))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			"msg":     []byte(canonical),
			"sig":     sig,
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig")
		cmd.Dir = dir
		return cmd.Run()
	}
	n := 0
	for _, v := range f.Valid {
		if !v.Signed {
			continue
		}
		sig, _ := base64.RawURLEncoding.DecodeString(v.Signature)
		if err := verify(v.KID, v.Canonical, sig); err != nil {
			t.Errorf("%s: openssl does not verify the signature: %v", v.Name, err)
		}
		if err := verify(v.KID, v.Canonical+"&x=1", sig); err == nil {
			t.Errorf("%s: openssl verifies a changed canonical form", v.Name)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no signed vectors")
	}
}
