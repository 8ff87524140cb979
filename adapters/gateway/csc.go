package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/signer"
)

// The Cloud Signature Consortium API v2 subset over server-held
// credentials. A credential is a certificate the gateway issued with a
// server-generated key; its credentialID is the certificate id.

// cscErrors marks the request so errors answer in CSC's format.
func (s *Server) cscErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set("csc", true)
		return next(c)
	}
}

// cscError writes CSC's {"error","error_description"} (CSC v2 section 10):
// 400 for every refused request, 401 only for a missing or bad access
// token.
func cscError(c echo.Context, ae *apiError) {
	code, status := "invalid_request", http.StatusBadRequest
	switch {
	case ae.Status == http.StatusUnauthorized && ae.Code == CodeUnauthorized:
		code, status = "invalid_token", http.StatusUnauthorized
	case ae.Code == CodeOTPInvalid, ae.Code == CodeOTPExpired, ae.Code == CodeOTPLocked, ae.Code == CodeOTPMismatch:
		code = "invalid_otp"
	case ae.Status == http.StatusTooManyRequests:
		code, status = "too_many_requests", ae.Status
	case ae.Status == http.StatusNotFound && ae.Code == CodeNotFound, ae.Status == http.StatusMethodNotAllowed:
		// An unknown method, not a refused parameter.
		status = ae.Status
	case ae.Status >= 500:
		code, status = "server_error", ae.Status
	}
	c.JSON(status, map[string]string{"error": code, "error_description": ae.Msg, "traceId": traceID(c)}) //nolint:errcheck
}

var hashOIDs = map[string]crypto.Hash{
	"2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384,
	"2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

// signAlgoOIDs maps CSC signAlgo OIDs to the algorithm and, for the
// combined OIDs, the hash they imply.
var signAlgoOIDs = map[string]struct {
	alg  signer.Algorithm
	hash crypto.Hash
}{
	"1.2.840.113549.1.1.1":  {signer.RSAPKCS1v15, 0},
	"1.2.840.113549.1.1.11": {signer.RSAPKCS1v15, crypto.SHA256},
	"1.2.840.113549.1.1.12": {signer.RSAPKCS1v15, crypto.SHA384},
	"1.2.840.113549.1.1.13": {signer.RSAPKCS1v15, crypto.SHA512},
	"1.2.840.113549.1.1.10": {signer.RSAPSS, 0},
	"1.2.840.10045.2.1":     {signer.ECDSA, 0},
	"1.2.840.10045.4.3.2":   {signer.ECDSA, crypto.SHA256},
	"1.2.840.10045.4.3.3":   {signer.ECDSA, crypto.SHA384},
	"1.2.840.10045.4.3.4":   {signer.ECDSA, crypto.SHA512},
}

// cscMethods are the CSC methods the gateway serves.
var cscMethods = []string{"info", "credentials/list", "credentials/info", "credentials/sendOTP", "credentials/authorize",
	"signatures/signHash", "signatures/signDoc", "oauth2/authorize", "oauth2/token"}

// cscSignAlgos lists every signAlgo some credential can use; a
// credential's own are in its key/algo.
var cscSignAlgos = []string{"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13",
	"1.2.840.113549.1.1.10", "1.2.840.10045.2.1", "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"}

func (s *Server) cscInfo(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"specs": "2.0.0.2", "name": "SecureSign Gateway", "logo": s.baseURL + "/favicon.ico", "region": "IN", "lang": "en-US",
		"description": "SecureSign remote signing over server-held credentials. Both modes are SCAL 2 (every SAD and token " +
			"is bound to its hashes). Explicit: credentials/sendOTP sends a code naming the credential, credentials/authorize " +
			"binds the SAD to the hashes given. OAuth 2.0 (oauth2code, authorization_details): the user sees the document " +
			"labels and digest fingerprints on the gateway's page and the code's message names them.",
		// Service authorization: API keys and access tokens issued outside
		// CSC ("external"). Credential authorization: explicit (sendOTP,
		// authorize) or OAuth 2.0 authorization code with
		// authorization_details, approved on the gateway's consent page.
		"authType": []string{"external", "oauth2code"}, "oauth2": s.baseURL + "/csc/v2", "supportsRar": true,
		"methods":                   cscMethods,
		"asynchronousOperationMode": false, "validationInfo": false,
		"signAlgorithms": map[string]any{"algos": cscSignAlgos, "algoParams": []string{}},
		// signDoc makes PAdES from whole PDFs (documents).
		"signature_formats":  map[string]any{"formats": []string{"P"}, "envelope_properties": [][]string{{"Certification", "Revision"}}},
		"conformance_levels": []string{"Ades-B-B", "Ades-B-T", "Ades-B-LT", "Ades-B-LTA"},
	})
}

type cscListReq struct {
	UserID         string `json:"userID" validate:"omitempty,max=64"`
	CredentialInfo bool   `json:"credentialInfo"`
	Certificates   string `json:"certificates" validate:"omitempty,oneof=none single chain"`
	CertInfo       bool   `json:"certInfo"`
	AuthInfo       bool   `json:"authInfo"`
	OnlyValid      bool   `json:"onlyValid"`
	Lang           string `json:"lang" validate:"omitempty,max=16"`
	MaxResults     int    `json:"maxResults" validate:"omitempty,min=1,max=1000"`
	PageToken      string `json:"pageToken" validate:"omitempty,max=100"`
	ClientData     string `json:"clientData" validate:"omitempty,max=1000"`
}

func (s *Server) cscList(c echo.Context) error {
	var req cscListReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	recs, err := s.store.Certificates(c.Request().Context(), who(c).TenantID, req.UserID)
	if err != nil {
		return err
	}
	ids := []string{}
	var infos []map[string]any
	for _, r := range recs {
		if r.KeyLocation != "server" || (req.OnlyValid && !r.RevokedAt.IsZero()) {
			continue
		}
		ids = append(ids, r.ID)
		if req.CredentialInfo {
			info, err := s.cscCredential(r, req.Certificates, req.CertInfo)
			if err != nil {
				return err
			}
			info["credentialID"] = r.ID
			infos = append(infos, info)
		}
		if req.MaxResults > 0 && len(ids) == req.MaxResults {
			break
		}
	}
	out := map[string]any{"credentialIDs": ids}
	if req.CredentialInfo {
		out["credentialInfos"] = infos
	}
	return c.JSON(http.StatusOK, out)
}

// cscAuthInfo is a credential's auth: one object, the code that
// credentials/sendOTP sends (or a code the tenant asked for with
// POST /v1/users/{id}/otp, named by an extra authData object "otpId").
var cscAuthInfo = map[string]any{"mode": "explicit", "expression": "OTP", "objects": []map[string]any{{
	"type": "Password", "id": "OTP", "format": "N", "label": "One-time code",
	"description": "The 6-digit code sent to you by credentials/sendOTP; the message names the credential"}}}

var curveOIDs = map[string]string{"P-256": "1.2.840.10045.3.1.7", "P-384": "1.3.132.0.34", "P-521": "1.3.132.0.35"}

func (s *Server) cscCredential(r *Certificate, certs string, certInfo bool) (map[string]any, error) {
	cert, err := x509.ParseCertificate(r.DER)
	if err != nil {
		return nil, err
	}
	key := map[string]any{}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		key["algo"] = []string{"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13", "1.2.840.113549.1.1.10"}
		key["len"] = k.N.BitLen()
	case *ecdsa.PublicKey:
		key["algo"] = []string{"1.2.840.10045.2.1", "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"}
		key["len"] = k.Curve.Params().BitSize
		if oid := curveOIDs[k.Curve.Params().Name]; oid != "" {
			key["curve"] = oid
		}
	}
	status := "enabled"
	certStatus := "valid"
	if !r.RevokedAt.IsZero() {
		status, certStatus = "disabled", "revoked"
	} else if s.cfg.Now().After(r.NotAfter) {
		status, certStatus = "disabled", "expired"
	}
	cm := map[string]any{"status": certStatus}
	switch certs {
	case "", "single":
		cm["certificates"] = []string{base64.StdEncoding.EncodeToString(r.DER)}
	case "chain":
		list := []string{base64.StdEncoding.EncodeToString(r.DER)}
		for _, d := range r.Chain {
			list = append(list, base64.StdEncoding.EncodeToString(d))
		}
		cm["certificates"] = list
	}
	if certInfo {
		cm["issuerDN"], cm["subjectDN"] = cert.Issuer.String(), cert.Subject.String()
		cm["serialNumber"] = r.SerialHex
		cm["validFrom"] = cert.NotBefore.UTC().Format("20060102150405Z")
		cm["validTo"] = cert.NotAfter.UTC().Format("20060102150405Z")
	}
	key["status"] = status
	return map[string]any{
		"description":        "server-held key of " + cert.Subject.CommonName,
		"signatureQualifier": "eu_eidas_aes",
		"key":                key,
		"cert":               cm,
		"auth":               cscAuthInfo,
		// CSC 1.0.4 name of auth/mode.
		"authMode": "explicit",
		// SCAL 2: every SAD is bound to the hashes it signs.
		"SCAL": "2", "multisign": s.cfg.MaxBatch, "lang": "en-US",
	}, nil
}

type cscInfoReq struct {
	CredentialID string `json:"credentialID" validate:"required,max=64"`
	Certificates string `json:"certificates" validate:"omitempty,oneof=none single chain"`
	CertInfo     bool   `json:"certInfo"`
	AuthInfo     bool   `json:"authInfo"`
	Lang         string `json:"lang" validate:"omitempty,max=16"`
	ClientData   string `json:"clientData" validate:"omitempty,max=1000"`
}

func (s *Server) cscCredInfo(c echo.Context) error {
	var req cscInfoReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	rec, _, err := s.certByRef(c, req.CredentialID)
	if err != nil || rec.KeyLocation != "server" {
		return badRequest("Invalid parameter credentialID")
	}
	info, err := s.cscCredential(rec, req.Certificates, req.CertInfo)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

type cscAuthData struct {
	ID    string `json:"id" validate:"required,max=32"`
	Value string `json:"value" validate:"max=128"`
}

// cscAuthorizeReq is credentials/authorize in CSC v2 and, where they
// differ, CSC 1.0.4 names: "hash" for hashes, "hashAlgo" for
// hashAlgorithmOID, top-level "OTP" and "PIN" for authData.
type cscAuthorizeReq struct {
	CredentialID     string        `json:"credentialID" validate:"required,max=64"`
	NumSignatures    int           `json:"numSignatures" validate:"required,min=1,max=50"`
	Hashes           []string      `json:"hashes" validate:"omitempty,max=50,dive,base64"`
	Hash             []string      `json:"hash" validate:"omitempty,max=50,dive,base64"`
	HashAlgorithmOID string        `json:"hashAlgorithmOID" validate:"omitempty,max=64"`
	HashAlgo         string        `json:"hashAlgo" validate:"omitempty,max=64"`
	AuthData         []cscAuthData `json:"authData" validate:"omitempty,max=4,dive"`
	OTP              string        `json:"OTP" validate:"omitempty,max=12"`
	PIN              string        `json:"PIN" validate:"omitempty,max=12"`
	OTPID            string        `json:"otpId" validate:"omitempty,max=64"`
	Description      string        `json:"description" validate:"omitempty,max=500"`
	ClientData       string        `json:"clientData" validate:"omitempty,max=1000"`
}

// oneOf merges a CSC v2 field with its CSC 1.0.4 name: either may be
// given, both only when they agree.
func oneOf[T comparable](v2, v1 T, name2, name1 string) (T, error) {
	var zero T
	if v1 != zero && v2 != zero && v1 != v2 {
		return zero, badRequest("%s and %s (its CSC 1.0.4 name) disagree", name2, name1)
	}
	if v2 == zero {
		return v1, nil
	}
	return v2, nil
}

// mergeHashes is oneOf for the hash lists.
func mergeHashes(v2, v1 []string, name2, name1 string) ([]string, error) {
	if len(v1) > 0 && len(v2) > 0 && !slices.Equal(v1, v2) {
		return nil, badRequest("%s and %s (its CSC 1.0.4 name) disagree", name2, name1)
	}
	if len(v2) == 0 {
		return v1, nil
	}
	return v2, nil
}

// cscCode is the code an authorize request carries: authData {"id":"OTP"}
// (v2; "otp" too), or top-level OTP or PIN (1.0.4). The credential has one
// auth object, so a code given under PIN is taken as that code when it is
// the only one; two different codes are refused. authData "otpId" (or
// top-level otpId) names a code the tenant asked for with
// POST /v1/users/{id}/otp.
func cscCode(req *cscAuthorizeReq) (code, otpID string, err error) {
	otpID = req.OTPID
	var codes []string
	add := func(v string) {
		if v != "" && !slices.Contains(codes, v) {
			codes = append(codes, v)
		}
	}
	add(req.OTP)
	add(req.PIN)
	for _, a := range req.AuthData {
		switch a.ID {
		case "OTP", "otp", "PIN":
			add(a.Value)
		case "otpId":
			if otpID != "" && otpID != a.Value {
				return "", "", badRequest("two different otpId values")
			}
			otpID = a.Value
		default:
			return "", "", badRequest("unknown authData id %q (this credential takes OTP)", a.ID)
		}
	}
	switch len(codes) {
	case 0:
		return "", "", badRequest("authData must carry the OTP ({\"id\":\"OTP\",\"value\":…}); credentials/sendOTP sends it")
	case 1:
		return codes[0], otpID, nil
	}
	return "", "", badRequest("two different codes given (OTP and PIN); this credential takes one OTP")
}

// cscAuthorize turns the user's code into a SAD bound to the credential
// and the listed hashes: single use, short-lived, stored hashed. A code
// from credentials/sendOTP names only the credential (the client names
// the hashes here); a code the tenant asked for with hashes must be used
// for exactly those (protocol 1.1 §6).
func (s *Server) cscAuthorize(c echo.Context) error {
	var req cscAuthorizeReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	code, otpID, err := cscCode(&req)
	if err != nil {
		return err
	}
	list, err := mergeHashes(req.Hashes, req.Hash, "hashes", "hash")
	if err != nil {
		return err
	}
	oid, err := oneOf(req.HashAlgorithmOID, req.HashAlgo, "hashAlgorithmOID", "hashAlgo")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return badRequest("hashes are required: the SAD is bound to them (SCAL 2)")
	}
	if len(list) != req.NumSignatures {
		return badRequest("numSignatures must equal the number of hashes")
	}
	hashes, err := decodeHashes(list, oid)
	if err != nil {
		return err
	}
	rec, _, err := s.certByRef(c, req.CredentialID)
	if err != nil || rec.KeyLocation != "server" {
		return badRequest("Invalid parameter credentialID")
	}
	var o *OTP
	if otpID != "" {
		o, err = s.redeemOTP(c, rec.UserID, otpID, code, "sign", &Consent{CertificateID: rec.ID, HashAlgo: hashName(hashOfOID(oid)), Hashes: hashes})
	} else {
		o, err = s.redeemCSCCode(c, rec, code)
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return apiErr(http.StatusUnauthorized, CodeOTPInvalid, "unknown otpId for this credential's holder")
	}
	if err != nil {
		return err
	}
	if err := s.spendOTP(c.Request().Context(), o); err != nil {
		return err
	}
	secret, _, _ := newCredential(PrefixToken)
	sad := &SAD{ID: sadID(secret), TenantID: who(c).TenantID, CredentialID: rec.ID, Hashes: hashes, ExpiresAt: s.cfg.Now().Add(s.cfg.SADTTL)}
	if err := s.store.CreateSAD(c.Request().Context(), sad); err != nil {
		return err
	}
	s.audit(c.Request().Context(), &AuditEntry{TenantID: sad.TenantID, Actor: actor(c), Action: "csc.authorize", CertSerial: rec.SerialHex,
		DocHash: hex.EncodeToString(hashes[0]), Detail: strconv.Itoa(len(hashes)) + " hash(es), " + o.ID})
	return c.JSON(http.StatusOK, map[string]any{"SAD": "sad_" + secret[len(PrefixToken):], "expiresIn": int(s.cfg.SADTTL / time.Second)})
}

// redeemCSCCode checks code against the newest unused code that
// credentials/sendOTP sent for rec.
func (s *Server) redeemCSCCode(c echo.Context, rec *Certificate, code string) (*OTP, error) {
	latest, err := s.store.LatestOTP(c.Request().Context(), rec.TenantID, rec.UserID, "csc", s.cfg.Now())
	if errors.Is(err, ErrNotFound) {
		return nil, apiErr(http.StatusUnauthorized, CodeOTPExpired, "no unused code for this credential: call credentials/sendOTP")
	}
	if err != nil {
		return nil, err
	}
	return s.redeemOTP(c, rec.UserID, latest.ID, code, "csc", &Consent{CertificateID: rec.ID, AnyDigests: true})
}

type cscSendOTPReq struct {
	CredentialID string `json:"credentialID" validate:"required,max=64"`
	ClientData   string `json:"clientData" validate:"omitempty,max=1000"`
}

// cscSendOTP sends the credential's holder a code for one
// credentials/authorize. The message names the credential; the digests
// are named only at authorize, where the SAD is bound to them.
func (s *Server) cscSendOTP(c echo.Context) error {
	var req cscSendOTPReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	rec, _, err := s.certByRef(c, req.CredentialID)
	if err != nil || rec.KeyLocation != "server" {
		return badRequest("Invalid parameter credentialID")
	}
	u, err := s.store.User(c.Request().Context(), rec.TenantID, rec.UserID)
	if err != nil {
		return err
	}
	if _, err := s.consentCertificate(c, u, rec.ID); err != nil {
		return badRequest("The credential identified by credentialID is disabled")
	}
	consent := &Consent{CertificateID: rec.ID, AnyDigests: true}
	if _, err := s.sendOTP(c, u, "csc", consent, s.askedBy(c.Request().Context(), u.TenantID, consent.Summary(certLabel(rec)))); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// sadID is the stored id of a SAD: its SHA-256, so the database never holds
// a usable SAD.
func sadID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// hashOfOID is the hash an OID names, SHA-256 when empty.
func hashOfOID(oid string) crypto.Hash {
	if oid == "" {
		return crypto.SHA256
	}
	return hashOIDs[oid]
}

func decodeHashes(list []string, oid string) ([][]byte, error) {
	h := crypto.SHA256
	if oid != "" {
		var ok bool
		if h, ok = hashOIDs[oid]; !ok {
			return nil, badRequest("unsupported hashAlgorithmOID %s", oid)
		}
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != h.Size() {
			return nil, badRequest("hash %d is not a base64 %s digest", i+1, hashName(h))
		}
		out[i] = b
	}
	return out, nil
}

// cscSignHashReq is signatures/signHash in CSC v2 and CSC 1.0.4 names
// ("hash", "hashAlgo").
type cscSignHashReq struct {
	CredentialID     string   `json:"credentialID" validate:"required,max=64"`
	SAD              string   `json:"SAD" validate:"omitempty,max=200"`
	Hashes           []string `json:"hashes" validate:"omitempty,max=50,dive,base64"`
	Hash             []string `json:"hash" validate:"omitempty,max=50,dive,base64"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID" validate:"omitempty,max=64"`
	HashAlgo         string   `json:"hashAlgo" validate:"omitempty,max=64"`
	SignAlgo         string   `json:"signAlgo" validate:"required,max=64"`
	SignAlgoParams   string   `json:"signAlgoParams" validate:"omitempty,max=1000"`
	OperationMode    string   `json:"operationMode" validate:"omitempty,oneof=S"`
	ClientData       string   `json:"clientData" validate:"omitempty,max=1000"`
}

func (s *Server) cscSignHash(c echo.Context) error {
	var req cscSignHashReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	list, err := mergeHashes(req.Hashes, req.Hash, "hashes", "hash")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return badRequest("Missing (or invalid type) array parameter hashes")
	}
	oid, err := oneOf(req.HashAlgorithmOID, req.HashAlgo, "hashAlgorithmOID", "hashAlgo")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rec, sg, err := s.serverSigner(c, req.CredentialID)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return badRequest("Invalid parameter credentialID")
		}
		return err
	}
	spec, err := cscSignSpecOf(req.SignAlgo, oid, req.SignAlgoParams, sg.Certificate().PublicKey)
	if err != nil {
		return badRequest("%v", err)
	}
	hashes, err := decodeHashes(list, oidOf(spec.Hash))
	if err != nil {
		return err
	}
	raw := bearerSAD(c, req.SAD)
	if err := s.checkSAD(c, raw, rec, hashes); err != nil {
		return err
	}
	sigs := make([]string, len(hashes))
	for i, d := range hashes {
		sig, err := signCSC(ctx, sg, spec, d)
		if err != nil {
			s.metrics.outcome("csc", "failed")
			if ke := keyError(err); ke != nil {
				return ke
			}
			return unprocessable(err, "signing failed: %v", err)
		}
		sigs[i] = base64.StdEncoding.EncodeToString(sig)
	}
	// Spent only now: a key that failed leaves the SAD usable; a
	// concurrent request that spent it first wins.
	sad, err := s.useSAD(c, raw, rec, hashes)
	if err != nil {
		return err
	}
	s.metrics.outcome("csc", "signed")
	s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "csc.signHash", CertSerial: rec.SerialHex,
		DocHash: hex.EncodeToString(hashes[0]), Outcome: "signed", Detail: fmt.Sprintf("%d signature(s), %s %s salt %d, SAD %.8s", len(hashes), spec.Alg, hashName(spec.Hash), spec.Salt, sad.ID)})
	return c.JSON(http.StatusOK, map[string]any{"signatures": sigs})
}

// useSAD spends the SAD raw if it authorizes exactly hashes with rec.
// A SAD for other hashes or another credential is spent too (as a code
// used for another operation is).
func (s *Server) useSAD(c echo.Context, raw string, rec *Certificate, hashes [][]byte) (*SAD, error) {
	id, err := sadIDOf(raw)
	if err != nil {
		return nil, err
	}
	sad, err := s.store.UseSAD(c.Request().Context(), who(c).TenantID, id, s.cfg.Now())
	if err != nil {
		if errors.Is(err, ErrSADInvalid) {
			s.metrics.outcome("csc", "sad_rejected")
			return nil, badRequest("SAD unknown, expired or already used")
		}
		return nil, err
	}
	if sad.CredentialID != rec.ID || !sameDigestSet(sad.Hashes, hashes) {
		s.metrics.outcome("csc", "sad_mismatch")
		return nil, badRequest("the SAD does not authorize these hashes with this credential")
	}
	return sad, nil
}

// checkSAD is useSAD without spending: signHash and signDoc check the
// SAD, sign, and spend it only then, so a request refused for its
// content or a key that failed leaves the SAD usable. A mismatch spends
// it.
func (s *Server) checkSAD(c echo.Context, raw string, rec *Certificate, hashes [][]byte) error {
	id, err := sadIDOf(raw)
	if err != nil {
		return err
	}
	sad, err := s.store.PeekSAD(c.Request().Context(), id, s.cfg.Now())
	if err != nil || sad.TenantID != who(c).TenantID {
		if err == nil || errors.Is(err, ErrNotFound) {
			s.metrics.outcome("csc", "sad_rejected")
			return badRequest("SAD unknown, expired or already used")
		}
		return err
	}
	if sad.CredentialID != rec.ID || !sameDigestSet(sad.Hashes, hashes) {
		_, err := s.useSAD(c, raw, rec, hashes)
		return err
	}
	return nil
}

func sadIDOf(raw string) (string, error) {
	secret, ok := strings.CutPrefix(raw, "sad_")
	if raw == "" {
		return "", badRequest("Missing (or invalid type) string parameter SAD")
	}
	if !ok || secret == "" {
		return "", badRequest("Invalid parameter SAD")
	}
	return sadID(PrefixToken + secret), nil
}

func oidOf(h crypto.Hash) string {
	for k, v := range hashOIDs {
		if v == h {
			return k
		}
	}
	return ""
}
