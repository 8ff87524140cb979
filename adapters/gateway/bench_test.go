package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// In-process benchmarks: requests go straight to the handler (no
// sockets), so they measure the gateway, its store and the crypto.
//
//	go test -run '^$' -bench . ./adapters/gateway

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration, n int64) {
	if now := cpuTime(); n > 0 && now > 0 {
		b.ReportMetric(float64((now-start).Microseconds())/float64(n), "cpu-µs/op")
	}
}

func benchStores(b *testing.B, f func(b *testing.B, st Store)) {
	b.Run("sqlite", func(b *testing.B) { f(b, newSQLiteStore(b)) })
	b.Run("postgres", func(b *testing.B) { f(b, newPostgresStore(b)) })
}

type benchGW struct {
	*testGW
	h http.Handler
}

func newBenchGW(b *testing.B, st Store) *benchGW {
	g := newTestGW(b, st, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
		c.RateLimitRPM, c.PublicRateLimitRPM = 1<<30, 1<<30
		c.MaxOpenSessions = 1 << 30
		if os.Getenv("BENCH_REVOCATION") != "" {
			c.Revocation = os.Getenv("BENCH_REVOCATION")
		}
	})
	return &benchGW{g, g.srv.Handler()}
}

// serve runs one request in-process and returns the status and body.
func (g *benchGW) serve(method, path, key, ctype string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	g.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func BenchmarkSessionCreate(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		g := newBenchGW(b, st)
		body := []byte(`{"hashBase64":"` + b64(digest("bench")) + `","hashAlgo":"SHA256"}`)
		b.SetParallelism(8)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if code, out := g.serve("POST", "/v1/sign/hash", g.key, "application/json", body); code != 201 {
					b.Fatalf("%d %s", code, out)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		reportCPU(b, cpu, int64(b.N))
	})
}

// BenchmarkHashSessionComplete is one completed hash session: create, then
// the callback with RSA-2048 verification (certificate chain, revocation
// from the gateway's own OCSP responder, cached) and the compare-and-set.
// The app's signature is made once: every session signs the same digest.
func BenchmarkHashSessionComplete(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		g := newBenchGW(b, st)
		k := testpki.Key(b, testpki.RSA2048, 30)
		app := appSigner(b, k, g.issueCSR(g.key, "bench", k))
		d := digest("bench")
		sig, err := signer.SignDigest(context.Background(), app, signer.RSAPKCS1v15, crypto.SHA256, d)
		if err != nil {
			b.Fatal(err)
		}
		body := []byte(`{"hashBase64":"` + b64(d) + `"}`)
		var n atomic.Int64
		// Several clients per core, as a gateway serves them.
		b.SetParallelism(8)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code, out := g.serve("POST", "/v1/sign/hash", g.key, "application/json", body)
				if code != 201 {
					b.Fatalf("create: %d %s", code, out)
				}
				var s struct{ RequestID string }
				json.Unmarshal(out, &s) //nolint:errcheck
				r, err := callback.NewSuccess(s.RequestID, signer.RSAPKCS1v15, [][]byte{sig}, app.Certificate(), app.Chain(), time.Now())
				if err != nil {
					b.Fatal(err)
				}
				enc, _ := callback.Encode(r)
				code, out = g.serve("POST", "/v1/callback", "", "application/x-www-form-urlencoded", []byte("ss_result="+url.QueryEscape(enc)))
				if code != 200 || !bytes.Contains(out, []byte(`"accepted"`)) {
					b.Fatalf("callback: %d %s", code, out)
				}
				n.Add(1)
			}
		})
		b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "sessions/s")
		reportCPU(b, cpu, n.Load())
	})
}

// BenchmarkCSCSignHash is signatures/signHash with a server-held ECDSA P-256
// key: SAD check (compare and set), signing, audit. SADs are made in the
// store beforehand (authorize needs an OTP per SAD).
func BenchmarkCSCSignHash(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		g := newBenchGW(b, st)
		uid := g.newUser(g.key, "csc-bench")
		oid, code := g.otp(g.key, uid, "issue")
		issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
		cid := issued["certificateId"].(string)
		d := digest("csc-bench")
		ctx := context.Background()
		sads := make([]string, b.N)
		for i := range sads {
			raw := fmt.Sprintf("%068d", i)
			if err := st.CreateSAD(ctx, &SAD{ID: sadID(PrefixToken + raw), TenantID: DevTenantID, CredentialID: cid, Hashes: [][]byte{d}, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			sads[i] = "sad_" + raw
		}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				body := `{"credentialID":"` + cid + `","SAD":"` + sads[i] + `","hashes":["` + b64(d) + `"],"signAlgo":"1.2.840.10045.4.3.2"}`
				if code, out := g.serve("POST", "/csc/v2/signatures/signHash", g.key, "application/json", []byte(body)); code != 200 {
					b.Fatalf("%d %s", code, out)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
	})
}

// BenchmarkHashSessionLoopback is BenchmarkHashSessionComplete over real
// HTTP on loopback, 16 concurrent clients: the load-generator figure.
func BenchmarkHashSessionLoopback(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		g := newBenchGW(b, st)
		k := testpki.Key(b, testpki.RSA2048, 30)
		app := appSigner(b, k, g.issueCSR(g.key, "bench", k))
		d := digest("bench")
		sig, err := signer.SignDigest(context.Background(), app, signer.RSAPKCS1v15, crypto.SHA256, d)
		if err != nil {
			b.Fatal(err)
		}
		body := []byte(`{"hashBase64":"` + b64(d) + `"}`)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		post := func(path, ctype string, body []byte, auth bool) (int, []byte) {
			req, _ := http.NewRequest("POST", g.url+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			if auth {
				req.Header.Set("Authorization", "Bearer "+g.key)
			}
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			return res.StatusCode, out
		}
		b.SetParallelism(8)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code, out := post("/v1/sign/hash", "application/json", body, true)
				if code != 201 {
					b.Fatalf("create: %d %s", code, out)
				}
				var s struct{ RequestID string }
				json.Unmarshal(out, &s) //nolint:errcheck
				r, _ := callback.NewSuccess(s.RequestID, signer.RSAPKCS1v15, [][]byte{sig}, app.Certificate(), app.Chain(), time.Now())
				enc, _ := callback.Encode(r)
				if code, out := post("/v1/callback", "application/x-www-form-urlencoded", []byte("ss_result="+url.QueryEscape(enc)), false); code != 200 {
					b.Fatalf("callback: %d %s", code, out)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		reportCPU(b, cpu, int64(b.N))
	})
}

// BenchmarkCSCSignHashHSM is signatures/signHash with a server-held
// RSA-2048 key generated on a SoftHSM token (Config.UserKeysPKCS11), next
// to the rate of the same key through signer alone. All run 8 goroutines
// per GOMAXPROCS and report signatures/s and CPU per signature:
//
//   - raw-signer: signer.SignDigest on a signer.Module signer of the key
//     (found by its certificate on the token): the baseline, with signer's
//     verification of every signature;
//   - key-store: the same through the gateway's key path (PKCS11KeyStore
//     signer as a tokenCredential, signDigest), no HTTP;
//   - signHash-1, signHash-50: in-process signHash calls with 1 or 50
//     hashes per SAD (SADs made beforehand: authorize needs an OTP each).
//
// Run: go test -run '^$' -bench CSCSignHashHSM -benchtime 4s ./adapters/gateway
func BenchmarkCSCSignHashHSM(b *testing.B) {
	tok := softhsmtest.New(b)
	st := newSQLiteStore(b)
	g := newBenchGW(b, st)
	g.srv.Close()
	key := g.key
	g = &benchGW{newTestGW(b, st, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
		c.RateLimitRPM, c.PublicRateLimitRPM = 1<<30, 1<<30
		c.MasterKey = g.srv.cfg.MasterKey
		c.UserKeysPKCS11 = &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, PIN: []byte(tok.PIN)}
	}), nil}
	g.key = key
	g.h = g.srv.Handler()
	b.Cleanup(func() { g.srv.Close() })
	uid := g.newUser(g.key, "csc-hsm-bench")
	oid, code := g.otp(g.key, uid, "issue")
	issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "RSA-2048"})
	cid := issued["certificateId"].(string)
	rec, err := st.Certificate(context.Background(), DevTenantID, cid)
	if err != nil || rec.KeyKind != keyKindPKCS11 {
		b.Fatalf("issued key: %v %+v", err, rec)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		b.Fatal(err)
	}
	d := digest("csc-hsm-bench")
	ctx := context.Background()

	signers := func(b *testing.B, sg signer.Signer) {
		b.SetParallelism(8)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := signDigest(ctx, sg, signer.RSAPKCS1v15, crypto.SHA256, d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
		reportCPU(b, cpu, int64(b.N))
	}
	b.Run("raw-signer", func(b *testing.B) {
		mod, err := signer.OpenModule(ctx, tok.Module)
		if err != nil {
			b.Fatal(err)
		}
		defer mod.Close()
		sg, err := mod.Signer(ctx, signer.TokenSelector{Label: tok.Label}, signer.KeySelector{CertSerial: cert.SerialNumber}, []byte(tok.PIN))
		if err != nil {
			b.Fatal(err)
		}
		defer sg.(interface{ Close() error }).Close()
		signers(b, sg)
	})
	b.Run("key-store", func(b *testing.B) {
		k, err := g.srv.userKeys.Signer(ctx, string(rec.KeyBlob))
		if err != nil {
			b.Fatal(err)
		}
		sg, err := newTokenCredential(k, cert, g.srv.ca.ChainCerts())
		if err != nil {
			b.Fatal(err)
		}
		signers(b, sg)
	})
	var sadSeq atomic.Int64
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("signHash-%d", n), func(b *testing.B) {
			hashes := make([][]byte, n)
			quoted := make([]string, n)
			for i := range hashes {
				hashes[i] = digest(fmt.Sprint("csc-hsm-bench", i))
				quoted[i] = `"` + b64(hashes[i]) + `"`
			}
			list := strings.Join(quoted, ",")
			sads := make([]string, b.N)
			for i := range sads {
				raw := fmt.Sprintf("%068d", sadSeq.Add(1))
				if err := st.CreateSAD(ctx, &SAD{ID: sadID(PrefixToken + raw), TenantID: DevTenantID, CredentialID: cid, Hashes: hashes, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
				sads[i] = "sad_" + raw
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					body := `{"credentialID":"` + cid + `","SAD":"` + sads[i] + `","hashes":[` + list + `],"signAlgo":"1.2.840.113549.1.1.11"}`
					if code, out := g.serve("POST", "/csc/v2/signatures/signHash", g.key, "application/json", []byte(body)); code != 200 {
						b.Fatalf("%d %s", code, out)
					}
				}
			})
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "signatures/s")
			reportCPU(b, cpu, int64(b.N*n))
		})
	}
}
