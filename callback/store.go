package callback

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/securesign/securesign/deeplink"
)

// Pending is what a consumer remembers of a request it issued, to check
// the result against.
type Pending struct {
	RequestID string
	// TenantID is the gateway's tenant; the library does not use it.
	TenantID string
	Action   deeplink.Action
	// Hashes are the issued digests, in link order (sign).
	Hashes   [][]byte
	HashAlgo crypto.Hash
	// Origin and Challenge make the register digest (register).
	Origin    string
	Challenge []byte
	// CertSerial and CertSHA256, when set, name the only acceptable
	// certificate; RegisteredCert is a certificate registered earlier,
	// used when the result carries none and then also required to match.
	CertSerial     *big.Int
	CertSHA256     []byte
	RegisteredCert *x509.Certificate
	ExpiresAt      time.Time
}

// Completion is the recorded outcome of a request: the first valid result.
type Completion struct {
	// ResultHash identifies the result (see resultHash), so that the same
	// result delivered again is recognised whatever its encoding.
	ResultHash [32]byte
	Success    bool
	// Code is the app's error code for a failure.
	Code Code
	// Message is the app's message for a failure.
	Message string
	// Signatures are the verified signatures, ECDSA in DER.
	Signatures  [][]byte
	Certificate *x509.Certificate
	// Chain is the chain that was verified, intermediates only, leaf
	// excluded, root excluded.
	Chain       []*x509.Certificate
	CompletedAt time.Time
}

// Store keeps pending requests and their completions. The gateway
// implements it on SQLite and PostgreSQL; MemoryStore is the in-process
// one.
type Store interface {
	// Pending returns the request and, when it is completed, its
	// completion. An unknown requestId is an error wrapping
	// ErrUnknownRequest.
	Pending(ctx context.Context, requestID string) (*Pending, *Completion, error)
	// Complete records c as the completion of requestID, atomically
	// (compare-and-set), when nothing is recorded yet or when c is a
	// success and the recorded completion a failure (PROTOCOL 1.1 §3: a
	// failure does not complete a request). It returns the completion now
	// stored and whether it is c. A success is never replaced, so a
	// failure never overwrites a success.
	Complete(ctx context.Context, requestID string, c *Completion) (stored *Completion, won bool, err error)
}

// MemoryStore is a Store in memory, safe for concurrent use. Its zero value
// is empty and ready.
type MemoryStore struct {
	mu   sync.Mutex
	reqs map[string]*memEntry
}

type memEntry struct {
	p *Pending
	c *Completion
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Add records a pending request. Its requestId must be new.
func (s *MemoryStore) Add(p *Pending) error {
	if p == nil || p.RequestID == "" {
		return fmt.Errorf("callback: pending request without requestId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reqs == nil {
		s.reqs = map[string]*memEntry{}
	}
	if _, ok := s.reqs[p.RequestID]; ok {
		return fmt.Errorf("callback: requestId %q already issued", p.RequestID)
	}
	cp := *p
	cp.Hashes = cloneBytes(p.Hashes)
	s.reqs[p.RequestID] = &memEntry{p: &cp}
	return nil
}

// Pending implements Store.
func (s *MemoryStore) Pending(ctx context.Context, requestID string) (*Pending, *Completion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.reqs[requestID]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownRequest, requestID)
	}
	p := *e.p
	return &p, copyCompletion(e.c), nil
}

// Complete implements Store.
func (s *MemoryStore) Complete(ctx context.Context, requestID string, c *Completion) (*Completion, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.reqs[requestID]
	if !ok {
		return nil, false, fmt.Errorf("%w: %q", ErrUnknownRequest, requestID)
	}
	if e.c != nil && (e.c.Success || !c.Success) {
		return copyCompletion(e.c), false, nil
	}
	e.c = copyCompletion(c)
	return copyCompletion(e.c), true, nil
}

func copyCompletion(c *Completion) *Completion {
	if c == nil {
		return nil
	}
	cp := *c
	cp.Signatures = cloneBytes(c.Signatures)
	cp.Chain = slices.Clone(c.Chain)
	return &cp
}

func cloneBytes(in [][]byte) [][]byte {
	if in == nil {
		return nil
	}
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = slices.Clone(b)
	}
	return out
}
