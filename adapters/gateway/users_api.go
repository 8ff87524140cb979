package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/pki"
)

// Users (docs/protocol.md §3.3). A user's details become the subject of
// the certificates the gateway issues to them, so they are checked when
// the user is created or changed, against the default profile: issuance
// must not fail later for a missing subject field, after the user has
// spent a one-time code on it.

// userInput is the body of POST /v1/users. The rules are in checkUser, not
// in tags, so that a refusal names the member in API terms.
type userInput struct {
	ExternalID   string `json:"externalId"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	State        string `json:"state"`
	PostalCode   string `json:"postalCode"`
	Locality     string `json:"locality"`
	Organization string `json:"organization"`
	Country      string `json:"country"`
}

// userPatch is the body of PATCH /v1/users/{userId}: a JSON merge patch
// (RFC 7396). ExternalID is here only to refuse it clearly.
type userPatch struct {
	ExternalID   patchString `json:"externalId"`
	Name         patchString `json:"name"`
	Email        patchString `json:"email"`
	Phone        patchString `json:"phone"`
	State        patchString `json:"state"`
	PostalCode   patchString `json:"postalCode"`
	Locality     patchString `json:"locality"`
	Organization patchString `json:"organization"`
	Country      patchString `json:"country"`
}

// patchString is a member of a merge patch: absent, null or a string.
type patchString struct {
	set, null bool
	v         string
}

func (p *patchString) UnmarshalJSON(b []byte) error {
	p.set = true
	if bytes.Equal(b, []byte("null")) {
		p.null = true
		return nil
	}
	return json.Unmarshal(b, &p.v)
}

// userBody is a user as the API shows it.
type userBody struct {
	Success      bool   `json:"success"`
	UserID       string `json:"userId"`
	ExternalID   string `json:"externalId"`
	Name         string `json:"name"`
	Email        string `json:"email,omitempty"`
	Phone        string `json:"phone,omitempty"`
	State        string `json:"state,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	Locality     string `json:"locality,omitempty"`
	Organization string `json:"organization,omitempty"`
	Country      string `json:"country"`
	CreatedAt    string `json:"createdAt"`
}

func userAnswer(u *User) *userBody {
	return &userBody{Success: true, UserID: u.ID, ExternalID: u.ExternalID, Name: u.Name, Email: u.Email, Phone: u.Phone,
		State: u.Subject.State, PostalCode: u.Subject.PostalCode, Locality: u.Subject.Locality,
		Organization: u.Subject.Organization, Country: u.Subject.Country, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
}

// fieldError is a value a rule refuses; Field is the member's JSON name.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string { return e.Field + " " + e.Msg }

// defaultCountry is the country of a user who names none.
const defaultCountry = "IN"

// newUser makes the record of a new user of tenantID from in, checked
// against profile p.
func newUser(tenantID string, in userInput, p *pki.Profile, now time.Time) (*User, error) {
	u := &User{ID: newID("usr_"), TenantID: tenantID, ExternalID: in.ExternalID, Name: in.Name, Email: in.Email, Phone: in.Phone, CreatedAt: now,
		Subject: UserSubject{State: in.State, PostalCode: in.PostalCode, Locality: in.Locality, Organization: in.Organization, Country: in.Country}}
	if err := checkUser(u, p); err != nil {
		return nil, err
	}
	return u, nil
}

// patchUser returns u with patch applied and checked against profile p,
// and the JSON names of the members that changed.
func patchUser(u User, patch userPatch, p *pki.Profile) (*User, []string, error) {
	if patch.ExternalID.set && (patch.ExternalID.null || patch.ExternalID.v != u.ExternalID) {
		return nil, nil, &fieldError{"externalId", "cannot be changed"}
	}
	var changed []string
	for _, m := range []struct {
		name string
		p    patchString
		dst  *string
	}{
		{"name", patch.Name, &u.Name},
		{"email", patch.Email, &u.Email},
		{"phone", patch.Phone, &u.Phone},
		{"state", patch.State, &u.Subject.State},
		{"postalCode", patch.PostalCode, &u.Subject.PostalCode},
		{"locality", patch.Locality, &u.Subject.Locality},
		{"organization", patch.Organization, &u.Subject.Organization},
		{"country", patch.Country, &u.Subject.Country},
	} {
		if !m.p.set {
			continue
		}
		if m.p.v != *m.dst {
			changed = append(changed, m.name)
		}
		*m.dst = m.p.v // null clears: v is ""
	}
	if err := checkUser(&u, p); err != nil {
		return nil, nil, err
	}
	return &u, changed, nil
}

var (
	e164Re    = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	pinCodeRe = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	postalRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{1,14}[A-Za-z0-9]$`)
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
)

// maxSubject is the longest value, in bytes, package pki puts into a
// subject attribute.
const maxSubject = 128

// checkUser applies the rules of docs/protocol.md §3.3 to u and the subject
// rules of profile p (its required fields, its country), normalising the
// country (default IN, upper case). The error is a *fieldError.
func checkUser(u *User, p *pki.Profile) error {
	u.Subject.Country = strings.ToUpper(u.Subject.Country)
	if u.Subject.Country == "" {
		u.Subject.Country = defaultCountry
	}
	if u.ExternalID == "" {
		return &fieldError{"externalId", "is required"}
	}
	if len(u.ExternalID) > 128 || strings.IndexFunc(u.ExternalID, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return &fieldError{"externalId", "must be 1 to 128 printable ASCII characters"}
	}
	if strings.TrimSpace(u.Name) == "" {
		return &fieldError{"name", "is required"}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"name", u.Name, maxSubject},
		{"state", u.Subject.State, maxSubject},
		{"locality", u.Subject.Locality, maxSubject},
		{"organization", u.Subject.Organization, 64},
	} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if u.Email != "" {
		a, err := mail.ParseAddress(u.Email)
		if err != nil || a.Address != u.Email || a.Name != "" {
			return &fieldError{"email", "must be a plain e-mail address such as rajesh@example.in"}
		}
		if len(u.Email) > maxSubject {
			return &fieldError{"email", fmt.Sprintf("must be at most %d characters", maxSubject)}
		}
	}
	if u.Phone != "" && !e164Re.MatchString(u.Phone) {
		return &fieldError{"phone", "must be in E.164 form such as +919812345678"}
	}
	if !countryRe.MatchString(u.Subject.Country) {
		return &fieldError{"country", "must be a two-letter country code such as IN"}
	}
	if pc := u.Subject.PostalCode; pc != "" {
		if u.Subject.Country == "IN" && !pinCodeRe.MatchString(pc) {
			return &fieldError{"postalCode", "must be a six-digit PIN code such as 560001"}
		}
		if !postalRe.MatchString(pc) {
			return &fieldError{"postalCode", "must be 3 to 16 letters, digits, spaces or hyphens"}
		}
	}
	return checkProfileFields(u, p)
}

// checkText refuses control and format characters (bidi overrides would
// make a consent page lie) and values longer than max bytes.
func checkText(name, v string, max int) error {
	if !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return &fieldError{name, "must not contain control or formatting characters"}
	}
	if len(v) > max {
		return &fieldError{name, fmt.Sprintf("must be at most %d bytes", max)}
	}
	return nil
}

// subjectMembers names, for the subject fields of pki.SubjectRules, the
// user's JSON member that fills them.
var subjectMembers = map[string]string{"CN": "name", "ST": "state", "postalCode": "postalCode", "L": "locality",
	"O": "organization", "C": "country", "email": "email"}

// checkProfileFields checks u against the subject rules of profile p and
// names the user's member that falls short.
func checkProfileFields(u *User, p *pki.Profile) error {
	s := userSubject(u)
	for _, f := range p.Subject.Required {
		member, ok := subjectMembers[f]
		if !ok {
			return &fieldError{"profile", fmt.Sprintf("%s needs the subject field %s, which users do not carry", p.Name, f)}
		}
		if subjectField(s, f) == "" && subjectField(p.Subject.Defaults, f) == "" {
			return &fieldError{member, fmt.Sprintf("is required by the %s profile", p.Name)}
		}
	}
	if p.Subject.Country != "" && !strings.EqualFold(u.Subject.Country, p.Subject.Country) {
		return &fieldError{"country", fmt.Sprintf("must be %s for the %s profile", p.Subject.Country, p.Name)}
	}
	// Whatever else the profile checks (the rules above are ours).
	if err := p.CheckSubject(s); err != nil {
		return &fieldError{"user", err.Error()}
	}
	return nil
}

func subjectField(s pki.Subject, f string) string {
	switch f {
	case "CN":
		return strings.TrimSpace(s.CommonName)
	case "ST":
		return strings.TrimSpace(s.State)
	case "postalCode":
		return strings.TrimSpace(s.PostalCode)
	case "L":
		return strings.TrimSpace(s.Locality)
	case "O":
		return strings.TrimSpace(s.Organization)
	case "C":
		return strings.TrimSpace(s.Country)
	case "email":
		return strings.TrimSpace(s.Email)
	}
	return ""
}

// userSubject is the certificate subject of u.
func userSubject(u *User) pki.Subject {
	return pki.Subject{CommonName: u.Name, Email: u.Email, Organization: u.Subject.Organization, Locality: u.Subject.Locality,
		State: u.Subject.State, PostalCode: u.Subject.PostalCode, Country: u.Subject.Country}
}

// issueInput checks everything an issuance's input decides before its
// one-time code is spent (docs/protocol.md §3.6): the user's subject
// fields under profile p and the key, from the CSR or of keyAlgo. It
// returns the subject and, for server key generation, the key type.
func issueInput(u *User, p *pki.Profile, csrPEM, keyAlgo string) (pki.Subject, pki.KeyType, error) {
	var kt pki.KeyType
	if err := checkProfileFields(u, p); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) && fe.Field != "user" && fe.Field != "profile" {
			return pki.Subject{}, kt, unprocessable(err, "the user's %s; set it with PATCH /v1/users/%s", fe.Error(), u.ID)
		}
		return pki.Subject{}, kt, unprocessable(err, "%v", err)
	}
	var pub any
	if csrPEM != "" {
		csr, err := pki.ParseCSR([]byte(csrPEM))
		if err != nil {
			return pki.Subject{}, kt, caError(err)
		}
		pub = csr.PublicKey
	} else {
		var err error
		if kt, err = pki.ParseKeyType(keyAlgo); err != nil {
			return pki.Subject{}, kt, badRequest("keyAlgo: %v", err)
		}
	}
	if pub != nil {
		if err := p.CheckKey(pub); err != nil {
			return pki.Subject{}, kt, caError(err)
		}
	}
	return userSubject(u), kt, nil
}

// userError turns a rule's refusal into the API's 422.
func userError(err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return unprocessable(nil, "%s", fe.Error())
	}
	return err
}

// defaultProfile is the profile users are checked against.
func (s *Server) defaultProfile() (*pki.Profile, error) { return s.ca.Profile("") }

func (s *Server) createUser(c echo.Context) error {
	var in userInput
	body, err := s.bind(c, &in)
	if err != nil {
		return err
	}
	return s.idempotent(c, sha256.Sum256(body), func() (int, any, error) {
		ctx := c.Request().Context()
		p := who(c)
		prof, err := s.defaultProfile()
		if err != nil {
			return 0, nil, err
		}
		u, err := newUser(p.TenantID, in, prof, s.cfg.Now())
		if err != nil {
			return 0, nil, userError(err)
		}
		if err := s.store.CreateUser(ctx, u); err != nil {
			if errors.Is(err, ErrExists) {
				return 0, nil, s.userExists(ctx, p.TenantID, in.ExternalID, err)
			}
			return 0, nil, err
		}
		s.audit(ctx, &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "user.create", Detail: u.ID})
		return http.StatusCreated, userAnswer(u), nil
	})
}

// userExists is the 409 for an existing externalId, with its userId so
// that a portal that lost the first answer can carry on.
func (s *Server) userExists(ctx context.Context, tenantID, externalID string, cause error) error {
	e := apiErr(http.StatusConflict, CodeConflict, "a user with externalId %q exists", externalID)
	e.Err = cause
	if u, err := s.store.UserByExternalID(ctx, tenantID, externalID); err == nil {
		e.Fields = map[string]any{"userId": u.ID}
	}
	return e
}

// userFor returns the tenant's user named in the path, or a 404.
func (s *Server) userFor(c echo.Context) (*User, error) {
	u, err := s.store.User(c.Request().Context(), who(c).TenantID, c.Param("id"))
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundErr("user")
	}
	return u, err
}

func (s *Server) getUser(c echo.Context) error {
	u, err := s.userFor(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userAnswer(u))
}

func (s *Server) patchUser(c echo.Context) error {
	var patch userPatch
	if _, err := s.bind(c, &patch); err != nil {
		return err
	}
	u, err := s.userFor(c)
	if err != nil {
		return err
	}
	prof, err := s.defaultProfile()
	if err != nil {
		return err
	}
	nu, changed, err := patchUser(*u, patch, prof)
	if err != nil {
		return userError(err)
	}
	ctx := c.Request().Context()
	if len(changed) > 0 {
		if err := s.store.UpdateUser(ctx, nu); err != nil {
			if errors.Is(err, ErrNotFound) {
				return notFoundErr("user")
			}
			return err
		}
		s.audit(ctx, &AuditEntry{TenantID: nu.TenantID, Actor: actor(c), Action: "user.update", Detail: nu.ID + " " + strings.Join(changed, ",")})
	}
	return c.JSON(http.StatusOK, userAnswer(nu))
}

// ---- store ----

const userCols = "id, tenant_id, external_id, name, email, phone, subject, created_at"

func scanUser(sc rowScanner) (*User, error) {
	var u User
	var c int64
	var subj []byte
	if err := sc.Scan(&u.ID, &u.TenantID, &u.ExternalID, &u.Name, &u.Email, &u.Phone, &subj, &c); err != nil {
		return nil, notFound(err)
	}
	if len(subj) > 0 {
		if err := json.Unmarshal(subj, &u.Subject); err != nil {
			return nil, fmt.Errorf("gateway: stored user subject: %w", err)
		}
	}
	u.CreatedAt = fromNanos(c)
	return &u, nil
}

func (s *sqlStore) UserByExternalID(ctx context.Context, tenantID, externalID string) (*User, error) {
	return scanUser(s.row(ctx, "SELECT "+userCols+" FROM users WHERE tenant_id = ? AND external_id = ?", tenantID, externalID))
}

func (s *sqlStore) UpdateUser(ctx context.Context, u *User) error {
	return s.mustAffect(s.exec(ctx, "UPDATE users SET name = ?, email = ?, phone = ?, subject = ? WHERE tenant_id = ? AND id = ?",
		u.Name, u.Email, u.Phone, jsonBytes(u.Subject), u.TenantID, u.ID))
}
