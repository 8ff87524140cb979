//go:build cgo

package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// This file talks PKCS#11 through miekg/pkcs11 directly rather than
// crypto11: C_Initialize/C_Finalize are process-wide, so one owner must
// count references (crypto11 keeps its own count and refuses a module that
// someone else initialized); crypto11 hides the token flags and ignores
// CKR_USER_ALREADY_LOGGED_IN (a wrong PIN then "succeeds"); and it has no
// context-specific login for CKA_ALWAYS_AUTHENTICATE keys.

// libraries holds the PKCS#11 modules this process has initialized. It is
// the package's one piece of global state, and must be: C_Initialize and
// the login state of a token belong to the whole process, not to a Module
// value, so two Modules on the same path must share them.
var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

// library is one loaded and initialized PKCS#11 module.
type library struct {
	path string
	ctx  *pkcs11.Ctx
	ours bool // we called C_Initialize, so we call C_Finalize
	refs int  // Modules and Signers using it

	mu     sync.Mutex             // guards logins and serializes C_Login/C_Logout
	logins map[string]*tokenLogin // by token serial and label
	macKey [32]byte               // keys the PIN MACs in logins
}

// stillLoggedIn reports whether the anchor session is alive and logged in.
func (tl *tokenLogin) stillLoggedIn(p *pkcs11.Ctx) bool {
	si, err := p.GetSessionInfo(tl.anchor)
	return err == nil && (si.State == pkcs11.CKS_RO_USER_FUNCTIONS || si.State == pkcs11.CKS_RW_USER_FUNCTIONS)
}

// tokenLogin is the process's login on one token, shared by every Signer on
// it: PKCS#11 login state is per application and token, not per session.
type tokenLogin struct {
	users  int
	anchor pkcs11.SessionHandle // kept open so the login outlives pool sessions
	pinMAC []byte               // HMAC of the PIN that logged in, to check later PINs
}

// pkcs11Built reports whether this build can load PKCS#11 modules.
const pkcs11Built = true

// openModule is OpenModule past the argument checks.
func openModule(path string) (*Module, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("signer: PKCS#11 module %s: %w", path, err)
	}
	key := filepath.Clean(path)
	libraries.Lock()
	defer libraries.Unlock()
	if lib, ok := libraries.m[key]; ok {
		lib.refs++
		return &Module{lib: lib, closed: make(chan struct{})}, nil
	}
	p := pkcs11.New(path)
	if p == nil {
		return nil, fmt.Errorf("signer: cannot load PKCS#11 module %s (not a PKCS#11 library, or built for another architecture)", path)
	}
	lib := &library{path: key, ctx: p, ours: true, refs: 1, logins: map[string]*tokenLogin{}}
	if err := p.Initialize(); err != nil {
		if !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			p.Destroy()
			hint := ""
			if strings.Contains(strings.ToLower(filepath.Base(path)), "softhsm") {
				hint = " (SoftHSM: is SOFTHSM2_CONF set to a readable softhsm2.conf whose tokendir exists?)"
			}
			return nil, fmt.Errorf("signer: C_Initialize of %s: %w%s", path, err, hint)
		}
		lib.ours = false
	}
	if _, err := io.ReadFull(rand.Reader, lib.macKey[:]); err != nil {
		return nil, err
	}
	libraries.m[key] = lib
	return &Module{lib: lib, closed: make(chan struct{})}, nil
}

func (lib *library) release() error {
	libraries.Lock()
	defer libraries.Unlock()
	lib.refs--
	if lib.refs > 0 {
		return nil
	}
	delete(libraries.m, lib.path)
	var err error
	if lib.ours {
		if e := lib.ctx.Finalize(); e != nil {
			err = fmt.Errorf("signer: C_Finalize of %s: %w", lib.path, e)
		}
	}
	lib.ctx.Destroy()
	return err
}

func tokenInfo(slot uint, si pkcs11.SlotInfo, ti *pkcs11.TokenInfo) TokenInfo {
	t := TokenInfo{SlotDescription: trimP11(si.SlotDescription), slot: slot, TriesLeft: -1}
	if ti == nil {
		return t
	}
	t.Present = true
	t.Label = trimP11(ti.Label)
	t.Serial = trimP11(ti.SerialNumber)
	t.Manufacturer = trimP11(ti.ManufacturerID)
	t.Model = trimP11(ti.Model)
	t.Initialized = ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0
	t.PINCountLow = ti.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0
	t.PINFinalTry = ti.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0
	t.PINLocked = ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0
	t.PINToBeChanged = ti.Flags&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0
	t.ProtectedAuthPath = ti.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH != 0
	t.MinPINLen, t.MaxPINLen = int(ti.MinPinLen), int(ti.MaxPinLen)
	switch {
	case t.PINLocked:
		t.TriesLeft = 0
	case t.PINFinalTry:
		t.TriesLeft = 1
	}
	return t
}

func trimP11(s string) string { return strings.TrimRight(s, " \x00") }

// tokens is Tokens past the checks.
func (m *Module) tokens() ([]TokenInfo, error) {
	p := m.lib.ctx
	slots, err := p.GetSlotList(false)
	if err != nil {
		return nil, fmt.Errorf("signer: C_GetSlotList: %w", err)
	}
	out := make([]TokenInfo, 0, len(slots))
	for _, s := range slots {
		si, err := p.GetSlotInfo(s)
		if err != nil {
			return nil, fmt.Errorf("signer: C_GetSlotInfo: %w", err)
		}
		if si.Flags&pkcs11.CKF_TOKEN_PRESENT == 0 {
			out = append(out, tokenInfo(s, si, nil))
			continue
		}
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			if isCKR(err, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_REMOVED) {
				out = append(out, tokenInfo(s, si, nil))
				continue
			}
			return nil, fmt.Errorf("signer: C_GetTokenInfo: %w", err)
		}
		out = append(out, tokenInfo(s, si, &ti))
	}
	return out, nil
}

// findToken returns the one present, initialized token sel matches.
func (m *Module) findToken(ctx context.Context, sel TokenSelector) (TokenInfo, error) {
	toks, err := m.Tokens(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	var found []TokenInfo
	var names []string
	for _, t := range toks {
		if !t.Present {
			continue
		}
		if !t.Initialized && sel.Label == "" && sel.Serial == "" {
			continue // a blank token is never "the only token"
		}
		names = append(names, fmt.Sprintf("%q (serial %s)", t.Label, t.Serial))
		if sel.Label != "" && t.Label != sel.Label {
			continue
		}
		if sel.Serial != "" && !strings.EqualFold(t.Serial, strings.TrimSpace(sel.Serial)) {
			continue
		}
		found = append(found, t)
	}
	switch {
	case len(found) == 0 && len(names) == 0:
		return TokenInfo{}, fmt.Errorf("%w: no token is present in %s", ErrTokenNotFound, m.lib.path)
	case len(found) == 0:
		return TokenInfo{}, fmt.Errorf("%w: no token with %s; present: %s", ErrTokenNotFound, sel, strings.Join(names, ", "))
	case len(found) > 1:
		return TokenInfo{}, fmt.Errorf("%w: %d tokens match %s (%s); select one by label or serial", ErrTokenNotFound, len(found), sel, strings.Join(names, ", "))
	case !found[0].Initialized:
		return TokenInfo{}, fmt.Errorf("%w: token %s is not initialized", ErrTokenNotFound, sel)
	}
	return found[0], nil
}

// tokenCert is an X.509 certificate object on a token.
type tokenCert struct {
	cert  *x509.Certificate
	label string
	id    []byte
}

// certificates is Certificates past the checks.
func (m *Module) certificates(ctx context.Context, sel TokenSelector) ([]CertInfo, error) {
	tok, err := m.findToken(ctx, sel)
	if err != nil {
		return nil, err
	}
	p := m.lib.ctx
	sh, err := p.OpenSession(tok.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("signer: C_OpenSession: %w", translate(err))
	}
	defer func() { _ = p.CloseSession(sh) }()
	certs, err := listCerts(p, sh)
	if err != nil {
		return nil, err
	}
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		out = append(out, NewCertInfo(c.cert, c.label, c.id))
	}
	return out, nil
}

func findObjects(p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("signer: C_FindObjectsInit: %w", translate(err))
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := p.FindObjects(sh, 64)
		if err != nil {
			_ = p.FindObjectsFinal(sh)
			return nil, fmt.Errorf("signer: C_FindObjects: %w", translate(err))
		}
		all = append(all, hs...)
		if len(hs) < 64 {
			break
		}
	}
	if err := p.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("signer: C_FindObjectsFinal: %w", translate(err))
	}
	return all, nil
}

func listCerts(p *pkcs11.Ctx, sh pkcs11.SessionHandle) ([]tokenCert, error) {
	hs, err := findObjects(p, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
	})
	if err != nil {
		return nil, err
	}
	var out []tokenCert
	for _, h := range hs {
		a, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		})
		if err != nil {
			continue // an object we may not read is not one we can offer
		}
		c, err := x509.ParseCertificate(a[0].Value)
		if err != nil {
			continue
		}
		out = append(out, tokenCert{cert: c, label: string(a[1].Value), id: a[2].Value})
	}
	return out, nil
}

// matchesCert reports whether c is a certificate k selects.
func (k KeySelector) matchesCert(c *x509.Certificate) bool {
	if k.CertSerial != nil && c.SerialNumber.Cmp(k.CertSerial) != 0 {
		return false
	}
	if k.CertSHA256 != nil {
		sum := sha256.Sum256(c.Raw)
		if !bytes.Equal(sum[:], k.CertSHA256) {
			return false
		}
	}
	return true
}

// openSigner is Signer.
func (m *Module) openSigner(ctx context.Context, sel TokenSelector, ksel KeySelector, pin []byte) (_ Signer, err error) {
	s, err := m.loggedIn(ctx, sel, pin)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	sh, err := s.session()
	if err != nil {
		return nil, err
	}
	defer s.put(sh, nil)
	if err := s.findKey(sh, ksel); err != nil {
		return nil, fmt.Errorf("%w (token %s)", err, sel)
	}
	if s.alwaysAuth {
		s.pin = bytes.Clone(pin)
	}
	if err := s.loadMechanisms(); err != nil {
		return nil, err
	}
	return s, nil
}

// loggedIn finds the token sel selects, takes a reference on the module and
// logs in with pin. The returned tokenSigner has no key yet; closing it
// logs out (when it is the last user) and drops the reference.
func (m *Module) loggedIn(ctx context.Context, sel TokenSelector, pin []byte) (*tokenSigner, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	tok, err := m.findToken(ctx, sel)
	if err != nil {
		return nil, err
	}
	if tok.PINLocked {
		return nil, &PINError{TriesLeft: 0, Err: ErrPINLocked}
	}
	lib := m.lib
	libraries.Lock()
	lib.refs++
	libraries.Unlock()
	s := &tokenSigner{lib: lib, slot: tok.slot, tokenKey: tok.Serial + "\x00" + tok.Label, maxSessions: 4}
	s.sessions = make(chan pkcs11.SessionHandle, s.maxSessions)
	if err := s.login(pin); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// loadMechanisms records which mechanisms the token offers.
func (s *tokenSigner) loadMechanisms() error {
	mechs, err := s.lib.ctx.GetMechanismList(s.slot)
	if err != nil {
		return fmt.Errorf("signer: C_GetMechanismList: %w", translate(err))
	}
	s.mechs = map[uint]bool{}
	for _, mech := range mechs {
		s.mechs[mech.Mechanism] = true
	}
	return nil
}

// login logs the process in to the token, or checks pin against the PIN of
// the login already in place.
func (s *tokenSigner) login(pin []byte) error {
	lib := s.lib
	mac := hmac.New(sha256.New, lib.macKey[:])
	mac.Write(pin)
	pinMAC := mac.Sum(nil)

	lib.mu.Lock()
	defer lib.mu.Unlock()
	if tl, ok := lib.logins[s.tokenKey]; ok {
		if tl.stillLoggedIn(lib.ctx) {
			// Already logged in through another Signer. C_Login would
			// answer CKR_USER_ALREADY_LOGGED_IN whatever the PIN, so
			// compare with the PIN that logged in: a different one is
			// wrong, and costs no retry on the token.
			if !hmac.Equal(tl.pinMAC, pinMAC) {
				return &PINError{TriesLeft: -1, Err: ErrPINIncorrect}
			}
			tl.users++
			s.tl = tl
			return nil
		}
		// The token was removed or reset since: that login is gone.
		delete(lib.logins, s.tokenKey)
	}
	p := lib.ctx
	anchor, err := p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return fmt.Errorf("signer: C_OpenSession: %w", translate(err))
	}
	err = p.Login(anchor, pkcs11.CKU_USER, string(pin))
	if isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		// Logged in by something else in this process (not a Signer). Log
		// out and in again: a wrong PIN must never pass.
		_ = p.Logout(anchor)
		err = p.Login(anchor, pkcs11.CKU_USER, string(pin))
	}
	if err != nil {
		_ = p.CloseSession(anchor)
		return s.loginError(err)
	}
	s.tl = &tokenLogin{users: 1, anchor: anchor, pinMAC: pinMAC}
	lib.logins[s.tokenKey] = s.tl
	return nil
}

// loginError turns a failed C_Login into a typed error, reading the
// token's PIN flags for the tries left.
func (s *tokenSigner) loginError(err error) error {
	var flags uint
	if ti, e := s.lib.ctx.GetTokenInfo(s.slot); e == nil {
		flags = ti.Flags
	}
	return loginErrorFromCKR(err, flags)
}

// loginErrorFromCKR is the translation table from a C_Login failure and the
// token flags read after it to this package's errors.
func loginErrorFromCKR(err error, flags uint) error {
	pe := &PINError{
		TriesLeft: -1,
		CountLow:  flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0,
		FinalTry:  flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
	}
	if pe.FinalTry {
		pe.TriesLeft = 1
	}
	var ckr pkcs11.Error
	if !errors.As(err, &ckr) {
		return fmt.Errorf("signer: C_Login: %w", err)
	}
	switch ckr {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		if flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
			// That wrong PIN was the last try.
			return &PINError{TriesLeft: 0, Err: ErrPINLocked}
		}
		pe.Err = ErrPINIncorrect
		return pe
	case pkcs11.CKR_PIN_LOCKED:
		return &PINError{TriesLeft: 0, Err: ErrPINLocked}
	case pkcs11.CKR_PIN_EXPIRED:
		return fmt.Errorf("signer: the token's PIN has expired and must be changed first: %w", ckr)
	}
	return fmt.Errorf("signer: C_Login: %w", translate(err))
}

// translate wraps token-gone errors with ErrTokenNotFound.
func translate(err error) error {
	if isCKR(err, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID) {
		return fmt.Errorf("%w: %w", ErrTokenNotFound, err)
	}
	return err
}

func isCKR(err error, codes ...uint) bool {
	var ckr pkcs11.Error
	if !errors.As(err, &ckr) {
		return false
	}
	for _, c := range codes {
		if uint(ckr) == c {
			return true
		}
	}
	return false
}

// tokenSigner is a Signer whose key is on a PKCS#11 token.
type tokenSigner struct {
	lib      *library
	slot     uint
	tokenKey string

	key        pkcs11.ObjectHandle
	keyID      []byte // CKA_ID; set for KeySigner keys
	pub        crypto.PublicKey
	cert       *x509.Certificate
	chain      []*x509.Certificate
	alwaysAuth bool
	mechs      map[uint]bool

	tl          *tokenLogin // set once logged in; guarded by lib.mu
	mu          sync.Mutex  // guards pin, open, closed
	pin         []byte      // only for CKA_ALWAYS_AUTHENTICATE keys
	open        int         // sessions opened by this signer and not closed
	maxSessions int
	closed      bool
	sessions    chan pkcs11.SessionHandle // idle sessions
}

func (s *tokenSigner) Public() crypto.PublicKey       { return s.pub }
func (s *tokenSigner) Certificate() *x509.Certificate { return s.cert }
func (s *tokenSigner) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), s.chain...)
}
func (s *tokenSigner) verifiesSignatures() bool { return true }

// session returns an idle session, opening one when fewer than maxSessions
// are open, or waiting for one.
func (s *tokenSigner) session() (pkcs11.SessionHandle, error) {
	select {
	case sh := <-s.sessions:
		return sh, nil
	default:
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errors.New("signer: token signer is closed")
	}
	if s.open < s.maxSessions {
		s.open++
		s.mu.Unlock()
		sh, err := s.lib.ctx.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			s.mu.Lock()
			s.open--
			s.mu.Unlock()
			return 0, fmt.Errorf("signer: C_OpenSession: %w", translate(err))
		}
		return sh, nil
	}
	s.mu.Unlock()
	sh, ok := <-s.sessions
	if !ok {
		return 0, errors.New("signer: token signer is closed")
	}
	return sh, nil
}

// put returns a session to the pool, or closes it when err says the
// session may be in an unknown state.
func (s *tokenSigner) put(sh pkcs11.SessionHandle, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || s.closed {
		_ = s.lib.ctx.CloseSession(sh)
		s.open--
		return
	}
	s.sessions <- sh // never blocks: at most maxSessions exist
}

// Close logs out when it is the last Signer on the token, closes the
// sessions, zeroes the kept PIN and releases the module.
func (s *tokenSigner) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	clear(s.pin)
	s.pin = nil
	for {
		select {
		case sh := <-s.sessions:
			_ = s.lib.ctx.CloseSession(sh)
			s.open--
			continue
		default:
		}
		break
	}
	s.mu.Unlock()
	lib := s.lib
	lib.mu.Lock()
	if tl := s.tl; tl != nil {
		s.tl = nil
		tl.users--
		if tl.users == 0 {
			_ = lib.ctx.Logout(tl.anchor)
			_ = lib.ctx.CloseSession(tl.anchor)
			if lib.logins[s.tokenKey] == tl {
				delete(lib.logins, s.tokenKey)
			}
		}
	}
	lib.mu.Unlock()
	return lib.release()
}
