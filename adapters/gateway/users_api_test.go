package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/pki"
)

func individualProfile(t *testing.T) *pki.Profile {
	t.Helper()
	return pki.DefaultProfiles(nil)[pki.ProfileIndividualSigning]
}

// rajesh is the user of docs/protocol.md §4.
func rajesh() userInput {
	return userInput{ExternalID: "cust-10293", Name: "Rajesh Kumar", Email: "rajesh.kumar@example.in", Phone: "+919812345678",
		State: "Karnataka", PostalCode: "560001", Locality: "Bengaluru"}
}

// TestNewUserRules: each rule of docs/protocol.md §3.3 refuses with the
// member's JSON name.
func TestNewUserRules(t *testing.T) {
	prof := individualProfile(t)
	for _, tc := range []struct {
		name      string
		mod       func(*userInput)
		wantField string // "" accepts
	}{
		{"documented user", func(*userInput) {}, ""},
		{"minimal", func(u *userInput) {
			*u = userInput{ExternalID: "c1", Name: "Asha Rao", State: "Kerala", PostalCode: "682001"}
		}, ""},
		{"country lower case", func(u *userInput) { u.Country = "in" }, ""},
		{"devanagari name", func(u *userInput) { u.Name = "राजेश कुमार" }, ""},
		{"no externalId", func(u *userInput) { u.ExternalID = "" }, "externalId"},
		{"externalId with newline", func(u *userInput) { u.ExternalID = "a\nb" }, "externalId"},
		{"externalId too long", func(u *userInput) { u.ExternalID = strings.Repeat("x", 129) }, "externalId"},
		{"blank name", func(u *userInput) { u.Name = "  " }, "name"},
		{"name too long for a certificate", func(u *userInput) { u.Name = strings.Repeat("n", 129) }, "name"},
		{"name with bidi override", func(u *userInput) { u.Name = "Rajesh \u202eKumar" }, "name"},
		{"no state", func(u *userInput) { u.State = "" }, "state"},
		{"no postal code", func(u *userInput) { u.PostalCode = "" }, "postalCode"},
		{"PIN code of five digits", func(u *userInput) { u.PostalCode = "56001" }, "postalCode"},
		{"PIN code starting with 0", func(u *userInput) { u.PostalCode = "060001" }, "postalCode"},
		{"other country", func(u *userInput) { u.Country = "US"; u.PostalCode = "94105" }, "country"},
		{"country not a code", func(u *userInput) { u.Country = "IND" }, "country"},
		{"e-mail with display name", func(u *userInput) { u.Email = "Rajesh <r@example.in>" }, "email"},
		{"not an e-mail", func(u *userInput) { u.Email = "rajesh" }, "email"},
		{"phone not E.164", func(u *userInput) { u.Phone = "09812345678" }, "phone"},
		{"organization too long", func(u *userInput) { u.Organization = strings.Repeat("o", 65) }, "organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := rajesh()
			tc.mod(&in)
			u, err := newUser("t1", in, prof, t0)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if u.Subject.Country != "IN" || !strings.HasPrefix(u.ID, "usr_") {
					t.Errorf("user = %+v", u)
				}
				if err := prof.CheckSubject(userSubject(u)); err != nil {
					t.Errorf("accepted user fails the profile: %v", err)
				}
				return
			}
			var fe *fieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("err = %v, want a refusal of %s", err, tc.wantField)
			}
		})
	}
}

// TestPatchUserRules: merge-patch semantics, and the result is checked as
// a new user is.
func TestPatchUserRules(t *testing.T) {
	prof := individualProfile(t)
	base, err := newUser("t1", rajesh(), prof, t0)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(js string) (*User, []string, error) {
		var p userPatch
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		return patchUser(*base, p, prof)
	}
	u, changed, err := patch(`{"state":"Maharashtra","postalCode":"411001","locality":"Pune","email":null}`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"email", "state", "postalCode", "locality"}, changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	want := UserSubject{State: "Maharashtra", PostalCode: "411001", Locality: "Pune", Country: "IN"}
	if diff := cmp.Diff(want, u.Subject); diff != "" || u.Email != "" || u.Name != "Rajesh Kumar" || u.ExternalID != "cust-10293" {
		t.Errorf("patched user %+v (-want +got subject):\n%s", u, diff)
	}
	if base.Subject.State != "Karnataka" {
		t.Error("patchUser changed its argument")
	}
	if u, _, err := patch(`{"country":null}`); err != nil || u.Subject.Country != "IN" {
		t.Errorf("country null = %v, %v", u, err)
	}
	if _, changed, err := patch(`{"externalId":"cust-10293","name":"Rajesh Kumar"}`); err != nil || len(changed) != 0 {
		t.Errorf("no-op patch = %v, %v", changed, err)
	}
	for js, field := range map[string]string{
		`{"externalId":"other"}`:  "externalId",
		`{"externalId":null}`:     "externalId",
		`{"state":null}`:          "state",
		`{"postalCode":""}`:       "postalCode",
		`{"name":null}`:           "name",
		`{"phone":"12345"}`:       "phone",
		`{"country":"GB"}`:        "country",
		`{"postalCode":"5600 1"}`: "postalCode",
	} {
		var fe *fieldError
		if _, _, err := patch(js); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: err = %v, want a refusal of %s", js, err, field)
		}
	}
}

// TestUsersAPI: create, read, change over HTTP, on both stores; refusals
// change nothing; another tenant sees nothing.
func TestUsersAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		body := map[string]any{"externalId": "cust-10293", "name": "Rajesh Kumar", "email": "rajesh.kumar@example.in",
			"phone": "+919812345678", "state": "Karnataka", "postalCode": "560001", "locality": "Bengaluru"}

		// Without a field the default profile needs: 422 naming it, and
		// nothing stored (the externalId stays free).
		noPIN := map[string]any{}
		for k, v := range body {
			if k != "postalCode" {
				noPIN[k] = v
			}
		}
		e := g.wantErr(422, CodeUnprocessable, "POST", "/v1/users", g.key, noPIN)
		if m := e["message"].(string); !strings.HasPrefix(m, "postalCode ") || !strings.Contains(m, "individual-signing") {
			t.Errorf("message = %q", m)
		}
		g.wantErr(400, CodeBadRequest, "POST", "/v1/users", g.key, map[string]any{"externalId": "x", "name": 5})

		out := g.must(201, "POST", "/v1/users", g.key, body)
		uid, _ := out["userId"].(string)
		want := map[string]any{"success": true, "userId": uid, "externalId": "cust-10293", "name": "Rajesh Kumar",
			"email": "rajesh.kumar@example.in", "phone": "+919812345678", "state": "Karnataka", "postalCode": "560001",
			"locality": "Bengaluru", "country": "IN", "createdAt": out["createdAt"]}
		if diff := cmp.Diff(want, out); diff != "" || !strings.HasPrefix(uid, "usr_") {
			t.Errorf("create answer (-want +got):\n%s", diff)
		}
		if _, err := time.Parse(time.RFC3339, out["createdAt"].(string)); err != nil {
			t.Errorf("createdAt: %v", err)
		}

		// The same externalId again: 409 with the existing userId.
		e = g.wantErr(409, CodeConflict, "POST", "/v1/users", g.key, body)
		if e["userId"] != uid {
			t.Errorf("409 = %v, want userId %s", e, uid)
		}
		// With an Idempotency-Key the first answer comes back instead.
		first := g.must(201, "POST", "/v1/users", g.key, map[string]any{"externalId": "cust-2", "name": "Asha Rao", "state": "Kerala", "postalCode": "682001"}, "Idempotency-Key", "u-2")
		again := g.must(201, "POST", "/v1/users", g.key, map[string]any{"externalId": "cust-2", "name": "Asha Rao", "state": "Kerala", "postalCode": "682001"}, "Idempotency-Key", "u-2")
		if first["userId"] != again["userId"] {
			t.Errorf("idempotent create = %v, then %v", first, again)
		}

		if diff := cmp.Diff(out, g.must(200, "GET", "/v1/users/"+uid, g.key, nil)); diff != "" {
			t.Errorf("GET (-create +get):\n%s", diff)
		}
		g.wantErr(404, CodeNotFound, "GET", "/v1/users/usr_000000000000000000000000", g.key, nil)

		// PATCH: a merge patch, checked like a new user.
		p := g.must(200, "PATCH", "/v1/users/"+uid, g.key, `{"state":"Maharashtra","postalCode":"411001","locality":"Pune","phone":null}`)
		if p["state"] != "Maharashtra" || p["postalCode"] != "411001" || p["locality"] != "Pune" || p["phone"] != nil || p["email"] != "rajesh.kumar@example.in" {
			t.Errorf("PATCH answer = %v", p)
		}
		if diff := cmp.Diff(p, g.must(200, "GET", "/v1/users/"+uid, g.key, nil)); diff != "" {
			t.Errorf("GET after PATCH (-patch +get):\n%s", diff)
		}
		for js, field := range map[string]string{`{"state":null}`: "state", `{"externalId":"cust-9"}`: "externalId", `{"postalCode":"ABC"}`: "postalCode"} {
			e := g.wantErr(422, CodeUnprocessable, "PATCH", "/v1/users/"+uid, g.key, js)
			if m := e["message"].(string); !strings.HasPrefix(m, field+" ") {
				t.Errorf("PATCH %s: message %q does not start with %s", js, m, field)
			}
		}
		g.wantErr(400, CodeBadRequest, "PATCH", "/v1/users/"+uid, g.key, `{"street":"MG Road"}`)
		if got := g.must(200, "GET", "/v1/users/"+uid, g.key, nil); got["state"] != "Maharashtra" {
			t.Errorf("refused PATCH changed the user: %v", got)
		}

		// Another tenant: 404 for read and change, and its own externalId
		// space.
		other := otherTenantKey(t, g)
		g.wantErr(404, CodeNotFound, "GET", "/v1/users/"+uid, other, nil)
		g.wantErr(404, CodeNotFound, "PATCH", "/v1/users/"+uid, other, `{"state":"Goa"}`)
		if o := g.must(201, "POST", "/v1/users", other, body); o["userId"] == uid {
			t.Error("the other tenant got the same user")
		}

		// The audit log has the create and the update, not the values.
		es, err := st.AuditLogs(context.Background(), AuditFilter{TenantID: DevTenantID})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			if strings.HasPrefix(e.Action, "user.") {
				actions = append(actions, e.Action+" "+e.Detail)
			}
		}
		wantActions := []string{"user.create " + uid, "user.create " + first["userId"].(string), "user.update " + uid + " phone,state,postalCode,locality"}
		if diff := cmp.Diff(wantActions, actions); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
	})
}

// otherTenantKey makes a second tenant and returns its API key.
func otherTenantKey(t *testing.T, g *testGW) string {
	t.Helper()
	ctx := context.Background()
	if err := g.srv.store.CreateTenant(ctx, &Tenant{ID: "other", Name: "Other Bank", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	key, _, err := NewAPIKey(ctx, g.srv.store, "other", "k", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestIssueRefusalKeepsOTP: an issuance refused for its input (the user's
// fields under the profile, a CSR, its key) does not spend the OTP; the
// same code then issues once the input is right.
func TestIssueRefusalKeepsOTP(t *testing.T) {
	g := newTestGW(t, nil)
	ctx := context.Background()
	// A user stored before 1.1 checked users at creation: no state.
	old := &User{ID: "usr_old", TenantID: DevTenantID, ExternalID: "legacy-1", Name: "Meera Iyer", CreatedAt: time.Now(),
		Subject: UserSubject{PostalCode: "600001"}}
	if err := g.srv.store.CreateUser(ctx, old); err != nil {
		t.Fatal(err)
	}
	oid, code := g.otp(g.key, old.ID, "issue")
	req := map[string]any{"userId": old.ID, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"}
	e := g.wantErr(422, CodeUnprocessable, "POST", "/v1/certificates/issue", g.key, req)
	if m := e["message"].(string); !strings.Contains(m, "state is required") || !strings.Contains(m, "PATCH /v1/users/usr_old") {
		t.Errorf("message = %q", m)
	}
	g.must(200, "PATCH", "/v1/users/"+old.ID, g.key, `{"state":"Tamil Nadu"}`)

	// A profile whose fields the user lacks (document-signer needs O).
	req["profile"] = "document-signer"
	e = g.wantErr(422, CodeUnprocessable, "POST", "/v1/certificates/issue", g.key, req)
	if m := e["message"].(string); !strings.Contains(m, "organization is required by the document-signer profile") {
		t.Errorf("message = %q", m)
	}
	delete(req, "profile")

	// A CSR that is not one, and one with a key the profile refuses.
	delete(req, "keyAlgo")
	req["csrPem"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
	g.wantErr(422, CodeUnprocessable, "POST", "/v1/certificates/issue", g.key, req)
	weak, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req["csrPem"] = csrPEM(t, weak)
	e = g.wantErr(422, CodeUnprocessable, "POST", "/v1/certificates/issue", g.key, req)
	if m := e["message"].(string); !strings.Contains(m, "P-224") {
		t.Errorf("weak key message = %q", m)
	}

	// The code was never spent: it issues now, once.
	delete(req, "csrPem")
	req["keyAlgo"] = "ECDSA-P256"
	out := g.must(201, "POST", "/v1/certificates/issue", g.key, req)
	if s, _ := out["subject"].(string); !strings.Contains(s, "ST=Tamil Nadu") {
		t.Errorf("subject = %q", s)
	}
	g.wantErr(401, CodeOTPExpired, "POST", "/v1/certificates/issue", g.key, req)
}

// TestStoreUserLookupAndUpdate: UserByExternalID and UpdateUser on both
// stores, scoped by tenant.
func TestStoreUserLookupAndUpdate(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		seedTenant(t, s, "t2")
		u := &User{ID: "usr_a", TenantID: "t1", ExternalID: "ext-1", Name: "Rajesh Kumar", Email: "r@example.in", CreatedAt: t0,
			Subject: UserSubject{State: "Karnataka", PostalCode: "560001", Country: "IN"}}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := s.UserByExternalID(ctx, "t1", "ext-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("UserByExternalID (-want +got):\n%s", diff)
		}
		if _, err := s.UserByExternalID(ctx, "t2", "ext-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant: %v", err)
		}
		nu := *u
		nu.Name, nu.Email, nu.Phone = "Rajesh K. Kumar", "", "+919812345678"
		nu.Subject = UserSubject{State: "Goa", PostalCode: "403001", Locality: "Panaji", Country: "IN"}
		if err := s.UpdateUser(ctx, &nu); err != nil {
			t.Fatal(err)
		}
		got, err = s.User(ctx, "t1", "usr_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&nu, got); diff != "" {
			t.Errorf("after UpdateUser (-want +got):\n%s", diff)
		}
		wrong := nu
		wrong.TenantID = "t2"
		if err := s.UpdateUser(ctx, &wrong); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateUser with another tenant: %v", err)
		}
	})
}

// FuzzUserPatch: any patch is refused or gives a user that the default
// profile certifies, with the same externalId, and that passes the rules
// again unchanged.
func FuzzUserPatch(f *testing.F) {
	f.Add(`{"state":"Maharashtra","postalCode":"411001","locality":"Pune","email":null}`)
	f.Add(`{"name":"राजेश कुमार","country":"in","organization":""}`)
	f.Add(`{"externalId":"cust-10293","phone":"+919812345678"}`)
	prof := pki.DefaultProfiles(nil)[pki.ProfileIndividualSigning]
	base, err := newUser("t1", rajesh(), prof, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var p userPatch
		if json.Unmarshal([]byte(js), &p) != nil {
			return
		}
		u, _, err := patchUser(*base, p, prof)
		if err != nil {
			var fe *fieldError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal %v is not a field error", err)
			}
			return
		}
		if u.ExternalID != base.ExternalID || u.ID != base.ID {
			t.Fatalf("patch %s changed the identity: %+v", js, u)
		}
		if err := prof.CheckSubject(userSubject(u)); err != nil {
			t.Fatalf("patch %s gives a user the profile refuses: %v", js, err)
		}
		again := *u
		if err := checkUser(&again, prof); err != nil || again != *u {
			t.Fatalf("patched user not stable under checkUser: %v", err)
		}
	})
}
