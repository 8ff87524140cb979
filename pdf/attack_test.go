package pdf

// Signature attacks from the published research on PDF signatures
// (Mladenov et al., "1 Trillion Dollar Refund", CCS 2019; Mainka et al.,
// "Shadow Attacks", NDSS 2021), each generated here from a freshly signed
// document. None may reach TOTAL_PASSED, and each report must say what was
// changed after signing. docs/attacks.md lists them.

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/digitorus/pdfsign/sign"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf/internal/syntax"
)

var vByteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// lastByteRange returns the values and the byte span of the last /ByteRange.
func lastByteRange(t testing.TB, doc []byte) (v [4]int64, start, end int) {
	t.Helper()
	all := vByteRangeRE.FindAllSubmatchIndex(doc, -1)
	if len(all) == 0 {
		t.Fatal("no /ByteRange")
	}
	m := all[len(all)-1]
	for i := 0; i < 4; i++ {
		v[i], _ = strconv.ParseInt(string(doc[m[2+2*i]:m[3+2*i]]), 10, 64)
	}
	return v, m[0], m[1]
}

// vPatch replaces doc[start:end] with s padded with spaces to the same
// length (so no offset moves).
func vPatch(t testing.TB, doc []byte, start, end int, s string) []byte {
	t.Helper()
	if len(s) > end-start {
		t.Fatalf("patch %q longer than %d bytes", s, end-start)
	}
	out := append([]byte(nil), doc...)
	copy(out[start:end], s+strings.Repeat(" ", end-start-len(s)))
	return out
}

// setByteRange rewrites the last /ByteRange (using the padding after it).
func setByteRange(t testing.TB, doc []byte, s string) []byte {
	t.Helper()
	_, start, end := lastByteRange(t, doc)
	for end < len(doc) && doc[end] == ' ' {
		end++
	}
	return vPatch(t, doc, start, end, s)
}

// contentsSpan returns the span of "/Contents<…>" of the last signature.
func contentsSpan(t testing.TB, doc []byte) (int, int) {
	t.Helper()
	v, _, _ := lastByteRange(t, doc)
	i := bytes.LastIndex(doc[:v[1]], []byte("/Contents"))
	if i < 0 {
		t.Fatal("no /Contents")
	}
	return i, int(v[2])
}

func vReplaceOnce(t testing.TB, doc []byte, old, new string) []byte {
	t.Helper()
	i := bytes.Index(doc, []byte(old))
	if i < 0 {
		t.Fatalf("%q not found", old)
	}
	out := append([]byte(nil), doc[:i]...)
	out = append(out, new...)
	return append(out, doc[i+len(old):]...)
}

// vObjectBody returns the body of object n as it appears last in doc.
func vObjectBody(t testing.TB, doc []byte, n int) string {
	t.Helper()
	h := []byte(fmt.Sprintf("\n%d 0 obj", n))
	i := bytes.LastIndex(doc, h)
	if i < 0 {
		t.Fatalf("object %d not found", n)
	}
	i += len(h)
	j := bytes.Index(doc[i:], []byte("endobj"))
	return strings.TrimSpace(string(doc[i : i+j]))
}

const evilContent = "BT /F1 24 Tf 72 700 Td (Pay 1000000 INR) Tj ET"

type attackCase struct {
	name string
	// build makes the attacked document from a document signed once (with
	// pdfsign) over baseDoc.
	build func(t *testing.T, signed []byte) []byte
	// base, when set, replaces baseDoc as the document signed first
	base func() []byte
	// errOK: Verify may refuse the file with an error (for instance a
	// truncated one); otherwise a report is required.
	errOK bool
	// wantMod is the expected modifiedAfter of the first signature.
	wantMod string
}

func attackCases() []attackCase {
	upd := func(objs map[int]string) func(*testing.T, []byte) []byte {
		return func(t *testing.T, s []byte) []byte { return appendUpdate(t, s, vUpdate{objs: objs}) }
	}
	return []attackCase{
		// integrity
		{name: "byte-flip/content", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return vReplaceOnce(t, s, "(Pay 100 INR)", "(Pay 900 INR)")
		}},
		{name: "byte-flip/header", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			out := append([]byte(nil), s...)
			out[7] ^= 0x01
			return out
		}},
		{name: "byte-flip/after-contents", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return vReplaceOnce(t, s, "(Bengaluru)", "(Bengalurx)")
		}},
		{name: "cms-transplant", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			other := signWithPdfsign(t, bytes.Replace(baseDoc(), []byte("Pay 100 INR"), []byte("Pay 555 INR"), 1), pdfsignOpts{})
			a, b := contentsSpan(t, other)
			c, d := contentsSpan(t, s)
			if b-a != d-c {
				t.Fatalf("placeholder sizes differ")
			}
			out := append([]byte(nil), s...)
			copy(out[c:d], other[a:b])
			return out
		}},
		// incremental saving attacks
		{name: "isa/content-with-xref", wantMod: ModOther, build: upd(map[int]string{objContent: vStream("", evilContent)})},
		{name: "isa/content-no-xref", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return appendUpdate(t, s, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)}, noXref: true})
		}},
		{name: "isa/hidden-in-whitespace", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return appendUpdate(t, s, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)},
				prefix: strings.Repeat(" \n", 2048) + "% nothing to see here\n"})
		}},
		{name: "isa/object-hidden-from-xref", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return appendUpdate(t, s, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)}, hideInXref: true})
		}},
		{name: "isa/after-comment-cr", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return appendUpdate(t, s, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)}, prefix: "% a comment ended by CR\r", noXref: true})
		}},
		{name: "isa/catalog-openaction", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			_, root, _ := lastXref(t, s)
			n, _ := strconv.Atoi(strings.Fields(root)[0])
			body := vObjectBody(t, s, n)
			body = strings.Replace(body, "/Type /Catalog", "/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>", 1)
			return appendUpdate(t, s, vUpdate{objs: map[int]string{n: body}})
		}},
		// truncation
		{name: "truncated/middle", errOK: true, wantMod: ModOther, build: func(t *testing.T, s []byte) []byte { return s[:len(s)/2] }},
		{name: "truncated/eof-marker", errOK: true, wantMod: ModOther, build: func(t *testing.T, s []byte) []byte { return s[:len(s)-4] }},
		{name: "truncated/inside-signed-range", errOK: true, wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return s[:v[2]+v[3]-100]
		}},
		// ByteRange manipulation
		{name: "byterange/gap", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d %d %d]", v[1]-40, v[2], v[3]))
		}},
		{name: "byterange/overlap", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d %d %d]", v[2]+10, v[2], v[3]))
		}},
		{name: "byterange/out-of-bounds", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d %d %d]", v[1], v[2], v[3]+1000))
		}},
		{name: "byterange/not-from-zero", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [9 %d %d %d]", v[1]-9, v[2], v[3]))
		}},
		{name: "byterange/short-end", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d %d %d]", v[1], v[2], v[3]-50))
		}},
		// universal signature forgery
		{name: "usf/byterange-missing", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return setByteRange(t, s, "/Foo 0")
		}},
		{name: "usf/byterange-null", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return setByteRange(t, s, "/ByteRange null")
		}},
		{name: "usf/byterange-three-values", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d %d]", v[1], v[2]))
		}},
		{name: "usf/byterange-negative", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			return setByteRange(t, s, fmt.Sprintf("/ByteRange [0 %d -%d %d]", v[1], v[2], v[3]))
		}},
		{name: "usf/byterange-strings", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			return setByteRange(t, s, "/ByteRange [(0) (1) (2) (3)]")
		}},
		{name: "usf/contents-missing", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			a, b := contentsSpan(t, s)
			return vPatch(t, s, a, b, "/Foo<00>")
		}},
		{name: "usf/contents-null", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			a, b := contentsSpan(t, s)
			return vPatch(t, s, a, b, "/Contents null")
		}},
		{name: "usf/contents-empty", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			a, b := contentsSpan(t, s)
			return vPatch(t, s, a, b, "/Contents<>")
		}},
		{name: "usf/contents-zeros", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			a, b := contentsSpan(t, s)
			return vPatch(t, s, a, b, "/Contents<"+strings.Repeat("0", b-a-12)+">")
		}},
		// signature wrapping
		{name: "wrapping/byterange-points-elsewhere", wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			sigNum := sigObjectNumber(t, s)
			return appendUpdate(t, s, vUpdate{objs: map[int]string{sigNum: vObjectBody(t, s, sigNum), objContent: vStream("", evilContent)}})
		}},
		{name: "wrapping/signed-bytes-moved", errOK: true, wantMod: ModOther, build: func(t *testing.T, s []byte) []byte {
			v, _, _ := lastByteRange(t, s)
			junk := []byte("\n99 0 obj\n" + vStream("", evilContent) + "\nendobj\n")
			out := append([]byte(nil), s[:v[2]]...)
			out = append(out, junk...)
			out = append(out, s[v[2]:]...)
			return setByteRange(t, out, fmt.Sprintf("/ByteRange [0 %d %d %d]", v[1], v[2]+int64(len(junk)), v[3]))
		}},
		// shadow attacks
		{name: "shadow/hide-overlay-made-visible", wantMod: ModOther, build: upd(map[int]string{
			objPage: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 11 0 R] /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R] >>",
			11:      vStream("", "/X1 Do"),
		})},
		{name: "shadow/replace-font", wantMod: ModOther, build: upd(map[int]string{
			objFont: "<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>",
		})},
		{name: "shadow/replace-xobject", wantMod: ModOther, build: upd(map[int]string{
			objOverlay: vStream("/Type /XObject /Subtype /Form /BBox [0 0 612 792]", "0 0 0 rg 0 0 612 792 re f"),
		})},
		{name: "shadow/replace-dangling-reference", wantMod: ModOther,
			base: func() []byte {
				objs := baseObjects()
				objs[objPage-1] = strings.Replace(objs[objPage-1], "/Contents 4 0 R", "/Contents [4 0 R 11 0 R]", 1)
				return testpdf.Objects(objs)
			},
			build: upd(map[int]string{11: vStream("", evilContent)})},
		{name: "shadow/hide-and-replace", wantMod: ModOther, build: upd(map[int]string{
			objContent: vStream("", "/X1 Do "+evilContent),
			objFont:    "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
		})},
		{name: "shadow/form-field-value-overlay", wantMod: ModAnnotations, build: upd(map[int]string{
			objField: "<< /FT /Tx /T (amount) /V (1000000) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 11 0 R >> >>",
			11:       vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 2 5 Td (1000000) Tj ET"),
		})},
		{name: "shadow/annotation-overlay", wantMod: ModAnnotations, build: upd(map[int]string{
			objPage: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 20 0 R] >>",
			20:      "<< /Type /Annot /Subtype /FreeText /Rect [60 690 400 730] /Contents (Pay 1000000 INR) /DA (/Helv 24 Tf 0 g) /AP << /N 21 0 R >> >>",
			21:      vStream("/Type /XObject /Subtype /Form /BBox [0 0 340 40] /Resources << /XObject << /X1 6 0 R >> >>", "/X1 Do"),
		})},
		{name: "shadow/sneaky-unsigned-signature-field", wantMod: ModAnnotations, build: func(t *testing.T, s []byte) []byte {
			// an empty signature field whose appearance paints over the page
			_, root, _ := lastXref(t, s)
			n, _ := strconv.Atoi(strings.Fields(root)[0])
			cat := strings.Replace(vObjectBody(t, s, n), "/Fields [", "/Fields [20 0 R ", 1)
			return appendUpdate(t, s, vUpdate{objs: map[int]string{
				n:       cat,
				objPage: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 20 0 R] >>",
				20:      "<< /FT /Sig /T (Approval) /Type /Annot /Subtype /Widget /Rect [0 650 612 750] /P 3 0 R /AP << /N 21 0 R >> >>",
				21:      vStream("/Type /XObject /Subtype /Form /BBox [0 0 612 100] /Resources << /XObject << /X1 6 0 R >> >>", "/X1 Do"),
			}})
		}},
		{name: "shadow/field-flags-unhidden", wantMod: ModAnnotations, base: func() []byte {
			return bytes.Replace(baseDoc(), []byte("/F 4 /AP"), []byte("/F 2 /AP"), 1)
		}, build: func(t *testing.T, s []byte) []byte {
			// a hidden widget made visible: /F is not a value change
			return appendUpdate(t, s, vUpdate{objs: map[int]string{objField: strings.Replace(vObjectBody(t, s, objField), "/F 2", "/F 4", 1)}})
		}},
	}
}

// sigObjectNumber finds the object number of the last signature dictionary.
func sigObjectNumber(t testing.TB, doc []byte) int {
	t.Helper()
	_, start, _ := lastByteRange(t, doc)
	i := bytes.LastIndex(doc[:start], []byte(" 0 obj"))
	j := bytes.LastIndexAny(doc[:i], "\n\r")
	n, err := strconv.Atoi(string(doc[j+1 : i]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAttacks(t *testing.T) {
	p := getPKI(t)
	signedBase := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	for _, tc := range attackCases() {
		t.Run(tc.name, func(t *testing.T) {
			signed := signedBase
			if tc.base != nil {
				signed = signWithPdfsign(t, tc.base(), pdfsignOpts{})
				// the unattacked document must be valid
				if rep := mustVerify(t, signed); !rep.Valid {
					t.Fatalf("unattacked base not valid:\n%s", dumpReport(rep))
				}
			}
			doc := tc.build(t, signed)
			rep, err := verifyBytes(t, doc, VerifyOptions{Roots: p.roots})
			if err != nil {
				if !tc.errOK {
					t.Fatalf("Verify error: %v", err)
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) {
					t.Fatalf("error %v is neither ErrMalformed nor ErrLimit", err)
				}
				return
			}
			if rep.Valid {
				t.Fatalf("attack reported valid:\n%s", dumpReport(rep))
			}
			if len(rep.Signatures) == 0 {
				return // the signature is gone: nothing is claimed valid
			}
			s := rep.Signatures[0]
			if s.Indication == TotalPassed {
				t.Fatalf("first signature TOTAL_PASSED:\n%s", dumpReport(rep))
			}
			if s.ModifiedAfter != tc.wantMod {
				t.Errorf("modifiedAfter = %q, want %q\n%s", s.ModifiedAfter, tc.wantMod, dumpReport(rep))
			}
			if len(s.Messages) == 0 {
				t.Errorf("no message explains the failure")
			}
			t.Logf("%s/%s: %s", s.Indication, s.SubIndication, strings.Join(s.Messages, "; "))
		})
	}
}

// TestAccepted: changes that PAdES allows after a signature keep it valid.
func TestAccepted(t *testing.T) {
	p := getPKI(t)
	tsa := tsaServer(t, p)
	signed := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	cases := []struct {
		name    string
		build   func(t *testing.T) []byte
		wantMod string
		nSigs   int
	}{
		{"later-signature", func(t *testing.T) []byte {
			return signWithPdfsign(t, signed, pdfsignOpts{leaf: p.leaf2})
		}, ModSignatures, 2},
		{"document-timestamp", func(t *testing.T) []byte {
			return signWithPdfsign(t, signed, pdfsignOpts{certType: sign.TimeStampSignature, tsaURL: tsa})
		}, ModSignatures, 2},
		{"dss", func(t *testing.T) []byte { return addDSS(t, signed) }, ModDSS, 1},
		{"dss-then-document-timestamp", func(t *testing.T) []byte {
			return signWithPdfsign(t, addDSS(t, signed), pdfsignOpts{certType: sign.TimeStampSignature, tsaURL: tsa})
		}, ModDSS, 2},
		{"signature-timestamp", func(t *testing.T) []byte {
			return signWithPdfsign(t, baseDoc(), pdfsignOpts{tsaURL: tsa})
		}, ModNone, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.build(t)
			rep := mustVerify(t, doc)
			if !rep.Valid || len(rep.Signatures) != tc.nSigs {
				t.Fatalf("want %d valid signatures:\n%s", tc.nSigs, dumpReport(rep))
			}
			if got := rep.Signatures[0].ModifiedAfter; got != tc.wantMod {
				t.Errorf("modifiedAfter = %q, want %q", got, tc.wantMod)
			}
			if tc.name == "signature-timestamp" && rep.Signatures[0].Timestamp == nil {
				t.Errorf("no timestamp reported")
			}
		})
	}
}

// addDSS appends a DSS with the chain's certificates, as B-LT does.
func addDSS(t testing.TB, doc []byte) []byte {
	t.Helper()
	p := getPKI(t)
	f, err := syntax.Open(t.Context(), bytes.NewReader(doc), int64(len(doc)), syntax.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	last := len(f.Revisions) - 1
	rootRef := f.Revisions[last].Trailer["Root"].(syntax.Ref)
	cat, err := f.ResolveDict(last, rootRef)
	if err != nil {
		t.Fatal(err)
	}
	_, _, size := lastXref(t, doc)
	dssN, certN := int(size), int(size)+1
	cat2 := syntax.Dict{}
	for k, v := range cat {
		cat2[k] = v
	}
	cat2["DSS"] = syntax.Ref{Num: uint32(dssN)}
	der := p.h.Intermediate.Cert.Raw
	return appendUpdate(t, doc, vUpdate{objs: map[int]string{
		int(rootRef.Num): syntax.Format(cat2),
		dssN:             fmt.Sprintf("<< /Type /DSS /Certs [%d 0 R] >>", certN),
		certN:            fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(der), der),
	}})
}

// TestCertificationP1: a certification signature that allows no changes is
// not TOTAL_PASSED after another signature is added.
func TestCertificationP1(t *testing.T) {
	p := getPKI(t)
	rdrDoc := signWithPdfsignCert(t, baseDoc())
	rep := mustVerify(t, rdrDoc)
	if !rep.Valid {
		t.Fatalf("certified document not valid:\n%s", dumpReport(rep))
	}
	doc := signWithPdfsign(t, rdrDoc, pdfsignOpts{leaf: p.leaf2})
	rep = mustVerify(t, doc)
	if rep.Valid || rep.Signatures[0].SubIndication != SubSigConstraintsFailure {
		t.Fatalf("want SIG_CONSTRAINTS_FAILURE for the certification signature:\n%s", dumpReport(rep))
	}
}

// TestCertificationP1AllowsTimestampAndDSS: DocMDP P=1 still admits DSS
// data and document timestamps (PAdES B-LT/B-LTA of a certified document).
func TestCertificationP1AllowsTimestampAndDSS(t *testing.T) {
	p := getPKI(t)
	tsa := tsaServer(t, p)
	doc := signWithPdfsign(t, addDSS(t, signWithPdfsignCert(t, baseDoc())), pdfsignOpts{certType: sign.TimeStampSignature, tsaURL: tsa})
	rep := mustVerify(t, doc)
	if !rep.Valid {
		t.Fatalf("DSS and document timestamp after a P=1 certification must stay valid:\n%s", dumpReport(rep))
	}
}
