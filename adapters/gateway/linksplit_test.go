package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
)

func TestSplitDigests(t *testing.T) {
	same := func(n, c int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = c
		}
		return out
	}
	tests := []struct {
		name    string
		fixed   int
		costs   []int
		maxPer  int
		budget  int
		want    []linkSpan
		wantErr string
	}{
		{name: "one", fixed: 500, costs: []int{60}, maxPer: 50, budget: 2048, want: []linkSpan{{0, 1}}},
		{name: "none", fixed: 500, costs: nil, maxPer: 50, budget: 2048, want: nil},
		// 500 + 25*60 = 2000 fits, one more (2060) would not.
		{name: "boundary below", fixed: 500, costs: same(25, 60), maxPer: 50, budget: 2048, want: []linkSpan{{0, 25}}},
		{name: "one more digest overflows", fixed: 500, costs: same(26, 60), maxPer: 50, budget: 2048, want: []linkSpan{{0, 25}, {25, 1}}},
		// Exactly 2048 bytes is allowed: 548 + 25*60.
		{name: "exactly the budget", fixed: 548, costs: same(25, 60), maxPer: 50, budget: 2048, want: []linkSpan{{0, 25}}},
		{name: "one byte over", fixed: 549, costs: same(25, 60), maxPer: 50, budget: 2048, want: []linkSpan{{0, 24}, {24, 1}}},
		// Small digests: the count limit binds before the bytes.
		{name: "count limit", fixed: 100, costs: same(120, 10), maxPer: 50, budget: 2048, want: []linkSpan{{0, 50}, {50, 50}, {100, 20}}},
		// Escaped digests cost more; the split follows each one's cost.
		{name: "uneven costs", fixed: 1900, costs: []int{60, 66, 60, 20, 100, 48}, maxPer: 50, budget: 2048,
			want: []linkSpan{{0, 2}, {2, 2}, {4, 2}}}, // 100+48 fills the last exactly
		{name: "120 SHA-256", fixed: 600, costs: same(120, 60), maxPer: 50, budget: 2048, want: []linkSpan{{0, 24}, {24, 24}, {48, 24}, {72, 24}, {96, 24}}},
		{name: "digest never fits", fixed: 2000, costs: []int{60}, maxPer: 50, budget: 2048, wantErr: "digest 1 needs a link of 2060 bytes"},
		{name: "later digest never fits", fixed: 1980, costs: []int{60, 68, 69}, maxPer: 50, budget: 2048, wantErr: "digest 3 needs a link of 2049 bytes"},
		{name: "no digests per link", fixed: 10, costs: []int{1}, maxPer: 0, budget: 2048, wantErr: "at most 0 digests"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitDigests(tc.fixed, tc.costs, tc.maxPer, tc.budget)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			// Every span within both limits, all digests covered in order.
			next := 0
			for _, sp := range got {
				if sp.First != next || sp.Count < 1 || sp.Count > tc.maxPer || tc.fixed+spanCost(tc.costs, sp) > tc.budget {
					t.Errorf("bad span %+v", sp)
				}
				next += sp.Count
			}
			if next != len(tc.costs) {
				t.Errorf("spans cover %d of %d digests", next, len(tc.costs))
			}
		})
	}
}

func TestDigestCost(t *testing.T) {
	for _, d := range [][]byte{make([]byte, 32), {0xfb, 0xff}, {0xff, 0xff, 0xff}, make([]byte, 64)} {
		link := "securesign://sign?requestId=abcdefgh&" + deeplink.ParamHash + "=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString(d))
		if got, want := digestCost(d), len(link)-len("securesign://sign?requestId=abcdefgh"); got != want {
			t.Errorf("digestCost(%x) = %d, want %d", d, got, want)
		}
	}
}

// TestSignHashSplitsLinks: 120 SHA-256 digests over HTTP come back as
// several links, each within 2048 bytes and 50 digests, covering every
// digest in order; the top-level members are the first link's; each link
// completes on its own.
func TestSignHashSplitsLinks(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.RSA2048, 20)
	issued := g.issueCSR(g.key, "split-user", k)
	app := appSigner(t, k, issued)

	var digests [][]byte
	var list []string
	for i := range 120 {
		d := sha256.Sum256(fmt.Appendf(nil, "document %d", i))
		digests = append(digests, d[:])
		list = append(list, b64(d[:]))
	}
	for _, route := range []string{"/v1/sign/hash", "/v1/sign/batch"} {
		t.Run(route, func(t *testing.T) {
			body := map[string]any{"hashes": list, "doc": "120 invoices", "certSerial": issued["serialNumber"]}
			if route == "/v1/sign/batch" {
				items := make([]map[string]string, len(list))
				for i, h := range list {
					items[i] = map[string]string{"hashBase64": h}
				}
				body = map[string]any{"items": items, "doc": "120 invoices", "certSerial": issued["serialNumber"]}
			}
			out := g.must(201, "POST", route, g.key, body)
			sessions, _ := out["sessions"].([]any)
			if len(sessions) < 3 {
				t.Fatalf("%d links for 120 digests, want several: %v", len(sessions), out)
			}
			first := sessions[0].(map[string]any)
			for _, m := range []string{"requestId", "sessionId", "deepLink", "expiresAt", "qrUrl", "statusUrl"} {
				if out[m] != first[m] {
					t.Errorf("top-level %s = %v, first link's %v", m, out[m], first[m])
				}
			}
			next := 0
			for i, s := range sessions {
				s := s.(map[string]any)
				link := s["deepLink"].(string)
				if len(link) > deeplink.MaxLinkLength {
					t.Errorf("link %d: %d bytes", i, len(link))
				}
				l, err := deeplink.Parse(link, time.Now())
				if err != nil {
					t.Fatalf("link %d: %v", i, err)
				}
				if len(l.Hashes) > deeplink.MaxHashes || len(l.Hashes) == 0 {
					t.Errorf("link %d: %d digests", i, len(l.Hashes))
				}
				if int(s["first"].(float64)) != next || int(s["count"].(float64)) != len(l.Hashes) || l.RequestID != s["requestId"] {
					t.Errorf("link %d: first %v count %v requestId %v; want %d, %d, %s", i, s["first"], s["count"], s["requestId"], next, len(l.Hashes), l.RequestID)
				}
				for j, h := range l.Hashes {
					if string(h) != string(digests[next+j]) {
						t.Fatalf("link %d digest %d is not request digest %d", i, j, next+j)
					}
				}
				next += len(l.Hashes)
			}
			t.Logf("%s: 120 digests in %d links, the first %v digests, %d bytes", route, len(sessions), first["count"], len(first["deepLink"].(string)))
			if next != len(digests) {
				t.Fatalf("links cover %d of %d digests", next, len(digests))
			}
			// Complete them out of order: each stands alone.
			for _, i := range []int{1, 0} {
				s := sessions[i].(map[string]any)
				if code, ans := g.postResult(signLink(t, g, s["deepLink"].(string), app)); code != 200 || ans["status"] != "signed" {
					t.Fatalf("callback of link %d = %d %v", i, code, ans)
				}
			}
			for i, s := range sessions {
				s := s.(map[string]any)
				st := g.must(200, "GET", "/v1/sessions/"+s["requestId"].(string), g.key, nil)
				want := "pending"
				if i < 2 {
					want = "signed"
					if n := len(st["signaturesBase64"].([]any)); n != int(s["count"].(float64)) {
						t.Errorf("link %d: %d signatures for %v digests", i, n, s["count"])
					}
				}
				if st["status"] != want {
					t.Errorf("link %d status %v, want %s", i, st["status"], want)
				}
			}
		})
	}
	// One link's worth keeps the old answer: no sessions member.
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashes": list[:3]})
	if _, ok := out["sessions"]; ok {
		t.Errorf("a request that fits one link got sessions: %v", out)
	}
	// A retry with the same Idempotency-Key gets the same links, not new ones.
	body := map[string]any{"hashes": list[:60]}
	first := g.must(201, "POST", "/v1/sign/hash", g.key, body, "Idempotency-Key", "split-1")
	again := g.must(201, "POST", "/v1/sign/hash", g.key, body, "Idempotency-Key", "split-1")
	if diff := cmp.Diff(first, again); diff != "" || len(first["sessions"].([]any)) < 2 {
		t.Errorf("replayed split answer differs (-first +again):\n%s", diff)
	}
	// Above the request limit: 400, nothing made.
	many := make([]string, 201)
	for i := range many {
		many[i] = list[0]
	}
	g.wantErr(400, "SS_BAD_REQUEST", "POST", "/v1/sign/hash", g.key, map[string]any{"hashes": many})
}
