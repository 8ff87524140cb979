package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
)

// issuedCertCache remembers, for certificates the gateway's CA issued, the
// tenant and user each was issued to: a callback signed with one needs that
// record (tenantTrust.allow), and reading it cost a database query on every
// callback, a seventh of a gateway's CPU under load. An issued record's
// tenant, user and certificate never change and records are never
// deleted, so an entry stays true and no other instance needs to tell this
// one anything; revocation is not decided here (the callback's revocation
// check and the certificate's own record do that). Only records found are
// kept: a certificate without one now may get one later.
type issuedCertCache struct {
	users *fifoMap[issuedKey, string] // → user id
}

type issuedKey struct {
	tenant string
	sum    [32]byte // SHA-256 of the certificate
}

// issuedCacheSize bounds the cache (an entry is about 100 bytes).
const issuedCacheSize = 16384

func newIssuedCertCache() issuedCertCache {
	return issuedCertCache{users: newFIFOMap[issuedKey, string](issuedCacheSize)}
}

// records returns what CertificatesBySerial would for leaf as far as
// tenantTrust.allow looks at a certificate of the gateway's CA: the issued
// record of tenant whose certificate is leaf, if there is one.
func (c *issuedCertCache) records(ctx context.Context, st Store, tenant string, leaf *x509.Certificate) ([]*Certificate, error) {
	k := issuedKey{tenant, sha256.Sum256(leaf.Raw)}
	if user, ok := c.users.get(k); ok {
		return []*Certificate{{Source: "issued", TenantID: tenant, UserID: user, DER: leaf.Raw}}, nil
	}
	records, err := st.CertificatesBySerial(ctx, tenant, leaf.SerialNumber.Text(16))
	if err != nil {
		return nil, err
	}
	for _, r := range records {
		if r.Source == "issued" && r.TenantID == tenant && string(r.DER) == string(leaf.Raw) {
			c.users.put(k, r.UserID)
			break
		}
	}
	return records, nil
}
