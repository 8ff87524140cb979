package sigpkg

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the packages")

// vector is one entry of testdata/vectors.json: a package file and what a
// link says about it; Check names the check that must fail (empty: valid).
type vector struct {
	Name      string   `json:"name"`
	Comment   string   `json:"comment"`
	Package   string   `json:"package"`
	PkgSHA256 string   `json:"pkgSha256"`
	RequestID string   `json:"requestId"`
	HashAlgo  string   `json:"hashAlgo"`
	Hashes    [][]byte `json:"hashes"`
	Check     string   `json:"check,omitempty"`
}

type manifest struct {
	Vectors []vector `json:"vectors"`
}

// prepared makes a prepared PDF showing text and returns it with the
// document of a package.
func prepared(t *testing.T, leaf *testpki.Leaf, name, text string) Document {
	t.Helper()
	in := testpdf.Minimal(text)
	var out bytes.Buffer
	ps, err := pdf.Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), leaf.Cert, leaf.Chain, pdf.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Size() != int64(out.Len()) {
		t.Fatalf("Size %d, file %d", ps.Size(), out.Len())
	}
	return Document{Name: name, PDF: out.Bytes(), SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
}

func digestOf(d Document) []byte {
	h := crypto.SHA256.New()
	h.Write(d.SignedAttrs)
	return h.Sum(nil)
}

// generate writes the vectors: run `go test -run TestVectors -update`.
func generate(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{Slot: 1})
	loan := prepared(t, leaf, "Personal Loan Agreement", "Personal Loan Agreement 4711")
	kfs := prepared(t, leaf, "Key Facts Statement", "Key Facts Statement 4711")
	nach := prepared(t, leaf, "NACH Mandate", "NACH Mandate 4711")
	harmless := prepared(t, leaf, "Newsletter consent", "Newsletter consent 4711")
	// Same length of text as loan, so only the bytes differ.
	swapped := prepared(t, leaf, "Personal Loan Agreement", "Personal Loan Agreement 9999")

	var m manifest
	add := func(name, comment string, docs []Document, hashes [][]byte, check string, mutate func([]byte) []byte) {
		t.Helper()
		raw, err := Build(&Package{RequestID: "req_" + name, Documents: docs})
		if err != nil && check != CheckFormat {
			t.Fatal(err)
		}
		if err != nil { // a package Build refuses: write it by hand
			raw, _ = json.Marshal(&Package{Version: Version, RequestID: "req_" + name, HashAlgo: "SHA256", Documents: docs})
		}
		sum := Digest(raw)
		if mutate != nil {
			raw = mutate(raw)
		}
		file := name + ".json"
		if err := os.WriteFile(filepath.Join("testdata", file), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m.Vectors = append(m.Vectors, vector{Name: name, Comment: comment, Package: file, PkgSHA256: sum,
			RequestID: "req_" + name, HashAlgo: "SHA256", Hashes: hashes, Check: check})
	}
	add("valid-1", "one document", []Document{loan}, [][]byte{digestOf(loan)}, "", nil)
	add("valid-3", "three documents, the link carries their digests", []Document{loan, kfs, nach},
		[][]byte{digestOf(loan), digestOf(kfs), digestOf(nach)}, "", nil)
	add("valid-3-no-link-digests", "three documents, the link carries only pkgSha256", []Document{loan, kfs, nach}, nil, "", nil)
	add("bad-package-hash", "the package changed after the link was made (a name edited)", []Document{loan},
		[][]byte{digestOf(loan)}, CheckPackageHash, func(b []byte) []byte {
			return bytes.Replace(b, []byte("Personal Loan Agreement"), []byte("Personal Loan Agreemenx"), 1)
		})
	sw := loan
	sw.PDF = swapped.PDF
	add("bad-swapped-pdf", "the prepared PDF swapped for another of the same layout; the signed attributes are the original's",
		[]Document{sw}, [][]byte{digestOf(loan)}, CheckMessageDigest, nil)
	add("bad-other-digest", "the link's digest is the loan's; the package shows a harmless document", []Document{harmless},
		[][]byte{digestOf(loan)}, CheckDigest, nil)
	uncovered := loan
	uncovered.PDF = append(bytes.Clone(loan.PDF), "1 0 obj\n<< /Type /Catalog >>\nendobj\n"...)
	add("bad-byterange-uncovered", "bytes appended after the prepared revision, outside the ByteRange",
		[]Document{uncovered}, [][]byte{digestOf(loan)}, CheckByteRange, nil)
	short := loan
	short.ByteRange[3] -= 10
	add("bad-byterange-short", "the ByteRange stops 10 bytes before the end of the file",
		[]Document{short}, [][]byte{digestOf(loan)}, CheckByteRange, nil)
	var many []Document
	for i := range MaxDocuments + 1 {
		many = append(many, Document{Name: fmt.Sprintf("Document %d", i+1), PDFURL: fmt.Sprintf("https://sign.example.in/d/%d.pdf", i+1),
			PDFSHA256: Digest([]byte{byte(i)}), SignedAttrs: loan.SignedAttrs, ByteRange: loan.ByteRange})
	}
	add("bad-oversize", "51 documents, one more than a package may hold", many, nil, CheckFormat, nil)

	out, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/vectors.json", append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Vectors
}

func TestVectors(t *testing.T) {
	if *update {
		generate(t)
	}
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", v.Package))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Check(raw, Expect{RequestID: v.RequestID, HashAlgo: crypto.SHA256, PackageSHA256: v.PkgSHA256, Hashes: v.Hashes}, nil)
			if v.Check == "" {
				if err != nil {
					t.Fatalf("valid vector refused: %v", err)
				}
				p, _ := Parse(raw)
				if len(got) != len(p.Documents) {
					t.Fatalf("%d verified, %d documents", len(got), len(p.Documents))
				}
				for i, d := range got {
					if len(v.Hashes) > 0 && !bytes.Equal(d.Digest, v.Hashes[i]) {
						t.Errorf("document %d: digest differs from the link's", i+1)
					}
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Check != v.Check {
				t.Fatalf("got %v, want check %s to fail", err, v.Check)
			}
		})
	}
}

// TestIndependentChecker runs testdata/check.py, written with Python's
// standard library only, over the vectors: it must accept the valid ones
// and refuse each bad one with the same check.
func TestIndependentChecker(t *testing.T) {
	py := testenv.LookPath(t, "python3", "python3")
	out, err := exec.Command(py, "testdata/check.py", "testdata/vectors.json").CombinedOutput()
	if err != nil {
		t.Fatalf("check.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestVectorPDFsQPDF: the prepared PDFs of the valid vectors are sound PDFs
// by qpdf, a reader nobody here wrote.
func TestVectorPDFsQPDF(t *testing.T) {
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	for _, v := range readVectors(t) {
		if v.Check != "" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("testdata", v.Package))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range p.Documents {
			path := filepath.Join(t.TempDir(), "doc.pdf")
			if err := os.WriteFile(path, d.PDF, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil {
				t.Errorf("%s document %d: qpdf --check: %v\n%s", v.Name, i+1, err, out)
			}
		}
	}
}
