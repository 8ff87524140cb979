package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// caState is what the database keeps of the gateway's CA (setting "ca");
// the issuing key is in the pki key store, encrypted under the master key.
type caState struct {
	Root       []byte `json:"root"`
	Issuing    []byte `json:"issuing"`
	IssuingKey string `json:"issuingKey"`
}

const caIssuingKeyID = "gateway-ca-issuing"

// openCA loads the gateway's CA, creating it on first start. Two gateways
// starting together on one database agree on the first one stored.
func openCA(ctx context.Context, st Store, cfg Config, baseURL string) (*pki.CA, *pki.SoftwareKeyStore, error) {
	ps, err := PKIStore(st)
	if err != nil {
		return nil, nil, err
	}
	keys, err := pki.NewSoftwareKeyStore(ps, cfg.MasterKey)
	if err != nil {
		return nil, nil, err
	}
	if cfg.CAPKCS11 != nil {
		return nil, nil, errors.New("gateway: internal: PKCS#11 CA is opened by openTokenCA")
	}
	raw, err := st.Setting(ctx, "ca")
	if err == ErrNotFound {
		h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: cfg.CAName, Organization: strings.TrimSuffix(cfg.CAName, " CA"), KeyType: pki.P256})
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: create CA: %w", err)
		}
		kid := caIssuingKeyID + "-" + randomHex(6)
		if err := keys.Put(ctx, kid, h.IssuingKey); err != nil {
			return nil, nil, fmt.Errorf("gateway: store CA key: %w", err)
		}
		state := jsonBytes(caState{Root: h.Root.Raw, Issuing: h.Issuing.Raw, IssuingKey: kid})
		if raw, err = st.PutSetting(ctx, "ca", state, true); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	var cs caState
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, nil, fmt.Errorf("gateway: stored CA: %w", err)
	}
	root, err := x509.ParseCertificate(cs.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: stored CA root: %w", err)
	}
	issuing, err := x509.ParseCertificate(cs.Issuing)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: stored CA certificate: %w", err)
	}
	key, err := keys.Signer(ctx, cs.IssuingKey)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: CA key (wrong master key?): %w", err)
	}
	ca, err := pki.New(ctx, pki.Config{
		Cert: issuing, Key: key, Chain: []*x509.Certificate{root},
		Store: ps, Keys: keys, BaseURL: baseURL, Now: cfg.Now,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: CA: %w", err)
	}
	return ca, keys, nil
}

// linkKeys is the gateway's set of link-signing keys: the active one signs,
// all unretired ones are published.
type linkKeys struct {
	active *deeplink.SigningKey
	set    *deeplink.KeySet
}

// loadLinkKeys reads the link keys, creating the first one when none exists.
func loadLinkKeys(ctx context.Context, st Store, master []byte, now time.Time) (*linkKeys, error) {
	keys, err := st.LinkKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if _, err := RotateLinkKey(ctx, st, master, now); err != nil {
			return nil, err
		}
		if keys, err = st.LinkKeys(ctx); err != nil {
			return nil, err
		}
	}
	lk := &linkKeys{set: &deeplink.KeySet{}}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	for _, k := range keys {
		if !k.RetiredAt.IsZero() {
			continue
		}
		lk.set.Keys = append(lk.set.Keys, deeplink.PublicKey{KID: k.KID, Key: ed25519.PublicKey(k.Public)})
		if k.Active {
			seed, err := openSecret(master, "linkkey:"+k.KID, k.Private)
			if err != nil {
				return nil, fmt.Errorf("gateway: link key %s: %w", k.KID, err)
			}
			sk, err := deeplink.SigningKeyFromSeed(k.KID, seed)
			clear(seed)
			if err != nil {
				return nil, err
			}
			lk.active = sk
		}
	}
	if lk.active == nil {
		// Two gateways created a first key at once: use the newest.
		k := keys[len(keys)-1]
		if err := st.ActivateLinkKey(ctx, k.KID, now); err != nil {
			return nil, err
		}
		return loadLinkKeys(ctx, st, master, now)
	}
	return lk, nil
}

// RotateLinkKey creates a new Ed25519 link-signing key and makes it the
// active one; earlier keys stay published so links already out still verify.
func RotateLinkKey(ctx context.Context, st Store, master []byte, now time.Time) (string, error) {
	kid := "gw-" + now.UTC().Format("20060102") + "-" + randomHex(4)
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
	if err := st.CreateLinkKey(ctx, &LinkKey{KID: kid, Public: sk.Key.Public().(ed25519.PublicKey), Private: enc, CreatedAt: now}); err != nil {
		return "", err
	}
	return kid, st.ActivateLinkKey(ctx, kid, now)
}

// openTokenCA builds the CA on an issuing key held by a PKCS#11 token. The
// returned closer releases the token session.
func openTokenCA(ctx context.Context, st Store, cfg Config, baseURL string) (*pki.CA, *pki.SoftwareKeyStore, func() error, error) {
	ps, err := PKIStore(st)
	if err != nil {
		return nil, nil, nil, err
	}
	keys, err := pki.NewSoftwareKeyStore(ps, cfg.MasterKey)
	if err != nil {
		return nil, nil, nil, err
	}
	p := cfg.CAPKCS11
	mod, err := signer.OpenModule(ctx, p.Module)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("gateway: CA token: %w", err)
	}
	sg, err := mod.Signer(ctx, signer.TokenSelector{Label: p.TokenLabel}, signer.KeySelector{KeyLabel: p.KeyLabel}, p.PIN)
	if err != nil {
		mod.Close()
		return nil, nil, nil, fmt.Errorf("gateway: CA key on token %q: %w", p.TokenLabel, err)
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
			return nil, nil, nil, fmt.Errorf("gateway: CA chain: %w", err)
		}
		chain = certs
	}
	if len(chain) == 0 {
		closeAll()
		return nil, nil, nil, errors.New("gateway: the CA token has no chain above the CA certificate: give CAChainFile")
	}
	ca, err := pki.New(ctx, pki.Config{Cert: sg.Certificate(), Key: sg, Chain: chain, Store: ps, Keys: keys, BaseURL: baseURL, Now: cfg.Now})
	if err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("gateway: CA: %w", err)
	}
	return ca, keys, closeAll, nil
}
