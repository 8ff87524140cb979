package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// caState is what the database keeps of the gateway's CA (setting "ca");
// the keys are in the pki key store, encrypted under the master key.
type caState struct {
	Root       []byte `json:"root"`
	Issuing    []byte `json:"issuing"`
	IssuingKey string `json:"issuingKey"`
	// RootKey signs the root CRL that the issuing CA certificate names as
	// its CRL distribution point. CAs created before the gateway kept it
	// have none: their issuing CA names no revocation source.
	RootKey string `json:"rootKey,omitempty"`
}

const (
	caIssuingKeyID = "gateway-ca-issuing"
	caRootKeyID    = "gateway-ca-root"
)

// openGatewayCA opens the key stores and the CA: on the CA token when
// cfg.CAPKCS11 is set, in the software key store otherwise; subjects' new
// keys go to the user-key token when cfg.UserKeysPKCS11 is set. The
// returned closer (nil when there is nothing to release) releases the
// tokens; on error everything is released already.
func openGatewayCA(ctx context.Context, st Store, cfg Config, baseURL string) (_ *pki.CA, _ *pki.SoftwareKeyStore, _ *userKeyStore, closer func() error, err error) {
	ps, err := PKIStore(st)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	keys, err := pki.NewSoftwareKeyStore(ps, cfg.MasterKey)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	uk, err := openUserKeys(cfg, keys)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var ca *pki.CA
	var caClose func() error
	if cfg.CAPKCS11 != nil {
		ca, caClose, err = openTokenCA(ctx, st, cfg, baseURL, ps, keys, uk)
	} else {
		ca, err = openCA(ctx, st, cfg, baseURL, ps, keys, uk)
	}
	if err != nil {
		uk.Close() //nolint:errcheck
		return nil, nil, nil, nil, err
	}
	closer = func() error {
		var errs []error
		if caClose != nil {
			errs = append(errs, caClose())
		}
		errs = append(errs, uk.Close())
		return errors.Join(errs...)
	}
	return ca, keys, uk, closer, nil
}

// openCA loads the gateway's software CA, creating it on first start. Two
// gateways starting together on one database agree on the first one
// stored. userKeys becomes the CA's generator of subjects' keys.
func openCA(ctx context.Context, st Store, cfg Config, baseURL string, ps pki.Store, keys *pki.SoftwareKeyStore, userKeys pki.KeyGenerator) (*pki.CA, error) {
	raw, err := st.Setting(ctx, "ca")
	if err == ErrNotFound {
		// BaseURL makes the issuing CA certificate point at the root CRL
		// (baseURL+pki.RootCRLPath), which the CA signs with the root key
		// kept below, so that B-LT signatures carry revocation data for
		// the intermediate too.
		h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: cfg.CAName, Organization: strings.TrimSuffix(cfg.CAName, " CA"),
			KeyType: pki.P256, BaseURL: baseURL, Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("gateway: create CA: %w", err)
		}
		suffix := randomHex(6)
		kid, rkid := caIssuingKeyID+"-"+suffix, caRootKeyID+"-"+suffix
		if err := keys.Put(ctx, kid, h.IssuingKey); err != nil {
			return nil, fmt.Errorf("gateway: store CA key: %w", err)
		}
		if err := keys.Put(ctx, rkid, h.RootKey); err != nil {
			return nil, fmt.Errorf("gateway: store CA root key: %w", err)
		}
		state := jsonBytes(caState{Root: h.Root.Raw, Issuing: h.Issuing.Raw, IssuingKey: kid, RootKey: rkid})
		if raw, err = st.PutSetting(ctx, "ca", state, true); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	var cs caState
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, fmt.Errorf("gateway: stored CA: %w", err)
	}
	root, err := x509.ParseCertificate(cs.Root)
	if err != nil {
		return nil, fmt.Errorf("gateway: stored CA root: %w", err)
	}
	issuing, err := x509.ParseCertificate(cs.Issuing)
	if err != nil {
		return nil, fmt.Errorf("gateway: stored CA certificate: %w", err)
	}
	key, err := keys.Signer(ctx, cs.IssuingKey)
	if err != nil {
		return nil, fmt.Errorf("gateway: CA key (wrong master key?): %w", err)
	}
	var rootKey crypto.Signer
	if cs.RootKey != "" {
		if rootKey, err = keys.Signer(ctx, cs.RootKey); err != nil {
			return nil, fmt.Errorf("gateway: CA root key (wrong master key?): %w", err)
		}
	}
	pc := pki.Config{
		Cert: issuing, Key: key, Chain: []*x509.Certificate{root}, RootKey: rootKey,
		Store: ps, Keys: userKeys, BaseURL: baseURL, Now: cfg.Now,
	}
	if pc.OCSPSigner, pc.TSASigner, err = serviceSigners(ctx, st, ps, keys, pc); err != nil {
		return nil, err
	}
	ca, err := pki.New(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("gateway: CA: %w", err)
	}
	return ca, nil
}

// serviceState is what the database keeps of the OCSP responder's or the
// TSA's certificate (settings "ca.ocsp", "ca.tsa"); the key is in the pki
// key store, encrypted under the master key.
type serviceState struct {
	Cert []byte `json:"cert"`
	Key  string `json:"key"`
}

// serviceRenewBefore is how long before expiry a start renews a service
// certificate (the OCSP responder's lives 90 days).
const serviceRenewBefore = 14 * 24 * time.Hour

// serviceSigners loads the OCSP responder and TSA keys and certificates,
// issuing them on first start and when they are near expiry or were not
// issued by the current CA, so that restarts do not add certificates.
func serviceSigners(ctx context.Context, st Store, ps pki.Store, keys *pki.SoftwareKeyStore, pc pki.Config) (ocsp, tsa signer.Signer, err error) {
	var boot *pki.CA // issues new service certificates; made when needed
	svcs := []struct {
		setting, profile, role string
		dst                    *signer.Signer
	}{
		{"ca.ocsp", pki.ProfileOCSP, "OCSP Responder", &ocsp},
		{"ca.tsa", pki.ProfileTSA, "Time Stamping Unit", &tsa},
	}
	for _, svc := range svcs {
		s, err := loadService(ctx, st, keys, pc, svc.setting)
		if err != nil {
			return nil, nil, err
		}
		if s == nil {
			if boot == nil {
				// The bootstrap CA's own in-memory service certificates
				// go to a throwaway store; what it issues here is copied
				// into the real one.
				bc := pc
				bc.Store, bc.Keys, bc.OCSPSigner, bc.TSASigner = pki.NewMemoryStore(), nil, nil, nil
				if boot, err = pki.New(ctx, bc); err != nil {
					return nil, nil, fmt.Errorf("gateway: CA: %w", err)
				}
			}
			if s, err = newService(ctx, st, ps, keys, pc, boot, svc.setting, svc.profile, svc.role); err != nil {
				return nil, nil, err
			}
		}
		*svc.dst = s
	}
	return ocsp, tsa, nil
}

// loadService returns the stored service signer, or nil when there is none
// or it must be renewed.
func loadService(ctx context.Context, st Store, keys *pki.SoftwareKeyStore, pc pki.Config, setting string) (signer.Signer, error) {
	raw, err := st.Setting(ctx, setting)
	if err == ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ss serviceState
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, fmt.Errorf("gateway: stored %s: %w", setting, err)
	}
	cert, err := x509.ParseCertificate(ss.Cert)
	if err != nil {
		return nil, fmt.Errorf("gateway: stored %s certificate: %w", setting, err)
	}
	now := time.Now()
	if pc.Now != nil {
		now = pc.Now()
	}
	if !now.Add(serviceRenewBefore).Before(cert.NotAfter) || cert.CheckSignatureFrom(pc.Cert) != nil {
		return nil, nil // near expiry, or from a CA since replaced
	}
	key, err := keys.Signer(ctx, ss.Key)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s key (wrong master key?): %w", setting, err)
	}
	return signer.NewSoftware(key, cert, append([]*x509.Certificate{pc.Cert}, pc.Chain...))
}

// newService issues a service certificate for a new P-256 key, records it
// in the CA's store and keeps key and certificate. When another gateway
// stored one first (same database, first start), that one is used.
func newService(ctx context.Context, st Store, ps pki.Store, keys *pki.SoftwareKeyStore, pc pki.Config, boot *pki.CA, setting, profile, role string) (signer.Signer, error) {
	fail := func(err error) (signer.Signer, error) {
		return nil, fmt.Errorf("gateway: %s certificate: %w", setting, err)
	}
	key, err := pki.GenerateKey(pki.P256)
	if err != nil {
		return fail(err)
	}
	subj := pki.Subject{CommonName: pc.Cert.Subject.CommonName + " " + role, Organization: firstOf(pc.Cert.Subject.Organization), Country: firstOf(pc.Cert.Subject.Country)}
	cert, err := boot.Issue(ctx, key.Public(), subj, profile)
	if err != nil {
		return fail(err)
	}
	rec, err := boot.Lookup(ctx, cert.SerialNumber)
	if err != nil {
		return fail(err)
	}
	// In the CA's store the OCSP responder answers for it (the TSA's
	// certificate is checked by validators) and it is listed.
	if err := ps.PutCertificate(ctx, rec); err != nil {
		return fail(err)
	}
	kid := "gateway-" + strings.TrimPrefix(setting, "ca.") + "-" + randomHex(6)
	if err := keys.Put(ctx, kid, key); err != nil {
		return fail(err)
	}
	state := jsonBytes(serviceState{Cert: cert.Raw, Key: kid})
	old, had := st.Setting(ctx, setting)
	if had == nil {
		// Renewal: what the old certificate signed stays believed.
		var os serviceState
		if json.Unmarshal(old, &os) == nil && len(os.Cert) > 0 {
			if err := keepPreviousService(ctx, st, setting, os.Cert); err != nil {
				return fail(err)
			}
		}
	}
	// First start: keep what a concurrent gateway stored first. Renewal:
	// replace (a concurrent renewal's certificate stays valid until it
	// expires, so both are fine).
	stored, err := st.PutSetting(ctx, setting, state, had == ErrNotFound)
	if err != nil {
		return fail(err)
	}
	if !bytes.Equal(stored, state) {
		s, err := loadService(ctx, st, keys, pc, setting)
		if err != nil || s != nil {
			return s, err
		}
	}
	return signer.NewSoftware(key, cert, append([]*x509.Certificate{pc.Cert}, pc.Chain...))
}

func firstOf(s []string) string {
	if len(s) > 0 {
		return s[0]
	}
	return ""
}

// linkKeys are the link-signing keys (PROTOCOL 1.1 §2): each tenant's
// links are signed with the tenant's own active key, made on the tenant's
// first link; every unretired key of every tenant is published. Keys are
// read from the store, so that every gateway sharing it publishes the keys
// any of them made.
type linkKeys struct {
	st     Store
	master []byte
	mu     sync.Mutex
	signer map[string]*deeplink.SigningKey // active key by tenant
}

// loadLinkKeys reads the active keys.
func loadLinkKeys(ctx context.Context, st Store, master []byte, now time.Time) (*linkKeys, error) {
	lk := &linkKeys{st: st, master: master}
	if err := lk.reload(ctx); err != nil {
		return nil, err
	}
	return lk, nil
}

// reload reads the tenants' active keys from the store.
func (lk *linkKeys) reload(ctx context.Context) error {
	keys, err := lk.st.LinkKeys(ctx)
	if err != nil {
		return err
	}
	m := map[string]*deeplink.SigningKey{}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	for _, k := range keys {
		if !k.Active || !k.RetiredAt.IsZero() {
			continue
		}
		seed, err := openSecret(lk.master, "linkkey:"+k.KID, k.Private)
		if err != nil {
			return fmt.Errorf("gateway: link key %s: %w", k.KID, err)
		}
		sk, err := deeplink.SigningKeyFromSeed(k.KID, seed)
		clear(seed)
		if err != nil {
			return err
		}
		m[k.TenantID] = sk // newest active wins (two gateways made one at once)
	}
	lk.mu.Lock()
	lk.signer = m
	lk.mu.Unlock()
	return nil
}

// forTenant returns the key that signs tenantID's links, making the
// tenant's first key when it has none.
func (lk *linkKeys) forTenant(ctx context.Context, tenantID string, now time.Time) (*deeplink.SigningKey, error) {
	lk.mu.Lock()
	sk := lk.signer[tenantID]
	lk.mu.Unlock()
	if sk != nil {
		return sk, nil
	}
	// Another gateway may have made it: read before making one.
	if err := lk.reload(ctx); err != nil {
		return nil, err
	}
	lk.mu.Lock()
	sk = lk.signer[tenantID]
	lk.mu.Unlock()
	if sk != nil {
		return sk, nil
	}
	if _, err := RotateTenantLinkKey(ctx, lk.st, lk.master, tenantID, now); err != nil {
		return nil, err
	}
	if err := lk.reload(ctx); err != nil {
		return nil, err
	}
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if sk = lk.signer[tenantID]; sk == nil {
		return nil, fmt.Errorf("gateway: no link key for tenant %s after making one", tenantID)
	}
	return sk, nil
}

// published returns the JWKS of every unretired key, or of one tenant's
// when tenantID is not nil.
func (lk *linkKeys) published(ctx context.Context, tenantID *string) (*deeplink.KeySet, error) {
	keys, err := lk.st.LinkKeys(ctx)
	if err != nil {
		return nil, err
	}
	set := &deeplink.KeySet{Keys: []deeplink.PublicKey{}}
	for _, k := range keys {
		if !k.RetiredAt.IsZero() || (tenantID != nil && k.TenantID != *tenantID) {
			continue
		}
		set.Keys = append(set.Keys, deeplink.PublicKey{KID: k.KID, Key: ed25519.PublicKey(k.Public)})
	}
	return set, nil
}

// RotateLinkKey makes a new key for the gateway's own links of before 1.1
// (the empty tenant). Tenants' links are signed with their own keys: see
// RotateTenantLinkKey.
func RotateLinkKey(ctx context.Context, st Store, master []byte, now time.Time) (string, error) {
	return RotateTenantLinkKey(ctx, st, master, "", now)
}

// RotateTenantLinkKey creates a new Ed25519 key for tenantID's links and
// makes it the tenant's active one; its earlier keys stay published so
// links already out still verify. The kid names the tenant.
func RotateTenantLinkKey(ctx context.Context, st Store, master []byte, tenantID string, now time.Time) (string, error) {
	kid := "gw-" + now.UTC().Format("20060102") + "-" + randomHex(4)
	if tenantID != "" {
		kid = kidPart(tenantID) + "-" + now.UTC().Format("20060102") + "-" + randomHex(4)
	}
	sk, err := deeplink.NewSigningKey(kid, nil)
	if err != nil {
		return "", err
	}
	seed := sk.Key.Seed()
	enc, err := sealSecret(master, "linkkey:"+kid, seed)
	clear(seed)
	if err != nil {
		return "", err
	}
	if err := st.CreateLinkKey(ctx, &LinkKey{KID: kid, TenantID: tenantID, Public: sk.Key.Public().(ed25519.PublicKey), Private: enc, CreatedAt: now}); err != nil {
		return "", err
	}
	return kid, st.ActivateLinkKey(ctx, kid, now)
}

// kidPart is a tenant id as kid characters ([A-Za-z0-9._-]), at most 40.
func kidPart(tenantID string) string {
	b := []byte(tenantID)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// openTokenCA builds the CA on an issuing key held by a PKCS#11 token. The
// returned closer releases the token session.
func openTokenCA(ctx context.Context, st Store, cfg Config, baseURL string, ps pki.Store, keys *pki.SoftwareKeyStore, userKeys pki.KeyGenerator) (*pki.CA, func() error, error) {
	p := cfg.CAPKCS11
	mod, err := signer.OpenModule(ctx, p.Module)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: CA token: %w", err)
	}
	sg, err := mod.Signer(ctx, signer.TokenSelector{Label: p.TokenLabel}, signer.KeySelector{KeyLabel: p.KeyLabel}, p.PIN)
	if err != nil {
		mod.Close()
		return nil, nil, fmt.Errorf("gateway: CA key on token %q: %w", p.TokenLabel, err)
	}
	closeAll := func() error {
		var errs []error
		if c, ok := sg.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
		errs = append(errs, mod.Close())
		return errors.Join(errs...)
	}
	chain := sg.Chain()
	if cfg.CAChainFile != "" {
		_, certs, err := pki.LoadTrustAnchors(cfg.CAChainFile)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("gateway: CA chain: %w", err)
		}
		chain = certs
	}
	if len(chain) == 0 {
		closeAll()
		return nil, nil, errors.New("gateway: the CA token has no chain above the CA certificate: give CAChainFile")
	}
	pc := pki.Config{Cert: sg.Certificate(), Key: sg, Chain: chain, Store: ps, Keys: userKeys, BaseURL: baseURL, Now: cfg.Now}
	if pc.OCSPSigner, pc.TSASigner, err = serviceSigners(ctx, st, ps, keys, pc); err != nil {
		closeAll()
		return nil, nil, err
	}
	ca, err := pki.New(ctx, pc)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("gateway: CA: %w", err)
	}
	return ca, closeAll, nil
}

// pkcs11KeyPrefix starts the key ids (in the CA's certificate records) of
// subjects' keys on the user-key token; the rest is the hex CKA_ID. Ids of
// the software key store never contain a colon.
const pkcs11KeyPrefix = "pkcs11:"

// Key kinds of server-held keys (Certificate.KeyKind).
const (
	keyKindSoftware = "software"
	keyKindPKCS11   = "pkcs11"
)

// errNoUserKeyToken: a credential's key is on a token the gateway was not
// configured with.
var errNoUserKeyToken = fmt.Errorf("%w: the key is on a PKCS#11 token but the gateway has no user-key token configured (--user-keys-module)", signer.ErrTokenNotFound)

// userKeyStore is the CA's pki.KeyGenerator of subjects' keys: new keys on
// the user-key token when one is configured, in the software key store
// otherwise; existing keys are found wherever their id says they are, so
// software keys keep working next to token keys.
type userKeyStore struct {
	soft *pki.SoftwareKeyStore
	hsm  *pki.PKCS11KeyStore // nil without Config.UserKeysPKCS11
}

// openUserKeys logs in to the user-key token when cfg names one: a missing
// token or a wrong PIN stops the start here rather than at the first
// signature.
func openUserKeys(cfg Config, soft *pki.SoftwareKeyStore) (*userKeyStore, error) {
	uk := &userKeyStore{soft: soft}
	p := cfg.UserKeysPKCS11
	if p == nil {
		return uk, nil
	}
	hsm, err := pki.OpenPKCS11KeyStore(p.Module, p.TokenLabel, p.PIN)
	if err != nil {
		return nil, fmt.Errorf("gateway: user-key token %q: %w", p.TokenLabel, err)
	}
	uk.hsm = hsm
	return uk, nil
}

// Close logs out of the user-key token.
func (u *userKeyStore) Close() error {
	if u == nil || u.hsm == nil {
		return nil
	}
	return u.hsm.Close()
}

// kind is the Certificate.KeyKind of a key id.
func (u *userKeyStore) kind(id string) string {
	if strings.HasPrefix(id, pkcs11KeyPrefix) {
		return keyKindPKCS11
	}
	return keyKindSoftware
}

// GenerateKey implements pki.KeyGenerator.
func (u *userKeyStore) GenerateKey(ctx context.Context, kt pki.KeyType) (string, crypto.PublicKey, error) {
	if u.hsm == nil {
		return u.soft.GenerateKey(ctx, kt)
	}
	id, pub, err := u.hsm.GenerateKey(ctx, kt)
	if err != nil {
		return "", nil, err
	}
	return pkcs11KeyPrefix + id, pub, nil
}

// Signer implements pki.KeyGenerator. A token key's signer stays logged in
// through the PKCS11KeyStore, which keeps recently used keys open.
func (u *userKeyStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	raw, ok := strings.CutPrefix(id, pkcs11KeyPrefix)
	if !ok {
		return u.soft.Signer(ctx, id)
	}
	if u.hsm == nil {
		return nil, errNoUserKeyToken
	}
	return u.hsm.Signer(ctx, raw)
}

// storeCertificate puts cert on the token next to its key, as PKCS#11
// tools and signer.Module.Signer expect to find it; software keys have no
// such place.
func (u *userKeyStore) storeCertificate(ctx context.Context, id string, cert *x509.Certificate) error {
	raw, ok := strings.CutPrefix(id, pkcs11KeyPrefix)
	if !ok || u.hsm == nil {
		return nil
	}
	return u.hsm.StoreCertificate(ctx, raw, cert)
}

var _ pki.KeyGenerator = (*userKeyStore)(nil)
