package gateway

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// putDoc stores a document as made age ago, in whichever store g uses.
func putDoc(t testing.TB, g *testGW, name string, data []byte, age time.Duration) {
	t.Helper()
	tmp := filepath.Join(g.srv.filesDir(), "put-"+randomHex(4)+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(-age)
	err := g.srv.docs.Save(context.Background(), name, tmp)
	g.clock.Advance(age)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.srv.docs.(dirDocs); ok {
		at := time.Now().Add(-age)
		os.Chtimes(filepath.Join(g.srv.filesDir(), name), at, at) //nolint:errcheck
	}
}

func hasDoc(t testing.TB, g *testGW, name string) bool {
	t.Helper()
	ok, err := g.srv.docs.Has(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// docNames lists the stored documents whose names start with prefix.
func docNames(t testing.TB, srv *Server, prefix string) []string {
	t.Helper()
	switch d := srv.docs.(type) {
	case dirDocs:
		names, _ := filepath.Glob(filepath.Join(d.dir, prefix+"*.pdf"))
		for i, n := range names {
			names[i] = filepath.Base(n)
		}
		return names
	case *pgDocs:
		rows, err := d.pool.Query(context.Background(), `SELECT name FROM documents WHERE starts_with(name, $1) ORDER BY name`, prefix)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n) //nolint:errcheck
			names = append(names, n)
		}
		return names
	}
	t.Fatalf("unknown document store %T", srv.docs)
	return nil
}

// removeDocs removes the stored documents whose names start with prefix.
func removeDocs(t testing.TB, srv *Server, prefix string) {
	t.Helper()
	for _, n := range docNames(t, srv, prefix) {
		if err := srv.docs.Remove(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(prefix, "/") {
		t.Fatal("prefix is a name, not a path")
	}
}

// TestDocumentsAcrossInstancesPostgres: three gateways on one PostgreSQL,
// each with its own data directory: a PDF session prepared on the first
// is finished by the second and downloaded from the third (pdfsig: one
// valid signature); no PDF lands in any data directory; retention removes
// the documents and their large objects.
func TestDocumentsAcrossInstancesPostgres(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	gs := pgInstances(t, 3, func(c *Config) { c.Retention = 24 * time.Hour })
	a, b, c := gs[0], gs[1], gs[2]
	k := testpki.Key(t, testpki.P256, 31)
	issued := a.issueCSR(a.key, "multi-user", k)
	app := appSigner(t, k, issued)
	out := a.must(201, "POST", "/v1/sign/pdf", a.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("three instances")), "certSerial": issued["serialNumber"]})
	rid := out["requestId"].(string)
	enc := signLink(t, a, out["deepLink"].(string), app)
	if code, ans := b.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback on B = %d %v", code, ans)
	}
	res, signed := c.raw("GET", "/v1/sessions/"+rid+"/pdf", a.key, nil)
	if res.StatusCode != 200 || !bytes.HasPrefix(signed, []byte("%PDF")) {
		t.Fatalf("download from C = %d %.200s", res.StatusCode, signed)
	}
	path := filepath.Join(t.TempDir(), "signed.pdf")
	os.WriteFile(path, signed, 0o600) //nolint:errcheck
	if rep, err := exec.Command(pdfsig, path).CombinedOutput(); !strings.Contains(string(rep), "Signature is Valid") || strings.Contains(string(rep), "Signature #2") {
		t.Errorf("pdfsig: %v\n%s", err, rep)
	}
	for _, g := range gs {
		if local, _ := filepath.Glob(filepath.Join(g.srv.filesDir(), "*.pdf")); len(local) > 0 {
			t.Errorf("PDFs in a data directory: %v", local)
		}
	}
	if got := docNames(t, c.srv, rid); len(got) != 2 {
		t.Errorf("stored documents of the session = %v, want prepared and signed", got)
	}

	// Retention on any instance removes them, large objects included.
	pg := c.srv.docs.(*pgDocs)
	var oids []uint32
	rows, _ := pg.pool.Query(context.Background(), `SELECT oid FROM documents`)
	for rows.Next() {
		var o uint32
		rows.Scan(&o) //nolint:errcheck
		oids = append(oids, o)
	}
	rows.Close()
	a.srv.applyRetention(context.Background(), time.Now().Add(48*time.Hour))
	if got := docNames(t, c.srv, ""); len(got) != 0 {
		t.Errorf("after retention: %v", got)
	}
	var left int
	if err := pg.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_largeobject_metadata WHERE oid = ANY($1)`, oids).Scan(&left); err != nil || left != 0 {
		t.Errorf("large objects left after retention: %d %v", left, err)
	}
}

// TestFinishDeferredWhenDocumentMissing: a result whose prepared document
// this instance cannot reach is kept, not reported signed and not failed:
// 503 (naming no path), and once the document is back the retry finishes
// the session with one signature.
func TestFinishDeferredWhenDocumentMissing(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.P256, 32)
	issued := g.issueCSR(g.key, "deferred", k)
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("deferred")), "certSerial": issued["serialNumber"]})
	rid := out["requestId"].(string)
	prepared := filepath.Join(g.srv.filesDir(), rid+"-0.prepared.pdf")
	away := filepath.Join(t.TempDir(), "away.pdf")
	if err := os.Rename(prepared, away); err != nil {
		t.Fatal(err)
	}
	enc := signLink(t, g, out["deepLink"].(string), app)
	res, body := g.raw("POST", "/v1/callback", "", "ss_result="+urlQueryEscape(enc), "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != 503 || bytes.Contains(body, []byte(`"accepted"`)) || bytes.Contains(body, []byte(g.dir)) {
		t.Fatalf("callback without the document = %d %s", res.StatusCode, body)
	}
	if res, body := g.raw("GET", "/v1/sessions/"+rid, g.key, nil); res.StatusCode != 503 || bytes.Contains(body, []byte(g.dir)) {
		t.Fatalf("status without the document = %d %s", res.StatusCode, body)
	}
	if err := os.Rename(away, prepared); err != nil {
		t.Fatal(err)
	}
	if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("retried callback = %d %v", code, ans)
	}
	if s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil); s["status"] != "signed" || s["signedPdfBase64"] == nil {
		t.Fatalf("session = %v", s)
	}
}

// BenchmarkPostgresGrowthPerSignedDocument reports how much PostgreSQL
// grows per token-signed 100 KB PDF: the schema's tables and indexes
// (sessions, audit, documents) plus the documents' large-object bytes,
// before and after the janitor drops the prepared copies.
func BenchmarkPostgresGrowthPerSignedDocument(b *testing.B) {
	g := newTestGW(b, newPostgresStore(b))
	pg := g.srv.docs.(*pgDocs)
	ctx := context.Background()
	k := testpki.Key(b, testpki.P256, 33)
	issued := g.issueCSR(g.key, "growth", k)
	app := appSigner(b, k, issued)
	doc := testpdf.Bytes(testpdf.Options{PadBytes: 100 << 10})
	size := func() (tables, objects int64) {
		b.Helper()
		if err := pg.pool.QueryRow(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&tables); err != nil {
			b.Fatal(err)
		}
		if err := pg.pool.QueryRow(ctx, `SELECT COALESCE(sum(octet_length(data)), 0)::bigint FROM pg_largeobject
			WHERE loid IN (SELECT oid FROM documents)`).Scan(&objects); err != nil {
			b.Fatal(err)
		}
		return tables, objects
	}
	t0, o0 := size()
	b.ResetTimer()
	for range b.N {
		out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(doc), "certSerial": issued["serialNumber"]})
		enc := signLink(b, g, out["deepLink"].(string), app)
		if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
			b.Fatalf("callback = %d %v", code, ans)
		}
	}
	b.StopTimer()
	t1, o1 := size()
	if _, err := pg.Sweep(ctx, time.Now().Add(time.Minute), time.Time{}); err != nil {
		b.Fatal(err)
	}
	_, o2 := size()
	n := float64(b.N)
	b.ReportMetric(float64(t1-t0)/n, "table-B/doc")
	b.ReportMetric(float64(o1-o0)/n, "lo-B/doc")
	b.ReportMetric(float64(o2-o0)/n, "lo-signed-only-B/doc")
}
