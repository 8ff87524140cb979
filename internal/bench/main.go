// Command bench compares PDF signing speed and memory: our CLI against the
// hashing floor (sha256sum, openssl dgst) and the peers (digitorus/pdfsign
// used directly, @signpdf), on generated 1/10/100 MB inputs, in one run.
//
//	go run ./internal/bench [-sizes 1,10,100] [-runs 3] [-dir DIR] [-validate]
//
// See README.md for the peers' setup.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func main() {
	sizes := flag.String("sizes", "0.1,1,10,100", "input sizes in MB (decimals allowed)")
	runs := flag.Int("runs", 3, "measured runs per command (after one warm-up)")
	dir := flag.String("dir", "", "work directory (default: a new temporary directory)")
	lab := flag.String("lab", envOr("LAB", filepath.Join(os.TempDir(), "securesign-lab")), "where setup-baselines.sh built the peers")
	baselines := flag.String("baselines", "/work/shared/tools/baselines", "peer sources, to build gosign when LAB has none")
	validate := flag.Bool("validate", false, "check every output with qpdf --check and pdfsig")
	flag.Parse()
	if err := run(*sizes, *runs, *dir, *lab, *baselines, *validate); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type tool struct {
	name string
	cmd  func(in, out string) []string
	peer bool
}

type result struct {
	size         int64
	tool         string
	wall, rssMiB float64
	ok           string
}

func run(sizesFlag string, runs int, dir, lab, baselines string, validate bool) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "securesign-bench-")
		if err != nil {
			return err
		}
		dir = d
	}
	fmt.Fprintln(os.Stderr, "work directory:", dir)
	ours := filepath.Join(dir, "securesign")
	if out, err := exec.Command("go", "build", "-o", ours, "./adapters/cmd/securesign").CombinedOutput(); err != nil {
		return fmt.Errorf("building the CLI (run from the module root): %v\n%s", err, out)
	}
	// The signonly build leaves out the gateway and the Desktop Software:
	// what start-up costs a one-shot signing of a small file.
	slim := filepath.Join(dir, "securesign-signonly")
	if out, err := exec.Command("go", "build", "-tags", "signonly", "-o", slim, "./adapters/cmd/securesign").CombinedOutput(); err != nil {
		return fmt.Errorf("building the signonly CLI: %v\n%s", err, out)
	}
	p12, certPEM, err := makePKI(dir)
	if err != nil {
		return err
	}
	tools := []tool{
		{"sha256sum (floor)", func(in, _ string) []string { return []string{"sha256sum", in} }, false},
		{"openssl dgst (floor)", func(in, _ string) []string { return []string{"openssl", "dgst", "-sha256", in} }, false},
		{"securesign pdf sign", func(in, out string) []string {
			return []string{ours, "pdf", "sign", "--in", in, "--out", out, "--p12", p12, "--p12-pass-env", "BENCH_P12_PASS"}
		}, false},
		{"securesign pdf sign (-tags signonly)", func(in, out string) []string {
			return []string{slim, "pdf", "sign", "--in", in, "--out", out, "--p12", p12, "--p12-pass-env", "BENCH_P12_PASS"}
		}, false},
		{"securesign pdf prepare", func(in, out string) []string {
			return []string{ours, "pdf", "prepare", "--in", in, "--cert", certPEM, "--state", out + ".state", "--prepared", out}
		}, false},
	}
	gosign := filepath.Join(lab, "gosign", "gosign")
	if _, err := os.Stat(gosign); err != nil {
		gosign = filepath.Join(dir, "gosign")
		if err := buildGosign(baselines, dir); err != nil {
			fmt.Fprintln(os.Stderr, "pdfsign peer skipped:", err)
			gosign = ""
		}
	}
	if gosign != "" {
		tools = append(tools, tool{"digitorus/pdfsign", func(in, out string) []string {
			return []string{gosign, "-in", in, "-out", out, "-p12", p12, "-pass", "test"}
		}, true})
	}
	js := filepath.Join(lab, "nodesign", "sign.js")
	if !fileExists(js) {
		// One command runs the whole comparison: install the node peer
		// from the npm registry with the lab's own script when it is absent.
		setup := filepath.Join(baselines, "..", "setup-baselines.sh")
		if fileExists(setup) {
			cmd := exec.Command("bash", setup, lab)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "setup-baselines.sh failed: %v\n", err)
			}
		}
	}
	if fileExists(js) {
		tools = append(tools, tool{"@signpdf (pdf-lib)", func(in, out string) []string {
			return []string{"node", js, "pdflib", in, out, p12, "test"}
		}, true})
	} else {
		fmt.Fprintln(os.Stderr, "@signpdf peer skipped: run setup-baselines.sh (needs the npm registry)")
	}
	os.Setenv("BENCH_P12_PASS", "test")

	var results []result
	for _, s := range strings.Split(sizesFlag, ",") {
		mb, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || mb <= 0 {
			return fmt.Errorf("-sizes: bad size %q", s)
		}
		in := filepath.Join(dir, fmt.Sprintf("in-%gMB.pdf", mb))
		if !fileExists(in) {
			if err := writePDF(in, int64(mb*(1<<20))); err != nil {
				return err
			}
		}
		fi, _ := os.Stat(in)
		for _, t := range tools {
			out := filepath.Join(dir, fmt.Sprintf("out-%gMB-%s.pdf", mb, strings.NewReplacer(" ", "_", "/", "_", "(", "", ")", "", "@", "").Replace(t.name)))
			wall, rss, err := measure(t.cmd(in, out), runs)
			r := result{size: fi.Size(), tool: t.name, wall: wall, rssMiB: rss, ok: "-"}
			if err != nil {
				r.ok = "FAILED: " + err.Error()
			} else if validate && strings.HasPrefix(t.name, "securesign pdf sign") || validate && t.peer {
				r.ok = check(out, filepath.Join(dir, "root.pem"))
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "%g MB %-24s %.3f s %.1f MiB %s\n", mb, t.name, wall, rss, r.ok)
		}
	}
	printTable(results)
	return nil
}

// measure runs argv once to warm the page cache, then runs times; it
// returns the median wall time and median peak RSS.
func measure(argv []string, runs int) (float64, float64, error) {
	var walls, rss []float64
	for i := 0; i <= runs; i++ {
		cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		w := time.Since(start).Seconds()
		if err != nil {
			return 0, 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		if i == 0 {
			continue
		}
		walls = append(walls, w)
		if r, ok := peakRSSMiB(cmd.ProcessState); ok {
			rss = append(rss, r)
		}
	}
	return median(walls), median(rss), nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func check(out, root string) string {
	if err := exec.Command("qpdf", "--check", out).Run(); err != nil {
		return "qpdf FAIL"
	}
	nss, _ := os.MkdirTemp("", "bench-nss-")
	defer os.RemoveAll(nss)
	exec.Command("certutil", "-N", "-d", "sql:"+nss, "--empty-password").Run()
	exec.Command("certutil", "-A", "-d", "sql:"+nss, "-n", "root", "-t", "C,C,C", "-i", root).Run()
	b, _ := exec.Command("pdfsig", "-nssdir", "sql:"+nss, out).CombinedOutput()
	if !strings.Contains(string(b), "Signature is Valid") || !strings.Contains(string(b), "Certificate is Trusted") {
		return "pdfsig FAIL"
	}
	return "qpdf+pdfsig ok"
}

func printTable(rs []result) {
	floor := map[int64]float64{}
	for _, r := range rs {
		if strings.HasPrefix(r.tool, "openssl dgst") {
			floor[r.size] = r.wall
		}
	}
	fmt.Println("| input | tool | wall (median) | × openssl floor | peak RSS | outputs |")
	fmt.Println("|---:|---|---:|---:|---:|---|")
	for _, r := range rs {
		ratio := "-"
		if f := floor[r.size]; f > 0 && r.wall > 0 {
			ratio = fmt.Sprintf("%.2f", r.wall/f)
		}
		fmt.Printf("| %.1f MB | %s | %.3f s | %s | %.1f MiB | %s |\n", float64(r.size)/1e6, r.tool, r.wall, ratio, r.rssMiB, r.ok)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func buildGosign(src, dir string) error {
	if !fileExists(filepath.Join(src, "gosign", "main.go")) {
		return fmt.Errorf("no gosign sources in %s", src)
	}
	d := filepath.Join(dir, "gosign-src")
	os.MkdirAll(d, 0o755)
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, "gosign", f))
		if err != nil {
			return err
		}
		os.WriteFile(filepath.Join(d, f), b, 0o644)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "gosign"), ".")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// makePKI writes root.pem, a PKCS#12 file (password "test") with an
// RSA-2048 leaf, and the leaf's PEM.
func makePKI(dir string) (p12Path, certPath string, err error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	now := time.Now().Add(-time.Hour)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Bench Root"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rder, err := x509.CreateCertificate(rand.Reader, root, root, &rk.PublicKey, rk)
	if err != nil {
		return "", "", err
	}
	rc, _ := x509.ParseCertificate(rder)
	lk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Bench Signer"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	lder, err := x509.CreateCertificate(rand.Reader, leaf, rc, &lk.PublicKey, rk)
	if err != nil {
		return "", "", err
	}
	lc, _ := x509.ParseCertificate(lder)
	pfx, err := pkcs12.Modern.Encode(lk, lc, []*x509.Certificate{rc}, "test")
	if err != nil {
		return "", "", err
	}
	p12Path, certPath = filepath.Join(dir, "signer.p12"), filepath.Join(dir, "signer.pem")
	os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rder}), 0o644)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: lder}), 0o644)
	return p12Path, certPath, os.WriteFile(p12Path, pfx, 0o600)
}

// writePDF writes a one-page PDF carrying an incompressible image of
// about size bytes, classic xref table.
func writePDF(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var n int64
	var offs []int64
	w := func(s string) { m, _ := f.WriteString(s); n += int64(m) }
	obj := func(body string) { offs = append(offs, n); w(fmt.Sprintf("%d 0 obj\n%s\nendobj\n", len(offs), body)) }
	w("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Count 1 /Kids [3 0 R] >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im 5 0 R >> >> /Contents 4 0 R >>")
	content := "q 400 0 0 400 100 300 cm /Im Do Q\n"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
	rows := (size + 1023) / 1024
	offs = append(offs, n)
	w(fmt.Sprintf("5 0 obj\n<< /Type /XObject /Subtype /Image /Width 1024 /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n", rows, rows*1024))
	rng := mrand.New(mrand.NewPCG(1, 2))
	buf := make([]byte, 1<<16)
	for left := rows * 1024; left > 0; {
		k := min(int64(len(buf)), left)
		for i := range buf[:k] {
			buf[i] = byte(rng.Uint32())
		}
		m, err := f.Write(buf[:k])
		if err != nil {
			return err
		}
		n += int64(m)
		left -= k
	}
	w("\nendstream\nendobj\n")
	x := n
	w(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(offs)+1))
	for _, o := range offs {
		w(fmt.Sprintf("%010d 00000 n \n", o))
	}
	w(fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, x))
	return f.Close()
}
