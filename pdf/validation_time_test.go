package pdf

import (
	"testing"
	"time"
)

// TestValidationTime: VerifyOptions.Now is the time an untimestamped
// signature is judged at, and the report says which time was used.
func TestValidationTime(t *testing.T) {
	p := getPKI(t)
	signed := signCAdES(t, baseDoc(), p.leaf, SignOptions{})
	for _, c := range []struct {
		at   time.Time
		want string
		sub  string
	}{
		{p.leaf.Cert.NotBefore.Add(time.Hour), TotalPassed, ""},
		{p.leaf.Cert.NotAfter.AddDate(1, 0, 0), Indeterminate, SubOutOfBoundsNoPOE},
	} {
		rep, err := verifyBytes(t, signed, VerifyOptions{Roots: p.roots, Now: func() time.Time { return c.at }})
		if err != nil {
			t.Fatal(err)
		}
		if rep.ValidationTime != c.at.UTC().Format(time.RFC3339) {
			t.Errorf("validationTime %q, want %v", rep.ValidationTime, c.at)
		}
		if s := rep.Signatures[0]; s.Indication != c.want || s.SubIndication != c.sub {
			t.Errorf("at %v: %s", c.at, dumpReport(rep))
		}
	}
}
