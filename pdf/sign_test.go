package pdf

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/signer"
)

// sgInput makes a test input in t's temporary directory: our own writer,
// then qpdf and Ghostscript transforms, or a real PDF from a Debian doc
// package.
func sgInput(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name+".pdf")
	switch name {
	case "classic":
		testpdf.WriteFile(p, testpdf.Options{Pages: 3})
		return p
	case "forms":
		testpdf.WriteFile(p, testpdf.Options{Pages: 2, Fields: 3})
		return p
	}
	classic := filepath.Join(dir, "classic.pdf")
	testpdf.WriteFile(classic, testpdf.Options{Pages: 3})
	forms := filepath.Join(dir, "forms.pdf")
	testpdf.WriteFile(forms, testpdf.Options{Pages: 2, Fields: 3})
	switch name {
	case "objstm":
		testenv.LookPath(t, "qpdf", "qpdf")
		sgRun(t, "qpdf", "--object-streams=generate", forms, p)
	case "linearized":
		testenv.LookPath(t, "qpdf", "qpdf")
		sgRun(t, "qpdf", "--linearize", classic, p)
	case "gs":
		testenv.LookPath(t, "gs", "ghostscript")
		ps := filepath.Join(dir, "in.ps")
		os.WriteFile(ps, []byte("%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Ghostscript input) show showpage\n"), 0o644)
		sgRun(t, "gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-sOutputFile="+p, ps)
	case "debian":
		src := sgDebianPDF()
		if src == "" {
			// No doc package installed (e.g. a slim CI image): another
			// producer's output instead, Ghostscript's, several pages.
			testenv.LookPath(t, "gs", "ghostscript")
			ps := filepath.Join(dir, "in.ps")
			os.WriteFile(ps, []byte("%!PS\n/Times-Roman findfont 12 scalefont setfont\n1 1 5 { 72 720 moveto (Real-world stand-in page) show showpage } for\n"), 0o644)
			sgRun(t, "gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-dCompatibilityLevel=1.4", "-sOutputFile="+p, ps)
			return p
		}
		if strings.HasSuffix(src, ".gz") {
			out, err := exec.Command("gzip", "-dc", src).Output()
			if err != nil {
				t.Skip("cannot gunzip", src)
			}
			os.WriteFile(p, out, 0o644)
		} else {
			b, _ := os.ReadFile(src)
			os.WriteFile(p, b, 0o644)
		}
	default:
		t.Fatalf("unknown input %q", name)
	}
	return p
}

// sgDebianPDFs lists the PDFs shipped by Debian doc packages on this
// machine (the same ones make-test-pdfs.sh picks up).
func sgDebianPDFs() []string {
	var found []string
	filepath.WalkDir("/usr/share/doc", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".pdf") || strings.HasSuffix(path, ".pdf.gz")) {
			found = append(found, path)
		}
		return nil
	})
	return found
}

// TestSignRealWorldPDFs signs every Debian documentation PDF present
// (other producers: pdfTeX, LaTeX, DocBook toolchains) through all
// validators; the matrix covers the machine without any.
func TestSignRealWorldPDFs(t *testing.T) {
	docs := sgDebianPDFs()
	if len(docs) == 0 {
		t.Skip("no PDFs under /usr/share/doc; TestSignMatrix signs a Ghostscript stand-in")
	}
	if len(docs) > 8 {
		docs = docs[:8]
	}
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	for _, src := range docs {
		t.Run(filepath.Base(src), func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in.pdf")
			if strings.HasSuffix(src, ".gz") {
				out, err := exec.Command("gzip", "-dc", src).Output()
				if err != nil {
					t.Skip("cannot gunzip", src)
				}
				os.WriteFile(in, out, 0o644)
			} else {
				b, _ := os.ReadFile(src)
				os.WriteFile(in, b, 0o644)
			}
			out := filepath.Join(t.TempDir(), "out.pdf")
			if err := SignFile(context.Background(), in, out, s, SignOptions{Appearance: sgVisibleAt(1)}); err != nil {
				t.Fatal(err)
			}
			v.check(t, out, 1)
		})
	}
}

func sgDebianPDF() string {
	var found string
	filepath.WalkDir("/usr/share/doc", func(path string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".pdf") || strings.HasSuffix(path, ".pdf.gz")) {
			found = path
		}
		return nil
	})
	return found
}

func sgPngLogo() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 8), 80, uint8(y * 10), uint8(128 + x*4)})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func sgVisibleAt(page int) *Appearance {
	return &Appearance{Page: page, X: 300, Y: 80, Width: 240, Height: 70}
}

// TestSignMatrix covers every key type, level, sgInput kind and appearance
// at least once (not every combination), each through qpdf, pdfsig and
// openssl cms.
func TestSignMatrix(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	cases := []struct {
		name    string
		key     testpki.KeyType
		alg     signer.Algorithm
		level   Level
		sgInput string
		app     *Appearance
		certify bool
	}{
		{"rsa2048-BB-classic-invisible", testpki.RSA2048, "", LevelBB, "classic", nil, false},
		{"rsa2048-pss-BB-gs", testpki.RSA2048, signer.RSAPSS, LevelBB, "gs", nil, false},
		{"rsa3072-BT-objstm-visible", testpki.RSA3072, "", LevelBT, "objstm", sgVisibleAt(1), false},
		{"rsa4096-BLT-linearized", testpki.RSA4096, "", LevelBLT, "linearized", nil, false},
		{"p256-BLTA-forms-visible-logo", testpki.P256, "", LevelBLTA, "forms", &Appearance{Page: 2, X: 50, Y: 50, Width: 260, Height: 80, Image: sgPngLogo()}, false},
		{"p384-BT-classic-certify", testpki.P384, "", LevelBT, "classic", nil, true},
		{"rsa2048-BB-debian", testpki.RSA2048, "", LevelBB, "debian", sgVisibleAt(1), false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := sgInput(t, c.sgInput)
			out := filepath.Join(t.TempDir(), "out.pdf")
			s := w.leaf(t, c.key, 0, "Rajesh Kumar")
			opts := SignOptions{Level: c.level, Reason: "Loan agreement", Location: "Bengaluru", Appearance: c.app,
				Timestamper: w.tsa, Revocation: w.ocsp, Algorithm: c.alg, Certify: c.certify,
				ExtraCertificates: w.extra()}
			if err := SignFile(context.Background(), in, out, s, opts); err != nil {
				t.Fatal(err)
			}
			want := 1
			if c.level == LevelBLTA {
				want = 2
			}
			v.check(t, out, want)
			sgCheckStructure(t, in, out, c.level)
			if got := sgLevelOf(t, out, w); got != string(c.level) {
				t.Errorf("our verify reports level %q, want %q", got, c.level)
			}
			_ = i
		})
	}
}

// sgCheckStructure reads the output with our parser: earlier fields are
// kept, the signature field is added, and a DSS exists for B-LT.
func sgCheckStructure(t *testing.T, in, out string, level Level) {
	t.Helper()
	before, after := sgFieldNames(t, in), sgFieldNames(t, out)
	for _, n := range before {
		if !sgContains(after, n) {
			t.Errorf("field %q lost: before %v, after %v", n, before, after)
		}
	}
	if len(after) <= len(before) {
		t.Errorf("no signature field added: %v", after)
	}
	st := sgOpenState(t, out)
	if level.rank() >= 2 {
		dss, _ := st.dict(st.catalog.Get("DSS"))
		if dss == nil || dss.Get("Certs") == nil || dss.Get("OCSPs") == nil || dss.Get("VRI") == nil {
			t.Errorf("no complete DSS in the catalog")
		}
	}
}

func sgContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func sgOpenState(t testing.TB, path string) *tailState {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	d, err := openDocument(context.Background(), f, fi.Size(), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stateFromDocument(d)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func sgFieldNames(t testing.TB, path string) []string {
	st := sgOpenState(t, path)
	af, _ := st.dict(st.catalog.Get("AcroForm"))
	if af == nil {
		return nil
	}
	fv, _ := st.resolve(af.Get("Fields"))
	var names []string
	for _, f := range fv.(syntax.Array) {
		d, _ := st.dict(f)
		if d != nil {
			if n, ok := d.Get("T").(syntax.String); ok {
				names = append(names, string(n.Bytes))
			}
		}
	}
	return names
}

// TestSecondSignature signs an already signed PDF (B-LT) again with
// another key: both signatures stay valid.
func TestSecondSignature(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.pdf"), filepath.Join(dir, "two.pdf")
	ctx := context.Background()
	s1 := w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar")
	s2 := w.leaf(t, testpki.P256, 0, "Priya Sharma")
	if err := SignFile(ctx, sgInput(t, "forms"), one, s1, SignOptions{Level: LevelBLT, Timestamper: w.tsa, Revocation: w.ocsp, ExtraCertificates: w.extra()}); err != nil {
		t.Fatal(err)
	}
	if err := SignFile(ctx, one, two, s2, SignOptions{Level: LevelBT, Timestamper: w.tsa, Appearance: sgVisibleAt(1)}); err != nil {
		t.Fatal(err)
	}
	v.check(t, two, 2)
	names := sgFieldNames(t, two)
	if diff := cmp.Diff([]string{"field1", "field2", "field3", "Signature1", "Signature2"}, names); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// And extend the whole thing to B-LTA afterwards.
	three := filepath.Join(dir, "three.pdf")
	if err := ExtendFile(ctx, two, three, LevelBLTA, SignOptions{Timestamper: w.tsa, Revocation: w.ocsp, ExtraCertificates: w.extra()}); err != nil {
		t.Fatal(err)
	}
	v.check(t, three, 3)
}

// TestSoftHSM signs with keys on a SoftHSM token through signer's PKCS#11
// code.
func TestSoftHSM(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	tok := softhsmtest.New(t)
	ctx := context.Background()
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.RSA3072, testpki.P256} {
		t.Run(string(kt), func(t *testing.T) {
			l := w.h.Issue(t, kt, testpki.Options{Slot: 7, CommonName: "Token User " + string(kt)})
			tok.Import(t, "key-"+string(kt), l.Key, l.Cert)
			m, err := signer.OpenModule(ctx, tok.Module)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s, err := m.Signer(ctx, signer.TokenSelector{Label: tok.Label}, signer.KeySelector{KeyLabel: "key-" + string(kt)}, []byte(tok.PIN))
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := s.(interface{ Close() error }); ok {
				defer c.Close()
			}
			out := filepath.Join(t.TempDir(), "out.pdf")
			err = SignFile(ctx, sgInput(t, "classic"), out, sgWithChain{s, l.Chain}, SignOptions{Level: LevelBT, Timestamper: w.tsa, Appearance: sgVisibleAt(1)})
			if err != nil {
				t.Fatal(err)
			}
			v.check(t, out, 1)
		})
	}
}

// sgWithChain adds intermediates to a signer whose token holds only the
// leaf certificate.
type sgWithChain struct {
	signer.Signer
	chain []*x509.Certificate
}

func (w sgWithChain) Chain() []*x509.Certificate { return w.chain }

func TestSignErrors(t *testing.T) {
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	dir := t.TempDir()
	classic := sgInput(t, "classic")
	data, _ := os.ReadFile(classic)
	testenv.LookPath(t, "qpdf", "qpdf")
	enc := filepath.Join(dir, "enc.pdf")
	sgRun(t, "qpdf", "--encrypt", "user", "owner", "256", "--", classic, enc)
	cases := []struct {
		name string
		in   string
		opts SignOptions
		want error
	}{
		{"encrypted", enc, SignOptions{}, ErrPassword},
		{"encrypted-wrong-password", enc, SignOptions{Password: []byte("guess")}, ErrPassword},
		{"garbage", sgWriteTemp(t, "g.pdf", []byte("%PDF-1.7\nnot really a pdf at all, no xref\n%%EOF\n")), SignOptions{}, ErrMalformed},
		{"truncated", sgWriteTemp(t, "t.pdf", data[:len(data)/2]), SignOptions{}, ErrMalformed},
		{"BT-without-TSA", classic, SignOptions{Level: LevelBT}, ErrOptions},
		{"BLT-without-revocation", classic, SignOptions{Level: LevelBLT, Timestamper: w.tsa}, ErrOptions},
		{"no-such-page", classic, SignOptions{Appearance: sgVisibleAt(99)}, ErrOptions},
		{"bad-level", classic, SignOptions{Level: "B-X"}, ErrOptions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".out.pdf")
			err := SignFile(ctx, c.in, out, s, c.opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output file left behind")
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func TestCertifiedDocuments(t *testing.T) {
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar")
	ctx := context.Background()
	dir := t.TempDir()
	certified := filepath.Join(dir, "certified.pdf")
	if err := SignFile(ctx, sgInput(t, "classic"), certified, s, SignOptions{Certify: true}); err != nil {
		t.Fatal(err)
	}
	// P=2 allows an approval signature, not a second certification.
	if err := SignFile(ctx, certified, filepath.Join(dir, "a.pdf"), s, SignOptions{}); err != nil {
		t.Errorf("approval after certification: %v", err)
	}
	if err := SignFile(ctx, certified, filepath.Join(dir, "c.pdf"), s, SignOptions{Certify: true}); !errors.Is(err, ErrOptions) {
		t.Errorf("certify twice: %v", err)
	}
	// P=1 forbids everything.
	data, _ := os.ReadFile(certified)
	locked := sgWriteTemp(t, "locked.pdf", bytes.Replace(data, []byte("/P 2/V /1.2"), []byte("/P 1/V /1.2"), 1))
	if err := SignFile(ctx, locked, filepath.Join(dir, "l.pdf"), s, SignOptions{}); !errors.Is(err, ErrCertified) {
		t.Errorf("sign P=1 document: %v", err)
	}
}

// TestContentsSizing checks the placeholder is computed, not guessed: the
// CMS fits for every key size, with little waste.
func TestContentsSizing(t *testing.T) {
	w := sgGetWorld(t)
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.RSA4096, testpki.P256} {
		s := w.leaf(t, kt, 0, "Rajesh Kumar")
		var out bytes.Buffer
		data := testpdf.Bytes(testpdf.Options{})
		if err := Sign(context.Background(), &out, bytes.NewReader(data), int64(len(data)), s, SignOptions{}); err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		st := sgOpenState(t, sgWriteTemp(t, "o.pdf", out.Bytes()))
		sigs, err := signatureContents(st)
		if err != nil || len(sigs) != 1 {
			t.Fatalf("%s: %v %d", kt, err, len(sigs))
		}
		if got := len(sigs[0]); got < 500 {
			t.Errorf("%s: CMS only %d bytes", kt, got)
		}
	}
}

// TestSignLargeFile takes the copy_file_range path (file to file, input
// above 16 MiB) and checks the copied bytes and the signature.
func TestSignLargeFile(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	in := filepath.Join(t.TempDir(), "large.pdf")
	if err := testpdf.WriteFile(in, testpdf.Options{PadBytes: 20 << 20}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.pdf")
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	if err := SignFile(context.Background(), in, out, s, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(out)
	if !bytes.HasPrefix(b, a) {
		t.Fatal("the output does not start with the input")
	}
	v.check(t, out, 1)
}

// sgLevelOf is the PAdES level our own verify reports for the first
// signature.
func sgLevelOf(t testing.TB, path string, w *sgTestWorld) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(w.h.Root.Cert)
	rep, err := VerifyFile(context.Background(), path, VerifyOptions{Roots: pool})
	if err != nil || len(rep.Signatures) == 0 {
		t.Fatalf("VerifyFile: %v", err)
	}
	return rep.Signatures[0].Level
}
