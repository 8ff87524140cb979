package gateway

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// CSC OAuth 2.0 credential authorization (CSC v2 8.4) with
// authorization_details: the client names the credential and the
// documents (digests with labels); the gateway shows them to the user on
// its own page, takes the code sent to the user there, and the token it
// then issues signs exactly those digests with that credential.
//
// Clients: client_id is the public id of one of the tenant's API keys;
// redirect_uri must be on the tenant's allowed origins; PKCE (S256) is
// required, so no client secret is needed at the token endpoint. The
// access token is a SAD: signHash and signDoc take it as SAD, or as the
// bearer token (credential scope).

const (
	oauthRequestTTL = 10 * time.Minute
	oauthCodeTTL    = time.Minute
)

// oauthError is an OAuth error answer (RFC 6749 5.2) or redirect (4.1.2.1).
type oauthError struct {
	Code, Desc string
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Desc }

func oauthErr(code, format string, args ...any) *oauthError {
	return &oauthError{code, fmt.Sprintf(format, args...)}
}

// credentialAuthorization is what a client asks the user to approve.
type credentialAuthorization struct {
	CredentialID string
	Hash         crypto.Hash
	Digests      []OAuthDigest
}

// parseCredentialAuthorization reads authorization_details of type
// "credential" (one entry: credentialID, documentDigests [{hash, label}],
// hashAlgorithmOID) or, without it, scope=credential with credentialID,
// numSignatures, hashes (comma-separated) and hashAlgorithmOID. Hashes are
// base64 (standard or URL-safe); labels must be displayable.
func parseCredentialAuthorization(q url.Values) (*credentialAuthorization, error) {
	var a credentialAuthorization
	var raw []string
	var labels []string
	oid := ""
	if d := q.Get("authorization_details"); d != "" {
		var details []struct {
			Type               string `json:"type"`
			CredentialID       string `json:"credentialID"`
			SignatureQualifier string `json:"signatureQualifier"`
			DocumentDigests    []struct {
				Hash  string `json:"hash"`
				Label string `json:"label"`
			} `json:"documentDigests"`
			HashAlgorithmOID string   `json:"hashAlgorithmOID"`
			Locations        []string `json:"locations"`
		}
		if len(d) > 64<<10 || json.Unmarshal([]byte(d), &details) != nil {
			return nil, oauthErr("invalid_request", "authorization_details is not a JSON array of objects")
		}
		if len(details) != 1 || details[0].Type != "credential" {
			return nil, oauthErr("invalid_request", "authorization_details must hold one entry of type credential")
		}
		e := details[0]
		if e.CredentialID == "" {
			return nil, oauthErr("invalid_request", "authorization_details: credentialID is required (signatureQualifier alone is not supported)")
		}
		a.CredentialID, oid = e.CredentialID, e.HashAlgorithmOID
		if oid == "" {
			return nil, oauthErr("invalid_request", "authorization_details: hashAlgorithmOID is required")
		}
		for _, dd := range e.DocumentDigests {
			raw, labels = append(raw, dd.Hash), append(labels, dd.Label)
		}
	} else {
		if q.Get("scope") != "credential" {
			return nil, oauthErr("invalid_scope", "only credential authorization is offered: scope=credential or authorization_details")
		}
		a.CredentialID, oid = q.Get("credentialID"), q.Get("hashAlgorithmOID")
		if a.CredentialID == "" || q.Get("hashes") == "" {
			return nil, oauthErr("invalid_request", "credentialID and hashes are required with scope=credential")
		}
		raw = strings.Split(q.Get("hashes"), ",")
		labels = make([]string, len(raw))
		if n, err := strconv.Atoi(q.Get("numSignatures")); err != nil || n != len(raw) {
			return nil, oauthErr("invalid_request", "numSignatures must equal the number of hashes")
		}
		if oid == "" {
			oid = oidOf(crypto.SHA256)
		}
	}
	h, ok := hashOIDs[oid]
	if !ok {
		return nil, oauthErr("invalid_request", "unsupported hashAlgorithmOID %s", oid)
	}
	a.Hash = h
	if len(raw) == 0 || len(raw) > maxConsentItems {
		return nil, oauthErr("invalid_request", "between 1 and %d document digests", maxConsentItems)
	}
	for i, r := range raw {
		d, err := base64.StdEncoding.DecodeString(r)
		if err != nil {
			d, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(r, "="))
		}
		if err != nil || len(d) != h.Size() {
			return nil, oauthErr("invalid_request", "document digest %d is not a base64 %s digest", i+1, hashName(h))
		}
		label := strings.TrimSpace(labels[i])
		if label == "" {
			label = "Document " + strconv.Itoa(i+1) + " (no label given)"
		}
		if !displayable(label) {
			return nil, oauthErr("invalid_request", "document digest %d: label must be at most %d printable characters", i+1, maxConsentNameRune)
		}
		a.Digests = append(a.Digests, OAuthDigest{Hash: d, Label: label})
	}
	return &a, nil
}

// pkceS256 is the code_challenge of verifier (RFC 7636 4.2).
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func codeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// redirectWith sends the browser back to the client with params.
func redirectWith(c echo.Context, redirectURI string, params url.Values) error {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return err
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return c.Redirect(http.StatusSeeOther, u.String())
}

// oauthAuthorize checks the client's request, sends the user a code that
// names the documents and the credential, and shows the consent page.
func (s *Server) oauthAuthorize(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	// Until client and redirect_uri are known good, errors go to the
	// user, never to a redirect (RFC 6749 4.1.2.1).
	key, err := s.store.APIKey(ctx, q.Get("client_id"))
	if err != nil || !key.RevokedAt.IsZero() || key.TenantDisabled {
		return s.consentMessage(c, http.StatusBadRequest, "Unknown client", "The application that sent you here is not known to this signing service (client_id).")
	}
	// Anyone may call this with a public client_id: the client's rate,
	// and the holder's code limits, bound how many codes it sends.
	if ok, _ := s.limiter.allow("oauth:"+key.ID, s.cfg.Now()); !ok {
		return s.consentMessage(c, http.StatusTooManyRequests, "Too many requests", "Too many signing requests from this application; try again in a minute.")
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	origins, oerr := s.tenantOrigins(ctx, key.TenantID)
	if err != nil || oerr != nil || ru.Scheme == "" || ru.Host == "" || ru.Fragment != "" || !originAllowed(origins, ru.Scheme+"://"+ru.Host) {
		return s.consentMessage(c, http.StatusBadRequest, "Unknown return address", "The application asked to return you to an address it has not registered (redirect_uri).")
	}
	fail := func(e *oauthError) error {
		v := url.Values{"error": {e.Code}, "error_description": {e.Desc}}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		return redirectWith(c, redirect, v)
	}
	if q.Get("response_type") != "code" {
		return fail(oauthErr("unsupported_response_type", "response_type must be code"))
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		return fail(oauthErr("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256"))
	}
	if q.Get("request_uri") != "" {
		return fail(oauthErr("invalid_request", "pushed authorization requests are not supported"))
	}
	ca, err := parseCredentialAuthorization(q)
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			return fail(oe)
		}
		return err
	}
	rec, err := s.store.Certificate(ctx, key.TenantID, ca.CredentialID)
	if err != nil || rec.KeyLocation != "server" || !rec.RevokedAt.IsZero() || s.cfg.Now().After(rec.NotAfter) {
		return fail(oauthErr("invalid_request", "credentialID %s is not a usable credential", ca.CredentialID))
	}
	u, err := s.store.User(ctx, key.TenantID, rec.UserID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	r := &OAuthRequest{ID: randomHex(16), TenantID: key.TenantID, ClientID: key.ID, RedirectURI: redirect, State: q.Get("state"),
		CodeChallenge: q.Get("code_challenge"), CredentialID: rec.ID, UserID: u.ID, HashAlgo: hashName(ca.Hash), Digests: ca.Digests,
		ExpiresAt: now.Add(oauthRequestTTL), CreatedAt: now}
	consent := r.consent()
	o, err := s.sendOTP(c, u, "oauth", consent, s.askedBy(ctx, u.TenantID, consent.Summary(certLabel(rec))))
	if err != nil {
		if errors.Is(err, ErrOTPLimit) {
			return s.consentMessage(c, http.StatusTooManyRequests, "Too many codes", toAPIError(err).Msg)
		}
		return err
	}
	r.OTPID = o.ID
	if err := s.store.CreateOAuthRequest(ctx, r); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/csc/v2/oauth2/consent/"+r.ID)
}

// consent is the operation an OAuth request approves.
func (r *OAuthRequest) consent() *Consent {
	c := &Consent{CertificateID: r.CredentialID, HashAlgo: r.HashAlgo}
	for _, d := range r.Digests {
		c.Hashes = append(c.Hashes, d.Hash)
		c.Labels = append(c.Labels, d.Label)
	}
	return c
}

// pendingOAuth loads a request the user can still approve.
func (s *Server) pendingOAuth(c echo.Context) (*OAuthRequest, *Certificate, error) {
	ctx := c.Request().Context()
	r, err := s.store.OAuthRequest(ctx, c.Param("id"))
	if err != nil {
		return nil, nil, s.consentMessage(c, http.StatusNotFound, "Request not found", "This signing request does not exist. Start again from the application.")
	}
	if r.Status != "pending" || !s.cfg.Now().Before(r.ExpiresAt) {
		return nil, nil, s.consentMessage(c, http.StatusGone, "Request expired or already answered", "This signing request can no longer be approved. Start again from the application.")
	}
	rec, err := s.store.Certificate(ctx, r.TenantID, r.CredentialID)
	if err != nil {
		return nil, nil, err
	}
	return r, rec, nil
}

func (s *Server) oauthConsentPage(c echo.Context) error {
	r, rec, err := s.pendingOAuth(c)
	if r == nil {
		return err
	}
	return s.renderConsent(c, http.StatusOK, r, rec, "")
}

// oauthConsentPost takes the user's decision: the code sent to them, or
// a refusal.
func (s *Server) oauthConsentPost(c echo.Context) error {
	r, rec, err := s.pendingOAuth(c)
	if r == nil {
		return err
	}
	ctx := c.Request().Context()
	if c.FormValue("decision") != "approve" {
		return redirectWith(c, r.RedirectURI, url.Values{"error": {"access_denied"}, "error_description": {"the user declined"}, "state": {r.State}})
	}
	now := s.cfg.Now()
	o, err := redeemOTP(ctx, s.store, s.otpKey, otpRef{r.TenantID, r.UserID, r.OTPID, "oauth"}, strings.TrimSpace(c.FormValue("otp")), r.consent(), now, s.cfg.OTPMaxAttempts)
	if err != nil {
		s.audit(ctx, &AuditEntry{TenantID: r.TenantID, Actor: "oauth:" + r.ClientID, Action: "oauth.consent", Outcome: "rejected", Detail: r.ID + ": " + toAPIError(err).Code})
		msg := "Wrong code. Check the message and try again."
		if !errors.Is(err, ErrOTPInvalid) {
			msg = toAPIError(err).Msg + ". Start again from the application."
		}
		return s.renderConsent(c, http.StatusUnauthorized, r, rec, msg)
	}
	code := base64.RawURLEncoding.EncodeToString([]byte(randomHex(24)))
	if err := s.store.ApproveOAuthRequest(ctx, r.ID, codeHash(code), now.Add(oauthCodeTTL), now); err != nil {
		return s.consentMessage(c, http.StatusGone, "Request expired or already answered", "This signing request can no longer be approved.")
	}
	if err := s.spendOTP(ctx, o); err != nil {
		return err
	}
	s.audit(ctx, &AuditEntry{TenantID: r.TenantID, Actor: "oauth:" + r.ClientID, Action: "oauth.consent", CertSerial: rec.SerialHex,
		DocHash: hex.EncodeToString(r.Digests[0].Hash), Outcome: "approved", Detail: fmt.Sprintf("%s: %d document(s)", r.ID, len(r.Digests))})
	v := url.Values{"code": {code}}
	if r.State != "" {
		v.Set("state", r.State)
	}
	return redirectWith(c, r.RedirectURI, v)
}

// oauthToken exchanges an authorization code (once, with its PKCE
// verifier) for a credential token: a SAD bound to the approved digests.
func (s *Server) oauthToken(c echo.Context) error {
	ctx := c.Request().Context()
	fail := func(status int, code, desc string) error {
		return c.JSON(status, map[string]string{"error": code, "error_description": desc, "traceId": traceID(c)})
	}
	if c.FormValue("grant_type") != "authorization_code" {
		return fail(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
	}
	code, clientID, verifier := c.FormValue("code"), c.FormValue("client_id"), c.FormValue("code_verifier")
	switch {
	case code == "":
		return fail(http.StatusBadRequest, "invalid_request", "Missing parameter code")
	case clientID == "":
		return fail(http.StatusBadRequest, "invalid_request", "Missing parameter client_id")
	case verifier == "":
		return fail(http.StatusBadRequest, "invalid_request", "Missing parameter code_verifier (PKCE)")
	}
	// Spent before the checks: a code presented with the wrong client or
	// verifier is burnt, so it cannot be guessed at.
	r, err := s.store.RedeemOAuthCode(ctx, codeHash(code), s.cfg.Now())
	if err != nil {
		return fail(http.StatusBadRequest, "invalid_grant", "Authorization code is invalid, expired or already used")
	}
	if clientID != r.ClientID || c.FormValue("redirect_uri") != r.RedirectURI ||
		subtle.ConstantTimeCompare([]byte(pkceS256(verifier)), []byte(r.CodeChallenge)) != 1 {
		return fail(http.StatusBadRequest, "invalid_grant", "client_id, redirect_uri or code_verifier do not match the authorization request")
	}
	secret, _, _ := newCredential(PrefixToken)
	sad := &SAD{ID: sadID(secret), TenantID: r.TenantID, CredentialID: r.CredentialID, Hashes: r.consent().Hashes, ExpiresAt: s.cfg.Now().Add(s.cfg.SADTTL)}
	if err := s.store.CreateSAD(ctx, sad); err != nil {
		return err
	}
	s.audit(ctx, &AuditEntry{TenantID: r.TenantID, Actor: "oauth:" + r.ClientID, Action: "oauth.token", DocHash: hex.EncodeToString(sad.Hashes[0]),
		Detail: fmt.Sprintf("%s: %d digest(s)", r.ID, len(sad.Hashes))})
	var digests []map[string]string
	for _, d := range r.Digests {
		digests = append(digests, map[string]string{"hash": base64.StdEncoding.EncodeToString(d.Hash), "label": d.Label})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"access_token": "sad_" + secret[len(PrefixToken):], "token_type": "Bearer",
		"expires_in": int(s.cfg.SADTTL / time.Second), "credentialID": r.CredentialID,
		"authorization_details": []any{map[string]any{"type": "credential", "credentialID": r.CredentialID, "documentDigests": digests,
			"hashAlgorithmOID": oidOf(hashAlgos[r.HashAlgo])}}})
}

// cscCredentialAuth lets a credential token (from oauth2/token) stand for
// both service authorization and SAD on the signing methods; anything
// else goes through the API key check.
func (s *Server) cscCredentialAuth(next echo.HandlerFunc) echo.HandlerFunc {
	auth := s.requireAuth(next)
	return func(c echo.Context) error {
		tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		secret, isSAD := strings.CutPrefix(strings.TrimSpace(tok), "sad_")
		if !ok || !isSAD {
			return auth(c)
		}
		sad, err := s.store.PeekSAD(c.Request().Context(), sadID(PrefixToken+secret), s.cfg.Now())
		if err != nil {
			return errUnauthorized
		}
		c.Set("principal", &principal{TenantID: sad.TenantID, KeyID: "oauth"})
		c.Set("cscSAD", "sad_"+secret)
		return next(c)
	}
}

// bearerSAD is the credential token a signing request came with, if any.
func bearerSAD(c echo.Context, sad string) string {
	if sad != "" {
		return sad
	}
	v, _ := c.Get("cscSAD").(string)
	return v
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · SecureSign</title>
<style>
body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:560px;margin:24px auto;background:#fff;border:1px solid #d8dce2;border-radius:10px;padding:24px}
h1{font-size:1.35rem;margin:0 0 4px} .who{color:#4a5360;margin:0 0 18px}
.cred{background:#f7f8fa;border:1px solid #e3e6ea;border-radius:8px;padding:10px 12px;margin:0 0 16px}
ol{padding-left:1.3em;margin:8px 0 16px} li{margin:6px 0}
.label{font-weight:600;word-break:break-word} .fp{font-family:ui-monospace,monospace;background:#eef1f5;border-radius:4px;padding:1px 5px;white-space:nowrap}
.err{background:#fdecea;border:1px solid #f5c2bd;color:#8a1c12;border-radius:8px;padding:8px 12px;margin:0 0 14px}
label{display:block;font-weight:600;margin:6px 0} input[type=text]{font-size:1.4rem;letter-spacing:.3em;width:9em;padding:6px 8px;border:1px solid #aab2bd;border-radius:6px}
.buttons{display:flex;gap:10px;margin-top:16px;flex-wrap:wrap} button{font-size:1rem;padding:9px 18px;border-radius:6px;border:1px solid #1f5fbf;cursor:pointer}
#approve{background:#1f5fbf;color:#fff} #decline{background:#fff;color:#1f5fbf} small{color:#5b6470}
</style></head><body><main>
{{if .Message}}<h1>{{.Title}}</h1><p>{{.Message}}</p>{{else}}
<h1>Approve signing</h1>
<p class="who">{{.Tenant}} asks you to sign with your certificate, through {{.Origin}}.</p>
<div class="cred" id="credential"><div><b>Certificate:</b> {{.Holder}}</div><div><small>Serial {{.Serial}} · issued by {{.Issuer}} · credential {{.CredentialID}}</small></div></div>
<div><b>{{.Count}}</b> — compare each fingerprint with the one in the message you received:</div>
<ol id="documents">{{range .Docs}}<li><span class="label">{{.Label}}</span> <span class="fp" title="{{.Full}}">{{.Fingerprint}}</span></li>{{end}}</ol>
{{if .Error}}<div class="err" id="error" role="alert">{{.Error}}</div>{{end}}
<form method="post" action="/csc/v2/oauth2/consent/{{.ID}}">
<label for="otp">One-time code sent to you</label>
<input type="text" id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]*" maxlength="12" autofocus>
<div class="buttons"><button id="approve" name="decision" value="approve">Approve and sign</button>
<button id="decline" name="decision" value="decline" formnovalidate>Decline</button></div>
<p><small>Your code signs exactly these {{.Count}} and nothing else. This request expires at {{.Expires}}.</small></p>
</form>{{end}}
</main></body></html>`))

type consentDoc struct{ Label, Fingerprint, Full string }

func (s *Server) renderConsent(c echo.Context, status int, r *OAuthRequest, rec *Certificate, errMsg string) error {
	v := map[string]any{"Title": "Approve signing", "ID": r.ID, "CredentialID": rec.ID, "Serial": rec.SerialHex, "Error": errMsg,
		"Expires": r.ExpiresAt.UTC().Format("15:04 MST"), "Count": plural(len(r.Digests), "document")}
	if cert, err := x509.ParseCertificate(rec.DER); err == nil {
		v["Holder"], v["Issuer"] = cert.Subject.CommonName, cert.Issuer.CommonName
	}
	if t, err := s.store.Tenant(c.Request().Context(), r.TenantID); err == nil {
		v["Tenant"] = t.Name
	}
	if u, err := url.Parse(r.RedirectURI); err == nil {
		v["Origin"] = u.Scheme + "://" + u.Host
	}
	var docs []consentDoc
	for _, d := range r.Digests {
		fp := hex.EncodeToString(d.Hash)
		docs = append(docs, consentDoc{Label: d.Label, Fingerprint: fp[:8], Full: r.HashAlgo + " " + fp})
	}
	v["Docs"] = docs
	return s.renderPage(c, status, v)
}

func (s *Server) consentMessage(c echo.Context, status int, title, msg string) error {
	return s.renderPage(c, status, map[string]any{"Title": title, "Message": msg})
}

func (s *Server) renderPage(c echo.Context, status int, v map[string]any) error {
	var b strings.Builder
	if err := consentTmpl.Execute(&b, v); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' "+formActionOrigin(v)+"; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	return c.HTML(status, b.String())
}

// formActionOrigin allows the consent form's redirect to the client
// (CSP form-action applies to redirects after a submission).
func formActionOrigin(v map[string]any) string {
	o, _ := v["Origin"].(string)
	return o
}
