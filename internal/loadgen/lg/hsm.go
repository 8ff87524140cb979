package lg

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securesign/securesign/internal/softhsm"
	"github.com/securesign/securesign/signer"
)

// DefaultSoftHSMModule is where Debian's softhsm2 package puts the module.
const DefaultSoftHSMModule = softhsm.Module

// SoftHSMToken is a throwaway SoftHSM2 token for a gateway's server-held
// keys: its own softhsm2.conf and token directory under a temporary
// directory, as internal/softhsmtest makes them for tests.
type SoftHSMToken struct {
	Module string // libsofthsm2.so
	Label  string
	PIN    string // random; handed to the gateway in its environment
	Conf   string // SOFTHSM2_CONF for every process using the token
}

// NewSoftHSMToken initializes a token labelled label in dir. The PINs are
// random and only protect a token that is deleted with dir.
func NewSoftHSMToken(ctx context.Context, dir, module, label string) (*SoftHSMToken, error) {
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("lg: SoftHSM module: %w (apt-get install softhsm2)", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, fmt.Errorf("lg: %w (apt-get install softhsm2)", err)
	}
	t := &SoftHSMToken{Module: module, Label: label, PIN: randomDigits(8)}
	if t.Conf, err = softhsm.InitToken(ctx, util, dir, label, randomDigits(8), t.PIN); err != nil {
		return nil, fmt.Errorf("lg: %w", err)
	}
	return t, nil
}

// GatewayEnv is the environment a gateway needs for the token: its
// SOFTHSM2_CONF and the PIN (SECURESIGN_USER_KEYS_PIN, never argv).
func (t *SoftHSMToken) GatewayEnv() []string {
	return []string{"SOFTHSM2_CONF=" + t.Conf, "SECURESIGN_USER_KEYS_PIN=" + t.PIN}
}

// GatewayFlags are the gateway flags that put server-held user keys on the
// token.
func (t *SoftHSMToken) GatewayFlags() []string {
	return []string{"--user-keys-module", t.Module, "--user-keys-token-label", t.Label}
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + v.Int64())
	}
	return string(b)
}

// Baseline is the raw signing rate of a key through package signer in this
// process, with the same concurrency as the load: what the gateway's
// signHash is compared with.
type Baseline struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Signatures  int64   `json:"signatures"`
	Rate        float64 `json:"signaturesPerSecond"`
	// CPUPerSignature is this process's CPU time per signature in
	// milliseconds (SoftHSM signs in-process); CapacityAt2Cores is 2 s of
	// CPU per second divided by it.
	CPUPerSignature  float64 `json:"cpuMsPerSignature"`
	CapacityAt2Cores float64 `json:"capacityAt2Cores"`
}

// SignerBaseline signs with the key of the certificate with serial on the
// token (the gateway stores each certificate next to its key) through
// signer.SignDigest, conc goroutines for d, and reports the rate. The
// process must see the token: SOFTHSM2_CONF set before the first module
// of the process is opened.
func SignerBaseline(ctx context.Context, t *SoftHSMToken, serial *big.Int, conc int, d time.Duration) (*Baseline, error) {
	if conc <= 0 || d <= 0 || d > MaxDuration {
		return nil, errors.New("lg: baseline needs workers and a duration up to the limit")
	}
	mod, err := signer.OpenModule(ctx, t.Module)
	if err != nil {
		return nil, err
	}
	defer mod.Close()
	s, err := mod.Signer(ctx, signer.TokenSelector{Label: t.Label}, signer.KeySelector{CertSerial: serial}, []byte(t.PIN))
	if err != nil {
		return nil, fmt.Errorf("lg: the certified key on the token: %w", err)
	}
	defer s.(interface{ Close() error }).Close()
	alg := signer.DefaultAlgorithm(s.Public())
	// One signature first: opening sessions is not part of the rate.
	digest := sha256.Sum256([]byte("lg baseline"))
	if _, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, digest[:]); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		fail error
	)
	cpu, start := selfCPU(), time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				if _, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, digest[:]); err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					cancel()
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if fail != nil {
		return nil, fmt.Errorf("lg: baseline signature: %w", fail)
	}
	b := &Baseline{Concurrency: conc, Seconds: time.Since(start).Seconds(), Signatures: n.Load()}
	if b.Signatures > 0 {
		b.Rate = float64(b.Signatures) / b.Seconds
		b.CPUPerSignature = (selfCPU() - cpu).Seconds() * 1000 / float64(b.Signatures)
		if b.CPUPerSignature > 0 {
			b.CapacityAt2Cores = 2000 / b.CPUPerSignature
		}
	}
	return b, nil
}

// Merge adds o's signatures, time and CPU to b: a baseline measured before
// and after the load is less skewed by what else the machine does.
func (b *Baseline) Merge(o *Baseline) {
	if o == nil || o.Signatures == 0 {
		return
	}
	cpu := b.CPUPerSignature*float64(b.Signatures) + o.CPUPerSignature*float64(o.Signatures)
	b.Seconds += o.Seconds
	b.Signatures += o.Signatures
	b.Rate = float64(b.Signatures) / b.Seconds
	b.CPUPerSignature = cpu / float64(b.Signatures)
	b.CapacityAt2Cores = 2000 / b.CPUPerSignature
}

// CompareBaseline records b in r (a signhash report) with the ratios of
// the signHash figures to it: the wall-clock rate, and the signatures two
// dedicated cores could make by CPU per signature, counting the gateway
// and the generator, and the gateway alone.
func (r *Report) CompareBaseline(b *Baseline) {
	r.Baseline = b
	if b == nil || b.Rate == 0 || r.Hashes == 0 {
		return
	}
	r.VsBaseline.Rate = r.SigRate / b.Rate
	perSig := (r.GatewayCPUPerUnit + r.LoadgenCPUPerUnit) / float64(r.Hashes)
	if perSig > 0 {
		r.VsBaseline.Capacity = b.CPUPerSignature / perSig
	}
	if g := r.GatewayCPUPerUnit / float64(r.Hashes); g > 0 {
		r.VsBaseline.GatewayCapacity = b.CPUPerSignature / g
	}
}
