package pdf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// TestTwoPhaseOpenSSL: Prepare here, sign the digest with openssl pkeyutl
// in another process, Finish in a third process (this test binary
// re-executed), then the sgValidators.
func TestTwoPhaseOpenSSL(t *testing.T) {
	testenv.LookPath(t, "openssl", "openssl")
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	for _, c := range []struct {
		kt    testpki.KeyType
		level Level
	}{{testpki.RSA2048, LevelBLTA}, {testpki.P256, LevelBT}, {testpki.RSA4096, LevelBB}} {
		t.Run(string(c.kt)+"-"+string(c.level), func(t *testing.T) {
			dir := t.TempDir()
			l := w.h.Issue(t, c.kt, testpki.Options{CommonName: "Rajesh Kumar"})
			prepared := filepath.Join(dir, "prepared.pdf")
			ps, err := PrepareFile(context.Background(), sgInput(t, "objstm"), prepared, l.Cert, l.Chain,
				SignOptions{Level: c.level, Reason: "two-phase", Appearance: sgVisibleAt(1)})
			if err != nil {
				t.Fatal(err)
			}
			state, err := ps.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(state) > maxPreparedSize {
				t.Errorf("state is %d bytes", len(state))
			}
			statePath := filepath.Join(dir, "state.bin")
			os.WriteFile(statePath, state, 0o600)
			keyPath := filepath.Join(dir, "key.pem")
			os.WriteFile(keyPath, testpki.KeyPEM(t, l.Key), 0o600)
			digestPath, sigPath := filepath.Join(dir, "digest.bin"), filepath.Join(dir, "sig.bin")
			os.WriteFile(digestPath, ps.Digest, 0o600)
			args := []string{"pkeyutl", "-sign", "-inkey", keyPath, "-in", digestPath, "-out", sigPath}
			if ps.Algorithm == signer.RSAPKCS1v15 {
				args = append(args, "-pkeyopt", "digest:sha256")
			}
			sgRun(t, "openssl", args...)

			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFinish$")
			cmd.Env = append(os.Environ(), "PDF_HELPER_FINISH=1", "PDF_STATE="+statePath, "PDF_FILE="+prepared, "PDF_SIG="+sigPath, "PDF_WORLD="+w.save(t))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("finish process: %v\n%s", err, out)
			}
			want := 1
			if c.level == LevelBLTA {
				want = 2
			}
			v.check(t, prepared, want)
		})
	}
}

// TestHelperFinish is the Finish process of TestTwoPhaseOpenSSL.
func TestHelperFinish(t *testing.T) {
	if os.Getenv("PDF_HELPER_FINISH") != "1" {
		t.Skip("helper process")
	}
	w := sgLoadWorld(t, os.Getenv("PDF_WORLD"))
	state, _ := os.ReadFile(os.Getenv("PDF_STATE"))
	sig, _ := os.ReadFile(os.Getenv("PDF_SIG"))
	var ps PreparedSignature
	if err := ps.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	opts := SignOptions{Timestamper: w.tsa, Revocation: w.ocsp, ExtraCertificates: w.extra()}
	if err := FinishFile(context.Background(), os.Getenv("PDF_FILE"), &ps, sig, opts); err != nil {
		t.Fatal(err)
	}
}

func TestFinishRejectsWrongSignature(t *testing.T) {
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar")
	other := w.leaf(t, testpki.RSA2048, 3, "Someone Else")
	ctx := context.Background()
	prepared := filepath.Join(t.TempDir(), "p.pdf")
	ps, err := PrepareFile(ctx, sgInput(t, "classic"), prepared, s.Certificate(), s.Chain(), SignOptions{Level: LevelBT})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(prepared)
	bad, err := signer.SignDigest(ctx, other, ps.Algorithm, ps.Hash, ps.Digest)
	if err != nil {
		t.Fatal(err)
	}
	err = FinishFile(ctx, prepared, ps, bad, SignOptions{Timestamper: w.tsa})
	if !errors.Is(err, ErrSignatureMismatch) || !errors.Is(err, signer.ErrSignatureInvalid) {
		t.Fatalf("err = %v, want ErrSignatureMismatch", err)
	}
	after, _ := os.ReadFile(prepared)
	if !bytes.Equal(before, after) {
		t.Fatal("prepared file changed by a rejected Finish")
	}
	// The right signature then works, once.
	good, _ := signer.SignDigest(ctx, s, ps.Algorithm, ps.Hash, ps.Digest)
	if err := FinishFile(ctx, prepared, ps, good, SignOptions{Timestamper: w.tsa}); err != nil {
		t.Fatal(err)
	}
	// A second Finish of a B-T file: the file no longer matches the state.
	if err := FinishFile(ctx, prepared, ps, good, SignOptions{Timestamper: w.tsa}); !errors.Is(err, ErrPreparedState) {
		t.Fatalf("second Finish: %v, want ErrPreparedState", err)
	}
}

func TestBatch(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	dir := t.TempDir()
	var items []BatchItem
	var paths []string
	for i, in := range []string{"classic", "forms", "objstm"} {
		p := filepath.Join(dir, in+".prepared.pdf")
		items = append(items, BatchItem{In: sgInput(t, in), Prepared: p})
		paths = append(paths, p)
		_ = i
	}
	states, err := PrepareBatch(ctx, items, s.Certificate(), s.Chain(), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sigs [][]byte
	for _, ps := range states {
		sig, err := signer.SignDigest(ctx, s, ps.Algorithm, ps.Hash, ps.Digest)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	sum := func() [32]byte {
		h := sha256.New()
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		return [32]byte(h.Sum(nil))
	}
	before := sum()
	swapped := [][]byte{sigs[1], sigs[0], sigs[2]}
	if err := FinishBatch(ctx, paths, states, swapped, SignOptions{}); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("misordered batch: %v", err)
	}
	if sum() != before {
		t.Fatal("a rejected batch changed files")
	}
	if err := FinishBatch(ctx, paths, states, sigs, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		v.check(t, p, 1)
	}
}

func TestPreparedStateRoundTrip(t *testing.T) {
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar")
	data := sgInput(t, "classic")
	ps, err := PrepareFile(context.Background(), data, filepath.Join(t.TempDir(), "p.pdf"), s.Certificate(), s.Chain(), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ps.MarshalBinary()
	var back PreparedSignature
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := back.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Error("state does not round-trip")
	}
	for _, bad := range [][]byte{nil, []byte("SSPDFPREP\x02{}"), append([]byte(nil), b[:len(b)/2]...), []byte("garbage")} {
		if err := back.UnmarshalBinary(bad); !errors.Is(err, ErrPreparedState) {
			t.Errorf("UnmarshalBinary(%q…) = %v", bad[:min(len(bad), 12)], err)
		}
	}
}

// TestFinishECDSARaw: signing apps may return ECDSA as raw r||s (PKCS#11,
// WebCrypto); Finish converts it.
func TestFinishECDSARaw(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	prepared := filepath.Join(t.TempDir(), "p.pdf")
	ps, err := PrepareFile(ctx, sgInput(t, "forms"), prepared, s.Certificate(), s.Chain(), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	der, err := signer.SignDigest(ctx, s, ps.Algorithm, ps.Hash, ps.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	raw := append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...)
	if err := FinishFile(ctx, prepared, ps, raw, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	v.check(t, prepared, 1)
}

// TestPreparedSignaturePackageParts: what a signing package takes from a
// PreparedSignature describes the prepared file: the gap of ByteRange is
// the empty /Contents, the file states the same /ByteRange, Size is its
// length, and the signed attributes hash to Digest.
func TestPreparedSignaturePackageParts(t *testing.T) {
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar")
	path := filepath.Join(t.TempDir(), "p.pdf")
	ps, err := PrepareFile(context.Background(), sgInput(t, "classic"), path, s.Certificate(), s.Chain(), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := ps.ByteRange()
	if ps.Size() != int64(len(file)) || br[0] != 0 || br[2]+br[3] != int64(len(file)) {
		t.Fatalf("ByteRange %v, Size %d, file %d bytes", br, ps.Size(), len(file))
	}
	gap := file[br[1]:br[2]]
	if gap[0] != '<' || gap[len(gap)-1] != '>' || strings.Trim(string(gap[1:len(gap)-1]), "0") != "" {
		t.Fatal("the ByteRange gap is not the empty /Contents")
	}
	if !bytes.HasSuffix(bytes.TrimRight(file[:br[1]], " "), []byte("/Contents")) {
		t.Fatal("the gap does not follow /Contents")
	}
	stated := fmt.Sprintf("/ByteRange [0 %d %d %d", br[1], br[2], br[3])
	if !bytes.Contains(file, []byte(stated)) {
		t.Fatalf("the file does not state %s", stated)
	}
	h := ps.Hash.New()
	h.Write(ps.SignedAttributes())
	if !bytes.Equal(h.Sum(nil), ps.Digest) {
		t.Fatal("the signed attributes do not hash to Digest")
	}
	a := ps.SignedAttributes()
	a[0] ^= 0xff
	if bytes.Equal(a, ps.SignedAttributes()) {
		t.Fatal("SignedAttributes returns the state's own slice")
	}
}
