package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// sgTestWorld is a test PKI: hierarchy, a TSA and an OCSP source.
type sgTestWorld struct {
	h    *testpki.Hierarchy
	tsa  *sgTestTSA
	ocsp *sgTestOCSP
}

var (
	sgWorldOnce sync.Once
	sgWorld     *sgTestWorld
)

func sgGetWorld(t testing.TB) *sgTestWorld {
	t.Helper()
	sgWorldOnce.Do(func() {
		h := testpki.NewHierarchy(t)
		h.Intermediate.Cert = sgIntermediateWithOCSP(t, h)
		w := &sgTestWorld{h: h}
		w.tsa = sgNewTestTSA(t, h)
		w.ocsp = &sgTestOCSP{keys: map[string]crypto.Signer{
			string(h.Root.Cert.Raw):         h.Root.Key,
			string(h.Intermediate.Cert.Raw): h.Intermediate.Key,
		}}
		sgWorld = w
	})
	if sgWorld == nil {
		t.Fatal("test PKI setup failed")
	}
	return sgWorld
}

// extra is what B-LT needs beyond the chains: the root.
func (w *sgTestWorld) extra() []*x509.Certificate { return []*x509.Certificate{w.h.Root.Cert} }

// leaf issues a signing certificate and returns a software signer.
func (w *sgTestWorld) leaf(t testing.TB, kt testpki.KeyType, slot int, cn string) signer.Signer {
	t.Helper()
	// The OCSP URL is never fetched (sgOCSP answers in-process); it tells
	// B-LT that the certificate has revocation data to embed.
	l := w.h.Issue(t, kt, testpki.Options{Slot: slot, CommonName: cn, OCSPServer: []string{"http://127.0.0.1:9/ocsp"}})
	s, err := signer.NewSoftware(l.Key, l.Cert, l.Chain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sgTestTSA is an in-process RFC 3161 TSA (digitorus/timestamp).
type sgTestTSA struct {
	cert  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate
	calls int
	mu    sync.Mutex
}

func sgNewTestTSA(t testing.TB, h *testpki.Hierarchy) *sgTestTSA {
	key := testpki.Key(t, testpki.P256, 900)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(time.Now().UnixNano()),
		Subject:         pkix.Name{CommonName: "SecureSign Test TSA", Country: []string{"IN"}},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().AddDate(5, 0, 0),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		OCSPServer:      []string{"http://127.0.0.1:9/ocsp"},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, h.Intermediate.Cert, key.Public(), h.Intermediate.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &sgTestTSA{cert: c, key: key, chain: []*x509.Certificate{h.Intermediate.Cert}}
}

func (a *sgTestTSA) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	a.mu.Lock()
	a.calls++
	a.mu.Unlock()
	ts := timestamp.Timestamp{
		HashAlgorithm: h, HashedMessage: digest, Time: time.Now(),
		Policy:            asn1.ObjectIdentifier{1, 2, 3, 4, 1},
		SerialNumber:      big.NewInt(time.Now().UnixNano()),
		AddTSACertificate: true,
		Certificates:      a.chain,
	}
	resp, err := ts.CreateResponseWithOpts(a.cert, a.key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

// sgTestOCSP answers "good" for every certificate with an OCSP response
// signed by its issuer.
type sgTestOCSP struct {
	keys map[string]crypto.Signer // issuer DER -> key
}

func (o *sgTestOCSP) Check(ctx context.Context, cert, issuer *x509.Certificate) (*pki.RevocationStatus, error) {
	key := o.keys[string(issuer.Raw)]
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	der, err := ocsp.CreateResponse(issuer, issuer, ocsp.Response{
		Status: ocsp.Good, SerialNumber: cert.SerialNumber,
		ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour),
	}, key)
	if err != nil {
		return nil, err
	}
	return &pki.RevocationStatus{State: pki.StateGood, Source: pki.SourceOCSP, OCSPResponse: der, ThisUpdate: now}, nil
}

// sgValidators runs the external sgValidators on a signed PDF.
type sgValidators struct {
	nssDir   string
	root     string
	rootCert *x509.Certificate
}

func sgNewValidators(t testing.TB, w *sgTestWorld) *sgValidators {
	t.Helper()
	return sgNewValidatorsRoot(t, w.h.Root.Cert)
}

// sgNewValidatorsRoot sets up the validators with root as the only trust
// anchor.
func sgNewValidatorsRoot(t testing.TB, rootCert *x509.Certificate) *sgValidators {
	t.Helper()
	testenv.LookPath(t, "qpdf", "qpdf")
	testenv.LookPath(t, "pdfsig", "poppler-utils")
	testenv.LookPath(t, "certutil", "libnss3-tools")
	testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(root, testpki.PEM(rootCert), 0o644); err != nil {
		t.Fatal(err)
	}
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	sgRun(t, "certutil", "-N", "-d", "sql:"+nss, "--empty-password")
	sgRun(t, "certutil", "-A", "-d", "sql:"+nss, "-n", "root", "-t", "C,C,C", "-i", root)
	return &sgValidators{nssDir: nss, root: root, rootCert: rootCert}
}

func sgRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// check runs qpdf --check, pdfsig and openssl cms/ts over every signature
// and requires all of them to pass; wantSigs counts signature fields
// (document timestamps included, which poppler 22 cannot validate: openssl
// ts checks those).
func (v *sgValidators) check(t testing.TB, path string, wantSigs int) {
	t.Helper()
	if out, err := exec.Command("qpdf", "--check", path).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check %s: %v\n%s", path, err, out)
	}
	out, err := exec.Command("pdfsig", "-nssdir", "sql:"+v.nssDir, path).CombinedOutput()
	if err != nil {
		t.Errorf("pdfsig: %v\n%s", err, out)
	}
	s := string(out)
	docTS := strings.Count(s, "Signature Type: unknown") // ETSI.RFC3161 in poppler 22
	if n := strings.Count(s, "Signature is Valid"); n != wantSigs-docTS || n == 0 {
		t.Errorf("pdfsig: %d valid signatures, want %d\n%s", n, wantSigs-docTS, s)
	}
	// The signing certificates must be trusted (document timestamps are
	// not checked for trust by pdfsig).
	if strings.Contains(s, "Certificate Validation: Certificate issuer isn't Trusted") ||
		strings.Contains(s, "Certificate has Expired") {
		t.Errorf("pdfsig: untrusted certificate\n%s", s)
	}
	data, _ := os.ReadFile(path)
	endsWithDSS := sgDssAfterLastSignature(data)
	if !strings.Contains(s, "Total document signed") && !endsWithDSS {
		t.Errorf("pdfsig: the last signature does not cover the whole document\n%s", s)
	}
	v.cms(t, path, wantSigs)
	v.ours(t, path, wantSigs)
}

// ours runs this package's own validation (the pdf-verify half) over the
// output: every signature must come out TOTAL_PASSED.
func (v *sgValidators) ours(t testing.TB, path string, wantSigs int) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(v.rootCert)
	rep, err := VerifyFile(context.Background(), path, VerifyOptions{Roots: pool})
	if err != nil {
		t.Errorf("VerifyFile: %v", err)
		return
	}
	if len(rep.Signatures) != wantSigs {
		t.Errorf("VerifyFile: %d signatures, want %d", len(rep.Signatures), wantSigs)
	}
	for _, s := range rep.Signatures {
		if s.Indication != TotalPassed {
			t.Errorf("VerifyFile: %s: %s/%s %v", s.Field, s.Indication, s.SubIndication, s.Messages)
		}
	}
}

var sgByteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// cms verifies each signature's CMS over its byte ranges with openssl.
func (v *sgValidators) cms(t testing.TB, path string, wantSigs int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ms := sgByteRangeRE.FindAllSubmatch(data, -1)
	if len(ms) != wantSigs {
		t.Errorf("%d /ByteRange entries, want %d", len(ms), wantSigs)
	}
	for i, m := range ms {
		var br [4]int
		for j := range br {
			br[j], _ = strconv.Atoi(string(m[j+1]))
		}
		if br[0] != 0 || br[1] >= br[2] || br[2]+br[3] > len(data) {
			t.Errorf("signature %d: bad ByteRange %v", i, br)
			continue
		}
		if i == len(ms)-1 && br[2]+br[3] != len(data) && !sgDssAfterLastSignature(data) {
			t.Errorf("last signature does not reach the end of the file")
		}
		content := append(append([]byte{}, data[:br[1]]...), data[br[2]:br[2]+br[3]]...)
		hexs := strings.TrimRight(string(data[br[1]+1:br[2]-1]), "0")
		if len(hexs)%2 == 1 {
			hexs += "0"
		}
		raw := make([]byte, len(hexs)/2)
		for k := range raw {
			b, _ := strconv.ParseUint(hexs[2*k:2*k+2], 16, 8)
			raw[k] = byte(b)
		}
		var rv asn1.RawValue
		if _, err := asn1.Unmarshal(raw, &rv); err != nil {
			// Trailing zero bytes of the DER itself may have been trimmed.
			for pad := 1; pad < 4 && err != nil; pad++ {
				raw = append(raw, 0)
				_, err = asn1.Unmarshal(raw, &rv)
			}
			if err != nil {
				t.Errorf("signature %d: contents are not DER: %v", i, err)
				continue
			}
		}
		sigFile := filepath.Join(dir, "sig"+strconv.Itoa(i)+".der")
		binFile := filepath.Join(dir, "sig"+strconv.Itoa(i)+".bin")
		os.WriteFile(sigFile, rv.FullBytes, 0o644)
		os.WriteFile(binFile, content, 0o644)
		isDocTS := bytes.Contains(data[max(0, br[1]-3000):br[1]], []byte("/ETSI.RFC3161"))
		var cmd *exec.Cmd
		if isDocTS {
			cmd = exec.Command("openssl", "ts", "-verify", "-data", binFile, "-in", sigFile, "-token_in", "-CAfile", v.root)
		} else {
			cmd = exec.Command("openssl", "cms", "-verify", "-binary", "-content", binFile, "-inform", "DER", "-in", sigFile, "-CAfile", v.root, "-purpose", "any", "-out", os.DevNull)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("signature %d (doc timestamp %v): %s: %v\n%s", i, isDocTS, cmd.Args[:3], err, out)
		}
	}
}

func sgWriteTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sgDssAfterLastSignature reports whether the bytes after the last signed
// range are exactly one DSS revision (B-LT).
func sgDssAfterLastSignature(data []byte) bool {
	ms := sgByteRangeRE.FindAllSubmatch(data, -1)
	if len(ms) == 0 {
		return false
	}
	m := ms[len(ms)-1]
	c, _ := strconv.Atoi(string(m[3]))
	d, _ := strconv.Atoi(string(m[4]))
	if c+d > len(data) {
		return false
	}
	tail := data[c+d:]
	return bytes.Count(tail, []byte("/Type /DSS")) == 1 && bytes.Count(tail, []byte("%%EOF")) == 1
}

// save writes the test PKI (certificates and keys; throwaway test keys)
// for a helper process; sgLoadWorld reads it back.
func (w *sgTestWorld) save(t testing.TB) string {
	dir := t.TempDir()
	put := func(name string, c *x509.Certificate, k crypto.Signer) {
		os.WriteFile(filepath.Join(dir, name+".pem"), append(testpki.PEM(c), testpki.KeyPEM(t, k)...), 0o600)
	}
	put("root", w.h.Root.Cert, w.h.Root.Key)
	put("inter", w.h.Intermediate.Cert, w.h.Intermediate.Key)
	put("tsa", w.tsa.cert, w.tsa.key)
	return dir
}

func sgLoadWorld(t testing.TB, dir string) *sgTestWorld {
	get := func(name string) (*x509.Certificate, crypto.Signer) {
		b, err := os.ReadFile(filepath.Join(dir, name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		var cert *x509.Certificate
		var key crypto.Signer
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE":
				cert, _ = x509.ParseCertificate(blk.Bytes)
			case "PRIVATE KEY":
				k, _ := x509.ParsePKCS8PrivateKey(blk.Bytes)
				key, _ = k.(crypto.Signer)
			}
		}
		if cert == nil || key == nil {
			t.Fatalf("bad %s.pem", name)
		}
		return cert, key
	}
	rc, rk := get("root")
	ic, ik := get("inter")
	tc, tk := get("tsa")
	h := &testpki.Hierarchy{Root: testpki.CA{Cert: rc, Key: rk}, Intermediate: testpki.CA{Cert: ic, Key: ik}}
	return &sgTestWorld{
		h:    h,
		tsa:  &sgTestTSA{cert: tc, key: tk, chain: []*x509.Certificate{ic}},
		ocsp: &sgTestOCSP{keys: map[string]crypto.Signer{string(rc.Raw): rk, string(ic.Raw): ik}},
	}
}

// sgIntermediateWithOCSP re-issues the test intermediate (same key) with an
// OCSP URL, so that B-LT has revocation data to embed for the whole chain.
func sgIntermediateWithOCSP(t testing.TB, h *testpki.Hierarchy) *x509.Certificate {
	old := h.Intermediate.Cert
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: old.Subject,
		NotBefore: old.NotBefore, NotAfter: old.NotAfter, KeyUsage: old.KeyUsage,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		OCSPServer: []string{"http://127.0.0.1:9/ocsp"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, h.Root.Cert, old.PublicKey, h.Root.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
