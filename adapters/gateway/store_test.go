package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testenv"
)

// newSQLiteStore opens a fresh SQLite store in t.TempDir().
func newSQLiteStore(t testing.TB) Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresSchemaDSN creates a fresh schema with a random name on the test
// server and returns a DSN whose search_path selects it; the schema is
// dropped when the test ends.
func postgresSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var rb [6]byte
	rand.Read(rb[:])
	schema := "gwtest_" + hex.EncodeToString(rb[:])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// Large objects are the database's, not the schema's.
		db.Exec("SELECT lo_unlink(oid) FROM " + schema + ".documents") //nolint:errcheck
		db.Exec("DROP SCHEMA " + schema + " CASCADE")                  //nolint:errcheck
		db.Close()
	})
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func newPostgresStore(t testing.TB) Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), postgresSchemaDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachStore runs f against SQLite and PostgreSQL.
func eachStore(t *testing.T, f func(t *testing.T, s Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newSQLiteStore(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, newPostgresStore(t)) })
}

var t0 = time.Date(2026, 6, 22, 10, 30, 0, 123456789, time.UTC)

func seedTenant(t *testing.T, s Store, id string) {
	t.Helper()
	if err := s.CreateTenant(context.Background(), &Tenant{ID: id, Name: "Tenant " + id, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreTenantsAndKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		if err := s.CreateTenant(ctx, &Tenant{ID: "t1", Name: "again"}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate tenant: %v, want ErrExists", err)
		}
		got, err := s.Tenant(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&Tenant{ID: "t1", Name: "Tenant t1", CreatedAt: t0}, got); diff != "" {
			t.Errorf("tenant (-want +got):\n%s", diff)
		}
		if _, err := s.Tenant(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
		if err := s.SetTenantDisabled(ctx, "t1", true); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Tenant(ctx, "t1"); !got.Disabled {
			t.Error("tenant not disabled")
		}
		k := &APIKey{ID: "kid1", TenantID: "t1", Name: "ci", Hash: sha256.Sum256([]byte("secret")), CreatedAt: t0}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		gk, err := s.APIKey(ctx, "kid1")
		if err != nil {
			t.Fatal(err)
		}
		k.TenantDisabled = true // disabled above; APIKey reports it
		if diff := cmp.Diff(k, gk); diff != "" {
			t.Errorf("api key (-want +got):\n%s", diff)
		}
		if err := s.RevokeAPIKey(ctx, "t2", "kid1", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke by other tenant: %v, want ErrNotFound", err)
		}
		if err := s.RevokeAPIKey(ctx, "t1", "kid1", t0); err != nil {
			t.Fatal(err)
		}
		if gk, _ := s.APIKey(ctx, "kid1"); !gk.RevokedAt.Equal(t0) {
			t.Errorf("revoked at %v", gk.RevokedAt)
		}
		keys, err := s.APIKeys(ctx, "t1")
		if err != nil || len(keys) != 1 {
			t.Fatalf("APIKeys = %v, %v", keys, err)
		}
		at := &AccessToken{ID: "at1", TenantID: "t1", APIKeyID: "kid1", Hash: sha256.Sum256([]byte("x")), ExpiresAt: t0}
		if err := s.CreateAccessToken(ctx, at); err != nil {
			t.Fatal(err)
		}
		gat, err := s.AccessToken(ctx, "at1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(at, gat); diff != "" {
			t.Errorf("token (-want +got):\n%s", diff)
		}
		for _, o := range []string{"https://b.example", "https://a.example", "https://a.example"} {
			if err := s.AddOrigin(ctx, "t1", o); err != nil {
				t.Fatal(err)
			}
		}
		os, err := s.Origins(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"https://a.example", "https://b.example"}, os); diff != "" {
			t.Errorf("origins (-want +got):\n%s", diff)
		}
		if err := s.RemoveOrigin(ctx, "t1", "https://a.example"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveOrigin(ctx, "t1", "https://a.example"); !errors.Is(err, ErrNotFound) {
			t.Errorf("remove twice: %v", err)
		}
	})
}

func TestStoreUsersAndOTP(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		u := &User{ID: "u1", TenantID: "t1", ExternalID: "cust-1", Name: "Rajesh Kumar", Email: "r@example.in", CreatedAt: t0,
			Subject: UserSubject{State: "Karnataka", PostalCode: "560001", Country: "IN"}}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &User{ID: "u2", TenantID: "t1", ExternalID: "cust-1"}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate externalId: %v", err)
		}
		if _, err := s.User(ctx, "t2", "u1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant's user: %v", err)
		}
		gu, err := s.User(ctx, "t1", "u1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, gu); diff != "" {
			t.Errorf("user (-want +got):\n%s", diff)
		}
		mk := func(id string) {
			salt := []byte("salt-" + id)
			if err := s.CreateOTP(ctx, &OTP{ID: id, TenantID: "t1", UserID: "u1", Purpose: "sign", Salt: salt, Hash: otpMAC(testOTPKey, salt, id, "123456"),
				ExpiresAt: t0.Add(5 * time.Minute), CreatedAt: t0}, OTPLimits{}, t0); err != nil {
				t.Fatal(err)
			}
		}
		mk("o1")
		now := t0.Add(time.Minute)
		tests := []struct {
			name, tenant, purpose, code string
			at                          time.Time
			want                        error
		}{
			{"other tenant", "t2", "sign", "123456", now, ErrNotFound},
			{"other purpose", "t1", "issue", "123456", now, ErrNotFound},
			{"expired", "t1", "sign", "123456", t0.Add(6 * time.Minute), ErrOTPExpired},
			{"wrong", "t1", "sign", "000000", now, ErrOTPInvalid},
			{"right", "t1", "sign", "123456", now, nil},
			{"reused", "t1", "sign", "123456", now, ErrOTPUsed},
		}
		for _, tc := range tests {
			if err := useOTP(ctx, s, testOTPKey, otpRef{tc.tenant, "u1", "o1", tc.purpose}, tc.code, nil, tc.at, 5); !errors.Is(err, tc.want) {
				t.Errorf("%s: UseOTP = %v, want %v", tc.name, err, tc.want)
			}
		}
		// Brute force: locked after 5 attempts, even for the right code.
		mk("o2")
		for i := 1; i <= 5; i++ {
			err := useOTP(ctx, s, testOTPKey, otpRef{"t1", "u1", "o2", "sign"}, fmt.Sprintf("%06d", i), nil, now, 5)
			want := ErrOTPInvalid
			if i == 5 {
				want = ErrOTPLocked
			}
			if !errors.Is(err, want) {
				t.Errorf("attempt %d: %v, want %v", i, err, want)
			}
		}
		if err := useOTP(ctx, s, testOTPKey, otpRef{"t1", "u1", "o2", "sign"}, "123456", nil, now, 5); !errors.Is(err, ErrOTPLocked) {
			t.Errorf("right code after lockout: %v, want ErrOTPLocked", err)
		}
		// Concurrent guesses cannot exceed the limit.
		mk("o3")
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				useOTP(ctx, s, testOTPKey, otpRef{"t1", "u1", "o3", "sign"}, "999999", nil, now, 5)
			}() //nolint:errcheck
		}
		wg.Wait()
		if err := useOTP(ctx, s, testOTPKey, otpRef{"t1", "u1", "o3", "sign"}, "123456", nil, now, 5); !errors.Is(err, ErrOTPLocked) {
			t.Errorf("after concurrent guesses: %v, want ErrOTPLocked", err)
		}
	})
}

var testOTPKey = []byte("0123456789abcdef0123456789abcdef")

// TestStoreOTPConsent: a code bound to an operation; limits on codes.
func TestStoreOTPConsent(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		if err := s.CreateUser(ctx, &User{ID: "u1", TenantID: "t1", ExternalID: "e1", Name: "A", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		docA := ConsentDocument{SHA256: bytes.Repeat([]byte{0xaa}, 32), Name: "A.pdf"}
		docB := ConsentDocument{SHA256: bytes.Repeat([]byte{0xbb}, 32), Name: "B.pdf"}
		lim := OTPLimits{MaxUnused: 3, MaxAttempts: 5, MaxSent: 5, Window: time.Hour}
		mk := func(id string, at time.Time) error {
			salt := []byte("salt-" + id)
			return s.CreateOTP(ctx, &OTP{ID: id, TenantID: "t1", UserID: "u1", Purpose: "sign", Salt: salt, Hash: otpMAC(testOTPKey, salt, id, "123456"),
				Consent: &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA}}, ExpiresAt: at.Add(5 * time.Minute), CreatedAt: at}, lim, at)
		}
		for _, id := range []string{"a", "b", "c"} {
			if err := mk(id, t0); err != nil {
				t.Fatal(err)
			}
		}
		var le *OTPLimitError
		if err := mk("d", t0); !errors.As(err, &le) || !le.Unused || !errors.Is(err, ErrOTPLimit) {
			t.Fatalf("4th unused code: %v, want the unused limit", err)
		}
		got, err := s.OTP(ctx, "t1", "u1", "a", "sign")
		if err != nil || got.Consent == nil || len(got.Consent.Documents) != 1 || got.Consent.Documents[0].Name != "A.pdf" {
			t.Fatalf("stored consent: %+v, %v", got, err)
		}
		ref := func(id string) otpRef { return otpRef{"t1", "u1", id, "sign"} }
		now := t0.Add(time.Minute)
		opB := &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docB}}
		opA := &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA}}
		// Wrong code for B: an attempt, not a spend.
		if _, err := redeemOTP(ctx, s, testOTPKey, ref("a"), "000000", opB, now, 5); !errors.Is(err, ErrOTPInvalid) {
			t.Fatalf("wrong code: %v", err)
		}
		// Right code, document B: mismatch, spent.
		if _, err := redeemOTP(ctx, s, testOTPKey, ref("a"), "123456", opB, now, 5); !errors.Is(err, ErrOTPMismatch) {
			t.Fatalf("document B: %v, want ErrOTPMismatch", err)
		}
		if _, err := redeemOTP(ctx, s, testOTPKey, ref("a"), "123456", opA, now, 5); !errors.Is(err, ErrOTPUsed) {
			t.Fatalf("after a mismatch: %v, want ErrOTPUsed", err)
		}
		// Redeemed but not spent: still usable until spent, once.
		o, err := redeemOTP(ctx, s, testOTPKey, ref("b"), "123456", opA, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := redeemOTP(ctx, s, testOTPKey, ref("b"), "123456", opA, now, 5); err != nil {
			t.Fatalf("redeem does not spend: %v", err)
		}
		if err := s.SpendOTP(ctx, o.ID, now, 5); err != nil {
			t.Fatal(err)
		}
		if err := s.SpendOTP(ctx, o.ID, now, 5); !errors.Is(err, ErrOTPUsed) {
			t.Fatalf("second spend: %v", err)
		}
		// Two spent: two more fit, then the send limit (5 per hour) holds.
		if err := mk("e", now); err != nil {
			t.Fatal(err)
		}
		if err := mk("f", now); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"c", "e", "f"} {
			if err := s.SpendOTP(ctx, id, now, 5); err != nil {
				t.Fatal(err)
			}
		}
		if err := mk("g", now); !errors.As(err, &le) || le.Unused || !le.RetryAfter.Equal(t0.Add(time.Hour)) {
			t.Fatalf("6th code in an hour: %v, want the send limit until %v", err, t0.Add(time.Hour))
		}
		if err := mk("g", t0.Add(time.Hour+time.Second)); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestStoreSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		x := &Session{RequestID: "req-00000001", TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32), {1, 2}},
			HashAlgo: "SHA256", Origin: "https://portal.example", CertSerial: "4a3b", CallbackURL: "https://gw/v1/callback",
			State: []byte(`{"a":1}`), ExpiresAt: t0.Add(10 * time.Minute), CreatedAt: t0}
		if err := s.CreateSession(ctx, x, &AuditEntry{TenantID: "t1", Action: "session.create", RequestID: x.RequestID}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, x, &AuditEntry{TenantID: "t1", Action: "session.create", RequestID: x.RequestID}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate request id: %v", err)
		}
		// The refused duplicate left no audit entry: session and entry commit together.
		if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 1 {
			t.Errorf("audit after duplicate: %d entries, %v", n, err)
		}
		got, err := s.Session(ctx, "t1", x.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(x, got); diff != "" {
			t.Errorf("session (-want +got):\n%s", diff)
		}
		if _, err := s.Session(ctx, "t2", x.RequestID); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant's session: %v", err)
		}
		if n, err := s.CountPendingSessions(ctx, "t1", t0); err != nil || n != 1 {
			t.Errorf("pending = %d, %v", n, err)
		}
		// Concurrent completions: exactly one success wins; a failure may
		// be recorded before it (PROTOCOL 1.1 §3: a failure does not
		// complete), never after it. Everyone sees a winner.
		const n = 16
		var wg sync.WaitGroup
		wins := make(chan *Completion, n)
		seen := make(chan *Completion, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := &Completion{ResultHash: sha256.Sum256([]byte{byte(i)}), Success: i%2 == 0, Code: "SS_PIN_INVALID",
					Signatures: [][]byte{{byte(i)}}, Certificate: []byte{1}, CompletedAt: t0}
				// Every contender brings its audit entry; only the
				// winners' may be written (same transaction).
				entry := &AuditEntry{TenantID: "t1", At: t0, Actor: "callback", Action: "session.result", RequestID: x.RequestID,
					Outcome: "accepted", Detail: fmt.Sprint(i)}
				stored, won, err := s.CompleteSession(ctx, x.RequestID, c, entry)
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					wins <- c
				}
				seen <- stored
			}(i)
		}
		wg.Wait()
		close(wins)
		close(seen)
		var w, fw *Completion
		for c := range wins {
			switch {
			case c.Success && w == nil:
				w = c
			case !c.Success && fw == nil:
				fw = c
			default:
				t.Fatalf("a second winner of its kind: %+v", c)
			}
		}
		if w == nil {
			t.Fatal("no success won")
		}
		for st := range seen {
			if !cmp.Equal(w, st) && (fw == nil || !cmp.Equal(fw, st)) {
				t.Fatalf("a loser saw a completion that did not win: %+v", st)
			}
		}
		got, _ = s.SessionByID(ctx, x.RequestID)
		if got.Status != StatusSigned || !cmp.Equal(got.Completion, w) {
			t.Errorf("status %q, completion %+v; want signed by the winner", got.Status, got.Completion)
		}
		logs, err := s.AuditLogs(ctx, AuditFilter{TenantID: "t1", RequestID: x.RequestID})
		if err != nil {
			t.Fatal(err)
		}
		var results []string
		for _, e := range logs {
			if e.Action == "session.result" {
				results = append(results, e.Detail)
			}
		}
		want := []string{fmt.Sprint(w.Signatures[0][0])}
		if fw != nil {
			want = append([]string{fmt.Sprint(fw.Signatures[0][0])}, want...)
		}
		if !cmp.Equal(results, want) && !cmp.Equal(results, []string{want[len(want)-1], want[0]}) {
			t.Errorf("session.result audit entries %q, want only the winners' %q", results, want)
		}
		if _, err := s.VerifyAudit(ctx, "t1"); err != nil {
			t.Errorf("audit chain after completions: %v", err)
		}
		if err := s.SetSessionOutput(ctx, x.RequestID, []byte("out")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CompleteSession(ctx, "unknown-req", w, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("complete unknown: %v", err)
		}
	})
}

func TestStoreCertificatesIdempotencySAD(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		c := &Certificate{ID: "c1", TenantID: "t1", UserID: "u1", SerialHex: "4a3b", SHA256Hex: "ab", DER: []byte{1, 2, 3}, Chain: [][]byte{{4}},
			Source: "issued", KeyLocation: "server", KeyKind: "software", KeyBlob: []byte("enc"), Profile: "individual-signing",
			NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), CreatedAt: t0}
		if err := s.CreateCertificate(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.CertificateBySerial(ctx, "t1", "4a3b")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("cert (-want +got):\n%s", diff)
		}
		if _, err := s.Certificate(ctx, "t2", "c1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant's cert: %v", err)
		}
		if l, _ := s.Certificates(ctx, "t1", "u1"); len(l) != 1 {
			t.Errorf("list = %d certs", len(l))
		}
		if l, _ := s.Certificates(ctx, "t1", "u9"); len(l) != 0 {
			t.Errorf("other user's list = %d certs", len(l))
		}
		if err := s.RevokeCertificate(ctx, "t1", "c1", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeCertificate(ctx, "t2", "c1", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke other tenant's: %v", err)
		}

		h1, h2 := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
		if r, err := s.ReserveIdempotency(ctx, "t1", "k", h1, t0); err != nil || r != nil {
			t.Fatalf("first reserve = %v, %v", r, err)
		}
		if r, _ := s.ReserveIdempotency(ctx, "t1", "k", h2, t0); r == nil || r.Done || r.BodyHash != h1 {
			t.Fatalf("second reserve = %+v", r)
		}
		if r, _ := s.ReserveIdempotency(ctx, "t2", "k", h2, t0); r != nil {
			t.Fatalf("other tenant's key collides: %+v", r)
		}
		if err := s.FinishIdempotency(ctx, "t1", "k", 200, []byte(`{"ok":1}`)); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.ReserveIdempotency(ctx, "t1", "k", h1, t0); r == nil || !r.Done || r.Status != 200 || string(r.Body) != `{"ok":1}` {
			t.Fatalf("after finish = %+v", r)
		}
		s.ReserveIdempotency(ctx, "t1", "k2", h1, t0) //nolint:errcheck
		if err := s.ReleaseIdempotency(ctx, "t1", "k2"); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.ReserveIdempotency(ctx, "t1", "k2", h2, t0); r != nil {
			t.Fatalf("released key still held: %+v", r)
		}

		sad := &SAD{ID: "sad1", TenantID: "t1", CredentialID: "c1", Hashes: [][]byte{h1[:]}, ExpiresAt: t0.Add(time.Minute)}
		if err := s.CreateSAD(ctx, sad); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseSAD(ctx, "t1", "sad1", t0.Add(2*time.Minute)); !errors.Is(err, ErrSADInvalid) {
			t.Errorf("expired SAD: %v", err)
		}
		if _, err := s.UseSAD(ctx, "t2", "sad1", t0); !errors.Is(err, ErrSADInvalid) {
			t.Errorf("other tenant's SAD: %v", err)
		}
		gs, err := s.UseSAD(ctx, "t1", "sad1", t0)
		if err != nil || gs.CredentialID != "c1" || len(gs.Hashes) != 1 {
			t.Fatalf("UseSAD = %+v, %v", gs, err)
		}
		if _, err := s.UseSAD(ctx, "t1", "sad1", t0); !errors.Is(err, ErrSADInvalid) {
			t.Errorf("SAD reused: %v", err)
		}

		if v, err := s.PutSetting(ctx, "ca", []byte("one"), true); err != nil || string(v) != "one" {
			t.Fatalf("PutSetting = %q, %v", v, err)
		}
		if v, _ := s.PutSetting(ctx, "ca", []byte("two"), true); string(v) != "one" {
			t.Errorf("onlyIfAbsent overwrote: %q", v)
		}
		if _, err := s.PutSetting(ctx, "ca", []byte("three"), false); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.Setting(ctx, "ca"); string(v) != "three" {
			t.Errorf("Setting = %q", v)
		}
		if _, err := s.Setting(ctx, "none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing setting: %v", err)
		}
	})
}

func TestStoreAuditChain(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tenant := []string{"t1", "t2"}[i%2]
				if err := s.AppendAudit(ctx, &AuditEntry{TenantID: tenant, At: t0.Add(time.Duration(i) * time.Second), Actor: "k1",
					Action: "session.create", RequestID: fmt.Sprintf("req-%08d", i)}); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		for _, tenant := range []string{"t1", "t2"} {
			n, err := s.VerifyAudit(ctx, tenant)
			if err != nil || n != 6 {
				t.Errorf("VerifyAudit(%s) = %d, %v", tenant, n, err)
			}
		}
		all, err := s.AuditLogs(ctx, AuditFilter{TenantID: "t1"})
		if err != nil || len(all) != 6 {
			t.Fatalf("AuditLogs = %d, %v", len(all), err)
		}
		one, _ := s.AuditLogs(ctx, AuditFilter{TenantID: "t1", RequestID: all[2].RequestID})
		if len(one) != 1 || one[0].Seq != all[2].Seq {
			t.Errorf("filter by requestId: %+v", one)
		}
		win, _ := s.AuditLogs(ctx, AuditFilter{TenantID: "t2", From: t0.Add(3 * time.Second), To: t0.Add(7 * time.Second)})
		if len(win) != 2 { // entries 3, 5, 7 of t2 → at 3s,5s,7s... (odd i)
			if len(win) != 3 {
				t.Errorf("time window: %d entries", len(win))
			}
		}
		// Tampering with a stored entry breaks the chain.
		ss, _ := sqlBaseOf(s)
		if _, err := ss.exec(ctx, "UPDATE audit_log SET detail = 'edited' WHERE tenant_id = 't1' AND seq = 3"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyAudit(ctx, "t1"); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "entry 3") {
			t.Errorf("tampered chain: %v", err)
		}
		if _, err := ss.exec(ctx, "DELETE FROM audit_log WHERE tenant_id = 't2' AND seq = 6"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyAudit(ctx, "t2"); !errors.Is(err, ErrAuditBroken) {
			t.Errorf("truncated chain: %v", err)
		}
	})
}

func TestStoreLinkKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, kid := range []string{"k1", "k2"} {
			if err := s.CreateLinkKey(ctx, &LinkKey{KID: kid, Public: []byte(kid), Private: []byte("enc"), Active: kid == "k1", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ActivateLinkKey(ctx, "k2", t0); err != nil {
			t.Fatal(err)
		}
		keys, err := s.LinkKeys(ctx)
		if err != nil || len(keys) != 2 {
			t.Fatalf("LinkKeys = %v, %v", keys, err)
		}
		if keys[0].Active || !keys[1].Active {
			t.Errorf("active flags: %v %v", keys[0].Active, keys[1].Active)
		}
		if err := s.ActivateLinkKey(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("activate unknown: %v", err)
		}
		// Tenants' keys are apart: activating one tenant's key leaves the
		// others' (and the gateway's own) active.
		for _, k := range []*LinkKey{{KID: "a1", TenantID: "ta"}, {KID: "b1", TenantID: "tb"}, {KID: "a2", TenantID: "ta"}} {
			k.Public, k.Private, k.CreatedAt = []byte(k.KID), []byte("enc"), t0
			if err := s.CreateLinkKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.ActivateLinkKey(ctx, k.KID, t0); err != nil {
				t.Fatal(err)
			}
		}
		keys, _ = s.LinkKeys(ctx)
		active := map[string]string{}
		for _, k := range keys {
			if k.Active {
				if prev, ok := active[k.TenantID]; ok {
					t.Errorf("tenant %q has two active keys: %s and %s", k.TenantID, prev, k.KID)
				}
				active[k.TenantID] = k.KID
			}
		}
		if diff := cmp.Diff(map[string]string{"": "k2", "ta": "a2", "tb": "b1"}, active); diff != "" {
			t.Errorf("active keys per tenant (-want +got):\n%s", diff)
		}
	})
}

// TestStoreReopen checks that migrations run once and data survives.
func TestStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, &Tenant{ID: "t1", Name: "x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Tenant(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
}

// A reservation whose request died with its process must not answer
// "still running" forever: a retry with the same body takes it over once
// it is old or (SQLite, one process per database) left by another process;
// another body never does, and a live reservation stays held.
func TestStoreIdempotencyAbandoned(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		h1, h2 := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
		if r, err := s.ReserveIdempotency(ctx, "t1", "k", h1, t0); err != nil || r != nil {
			t.Fatalf("first reserve = %v, %v", r, err)
		}
		soon := t0.Add(IdempotencyAbandonAfter - time.Second)
		if r, err := s.ReserveIdempotency(ctx, "t1", "k", h1, soon); err != nil || r == nil || r.Done {
			t.Fatalf("live reservation taken over: %+v, %v", r, err)
		}
		late := t0.Add(IdempotencyAbandonAfter + time.Second)
		if r, err := s.ReserveIdempotency(ctx, "t1", "k", h2, late); err != nil || r == nil || r.BodyHash != h1 {
			t.Fatalf("abandoned reservation taken over by another body: %+v, %v", r, err)
		}
		if r, err := s.ReserveIdempotency(ctx, "t1", "k", h1, late); err != nil || r != nil {
			t.Fatalf("abandoned reservation not taken over: %+v, %v", r, err)
		}
		// The taker holds it now (fresh), and finishing works as usual.
		if r, _ := s.ReserveIdempotency(ctx, "t1", "k", h1, late); r == nil || r.Done {
			t.Fatalf("taken-over reservation not held: %+v", r)
		}
		if err := s.FinishIdempotency(ctx, "t1", "k", 200, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		later := late.Add(10 * IdempotencyAbandonAfter)
		if r, _ := s.ReserveIdempotency(ctx, "t1", "k", h1, later); r == nil || !r.Done {
			t.Fatalf("a finished record expired: %+v", r)
		}

		// A reservation by another process: SQLite takes it over at once,
		// PostgreSQL (several live gateways) only after the bound.
		if _, err := s.ReserveIdempotency(ctx, "t1", "k2", h1, t0); err != nil {
			t.Fatal(err)
		}
		ss, _ := sqlBaseOf(s)
		ss.boot = "next-process"
		r, err := s.ReserveIdempotency(ctx, "t1", "k2", h1, t0)
		if err != nil {
			t.Fatal(err)
		}
		if ss.postgres != (r != nil) {
			t.Fatalf("postgres=%v: reservation of an earlier process answered %+v", ss.postgres, r)
		}
	})
}

// TestNewRequestID: ids fit the protocol (8–64 of [A-Za-z0-9_-]), never
// start with "-" (files are named after them), differ, and sort in the
// order they were made across milliseconds (the store's indexes append).
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 200 {
		id := newRequestID()
		if len(id) < 8 || len(id) > 64 || strings.Trim(id, sortable64) != "" || id[0] == '-' {
			t.Fatalf("id %q does not fit the protocol", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if i%50 == 0 {
			time.Sleep(2 * time.Millisecond)
			if id <= prev {
				t.Errorf("id %q made after %q sorts before it", id, prev)
			}
			prev = id
		}
	}
}

// TestStoreDevOTP: the dev outbox keeps a code, sealed, until it expires;
// DevOutbox.Read refuses another tenant; expired codes go when the next
// one is sent.
func TestStoreDevOTP(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := bytes.Repeat([]byte{7}, 32)
		now := t0
		ob := &DevOutbox{Store: s, Master: master, Now: func() time.Time { return now }}
		send := func(id, tenant string, exp time.Duration) {
			t.Helper()
			u := &User{ID: "u-" + id, TenantID: tenant}
			if err := ob.SendOTP(ctx, &OTPMessage{User: u, OTPID: id, Code: "12345" + id[len(id)-1:], Purpose: "issue", Summary: "s " + id, ExpiresAt: now.Add(exp)}); err != nil {
				t.Fatal(err)
			}
		}
		send("o1", "ta", 5*time.Minute)
		send("o2", "tb", 10*time.Minute)
		m, code, err := ob.Read(ctx, "ta", "o1")
		want := &DevOTP{OTPID: "o1", TenantID: "ta", UserID: "u-o1", Purpose: "issue", Summary: "s o1", ExpiresAt: t0.Add(5 * time.Minute)}
		if err != nil || code != "123451" {
			t.Fatalf("Read = %q %v", code, err)
		}
		if bytes.Contains(m.Sealed, []byte(code)) {
			t.Error("the code is stored in the clear")
		}
		m.Sealed = nil
		if d := cmp.Diff(want, m); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		if _, _, err := ob.Read(ctx, "tb", "o1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another tenant reads the code: %v", err)
		}
		if err := ob.SendOTP(ctx, &OTPMessage{User: &User{ID: "u", TenantID: "ta"}, OTPID: "o1", Code: "999999", ExpiresAt: now.Add(time.Minute)}); !errors.Is(err, ErrExists) {
			t.Errorf("second code under one id: %v", err)
		}
		now = now.Add(6 * time.Minute)
		if _, _, err := ob.Read(ctx, "ta", "o1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired code still read: %v", err)
		}
		send("o3", "ta", 5*time.Minute) // drops o1
		now = t0
		if _, err := s.DevOTP(ctx, "o1", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired code kept after the next send: %v", err)
		}
		if _, code, err := ob.Read(ctx, "tb", "o2"); err != nil || code != "123452" {
			t.Errorf("live code dropped: %q %v", code, err)
		}
	})
}
