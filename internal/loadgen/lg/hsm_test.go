package lg

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

func TestBaselineMergeAndCompare(t *testing.T) {
	b := &Baseline{Concurrency: 4, Seconds: 2, Signatures: 2000, Rate: 1000, CPUPerSignature: 1, CapacityAt2Cores: 2000}
	b.Merge(&Baseline{Concurrency: 4, Seconds: 2, Signatures: 1000, Rate: 500, CPUPerSignature: 4, CapacityAt2Cores: 500})
	b.Merge(nil)
	want := &Baseline{Concurrency: 4, Seconds: 4, Signatures: 3000, Rate: 750, CPUPerSignature: 2, CapacityAt2Cores: 1000}
	if diff := cmp.Diff(want, b, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("merged baseline (-want +got):\n%s", diff)
	}
	tests := []struct {
		name                  string
		rep                   Report
		rate, capacity, gwCap float64
	}{
		// 50 signatures per unit at 80 ms gateway + 20 ms generator CPU:
		// 2 ms per signature against the baseline's 2 ms.
		{"50 hashes", Report{Hashes: 50, SigRate: 600, GatewayCPUPerUnit: 80, LoadgenCPUPerUnit: 20}, 0.8, 1, 1.25},
		{"1 hash", Report{Hashes: 1, SigRate: 150, GatewayCPUPerUnit: 3, LoadgenCPUPerUnit: 1}, 0.2, 0.5, 2.0 / 3},
		{"no CPU figures", Report{Hashes: 1, SigRate: 750}, 1, 0, 0},
	}
	for _, tt := range tests {
		r := tt.rep
		r.CompareBaseline(b)
		got := []float64{r.VsBaseline.Rate, r.VsBaseline.Capacity, r.VsBaseline.GatewayCapacity}
		if diff := cmp.Diff([]float64{tt.rate, tt.capacity, tt.gwCap}, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" || r.Baseline != b {
			t.Errorf("%s: rate, capacity, gateway capacity (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestSoftHSMToken makes a token as the generator does for -hsm, and
// measures a baseline on a key with its certificate on a token.
func TestSoftHSMToken(t *testing.T) {
	st := softhsmtest.New(t) // skips without SoftHSM or cgo
	module := testenv.File(t, DefaultSoftHSMModule, "softhsm2")
	testenv.LookPath(t, "softhsm2-util", "softhsm2")
	ctx := context.Background()
	tok, err := NewSoftHSMToken(ctx, t.TempDir(), module, "lg-test")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.PIN) != 8 || !slices.Contains(tok.GatewayEnv(), "SECURESIGN_USER_KEYS_PIN="+tok.PIN) ||
		!slices.Equal(tok.GatewayFlags(), []string{"--user-keys-module", module, "--user-keys-token-label", "lg-test"}) {
		t.Errorf("token %+v: env %v, flags %v", tok, tok.GatewayEnv(), tok.GatewayFlags())
	}
	t.Setenv("SOFTHSM2_CONF", tok.Conf)
	func() {
		mod, err := signer.OpenModule(ctx, module)
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close()
		if err := mod.VerifyPIN(ctx, signer.TokenSelector{Label: "lg-test"}, []byte(tok.PIN)); err != nil {
			t.Fatalf("the new token: %v", err)
		}
	}()
	if _, err := NewSoftHSMToken(ctx, t.TempDir(), "/nonexistent/libsofthsm2.so", "x"); err == nil {
		t.Error("a missing module was accepted")
	}

	// The baseline, on a key imported with its certificate.
	t.Setenv("SOFTHSM2_CONF", st.Conf)
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.RSA2048, testpki.Options{})
	st.Import(t, "key", leaf.Key, leaf.Cert)
	on := &SoftHSMToken{Module: st.Module, Label: st.Label, PIN: st.PIN, Conf: st.Conf}
	b, err := SignerBaseline(ctx, on, leaf.Cert.SerialNumber, 2, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if b.Signatures == 0 || b.Rate <= 0 || b.Concurrency != 2 {
		t.Errorf("baseline %+v", b)
	}
	if _, err := SignerBaseline(ctx, on, leaf.Cert.SerialNumber, 0, time.Second); err == nil {
		t.Error("a baseline without workers was accepted")
	}
}
