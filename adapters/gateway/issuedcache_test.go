package gateway

import (
	"context"
	"testing"

	"github.com/securesign/securesign/internal/testpki"
)

// countingStore counts CertificatesBySerial reads.
type countingStore struct {
	Store
	reads int
}

func (s *countingStore) CertificatesBySerial(ctx context.Context, tenantID, serialHex string) ([]*Certificate, error) {
	s.reads++
	return s.Store.CertificatesBySerial(ctx, tenantID, serialHex)
}

// TestIssuedCertCache: the record of an issued certificate is read once
// and then answered from memory, with the same user, for its tenant only;
// a certificate without a record is read again every time (it may be
// issued later), and a registered record is never taken for an issued one.
func TestIssuedCertCache(t *testing.T) {
	ctx := context.Background()
	gw := testpki.NewHierarchy(t)
	issued := gw.Issue(t, testpki.P256, testpki.Options{Slot: 44}).Cert
	registered := gw.Issue(t, testpki.P256, testpki.Options{Slot: 45}).Cert
	st := &countingStore{Store: newSQLiteStore(t)}
	seedTenant(t, st, "t1")
	seedTenant(t, st, "t2")
	for _, c := range []*Certificate{
		{ID: "c1", TenantID: "t1", UserID: "u1", SerialHex: issued.SerialNumber.Text(16), DER: issued.Raw, Source: "issued", KeyLocation: "token",
			NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), CreatedAt: t0},
		{ID: "c2", TenantID: "t1", UserID: "u2", SerialHex: registered.SerialNumber.Text(16), DER: registered.Raw, Source: "registered", KeyLocation: "token",
			NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), CreatedAt: t0},
	} {
		if err := st.CreateCertificate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c := newIssuedCertCache()
	issuedUser := func(tenant string, leaf []byte) (user string, found bool) {
		t.Helper()
		cert := issued
		if string(leaf) == string(registered.Raw) {
			cert = registered
		}
		recs, err := c.records(ctx, st, tenant, cert)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Source == "issued" && r.TenantID == tenant && string(r.DER) == string(leaf) {
				return r.UserID, true
			}
		}
		return "", false
	}
	for i := range 3 {
		if u, ok := issuedUser("t1", issued.Raw); !ok || u != "u1" {
			t.Fatalf("call %d: issued record %q, %v", i, u, ok)
		}
	}
	if st.reads != 1 {
		t.Errorf("%d reads for three callbacks with one issued certificate, want 1", st.reads)
	}
	st.reads = 0
	for range 2 {
		if _, ok := issuedUser("t2", issued.Raw); ok {
			t.Error("the certificate counts as issued to another tenant")
		}
		if _, ok := issuedUser("t1", registered.Raw); ok {
			t.Error("a registered record counts as an issued one")
		}
	}
	if st.reads != 4 {
		t.Errorf("%d reads for certificates without an issued record, want 4 (nothing cached)", st.reads)
	}
}
