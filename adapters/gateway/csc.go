package gateway

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
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

// cscError writes CSC's {"error","error_description"}.
func cscError(c echo.Context, ae *apiError) {
	code := "invalid_request"
	switch {
	case ae.Status == http.StatusUnauthorized && ae.Code == CodeUnauthorized:
		code = "invalid_token"
	case ae.Code == CodeOTPInvalid, ae.Code == CodeOTPExpired, ae.Code == CodeOTPLocked:
		code = "invalid_otp"
	case ae.Status == http.StatusTooManyRequests:
		code = "too_many_requests"
	case ae.Status >= 500:
		code = "server_error"
	}
	c.JSON(ae.Status, map[string]string{"error": code, "error_description": ae.Msg}) //nolint:errcheck
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

func (s *Server) cscInfo(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"specs": "2.0.0.0", "name": "SecureSign Gateway", "logo": s.baseURL + "/favicon.ico", "region": "IN", "lang": "en-US",
		"description": "SecureSign remote signing over server-held credentials",
		"authType":    []string{"external"}, "oauth2": "",
		"methods": []string{"info", "credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash"},
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

func (s *Server) cscCredential(r *Certificate, certs string, certInfo bool) (map[string]any, error) {
	cert, err := x509.ParseCertificate(r.DER)
	if err != nil {
		return nil, err
	}
	var algos []string
	bits := 0
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		algos, bits = []string{"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.10"}, k.N.BitLen()
	case *ecdsa.PublicKey:
		algos, bits = []string{"1.2.840.10045.2.1", "1.2.840.10045.4.3.2"}, k.Curve.Params().BitSize
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
	return map[string]any{
		"description":        "server-held key of " + cert.Subject.CommonName,
		"signatureQualifier": "eu_eidas_aes",
		"key":                map[string]any{"status": status, "algo": algos, "len": bits},
		"cert":               cm,
		"auth":               map[string]any{"mode": "explicit", "expression": "OTP", "objects": []map[string]any{{"type": "OTP", "id": "otp", "format": "N"}}},
		"authMode":           "explicit", "SCAL": "2", "multisign": s.cfg.MaxBatch, "lang": "en-US",
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
	Value string `json:"value" validate:"required,max=128"`
}

type cscAuthorizeReq struct {
	CredentialID     string        `json:"credentialID" validate:"required,max=64"`
	NumSignatures    int           `json:"numSignatures" validate:"required,min=1,max=50"`
	Hashes           []string      `json:"hashes" validate:"required,min=1,max=50,dive,base64"`
	HashAlgorithmOID string        `json:"hashAlgorithmOID" validate:"omitempty,max=64"`
	AuthData         []cscAuthData `json:"authData" validate:"omitempty,max=4,dive"`
	OTP              string        `json:"OTP" validate:"omitempty,max=12"`
	OTPID            string        `json:"otpId" validate:"omitempty,max=64"`
	Description      string        `json:"description" validate:"omitempty,max=500"`
	ClientData       string        `json:"clientData" validate:"omitempty,max=1000"`
}

// cscAuthorize turns the user's OTP (purpose "sign") into a SAD bound to the
// credential and the listed hashes: single use, short-lived, stored hashed.
func (s *Server) cscAuthorize(c echo.Context) error {
	var req cscAuthorizeReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	otp, otpID := req.OTP, req.OTPID
	for _, a := range req.AuthData {
		switch a.ID {
		case "otp", "OTP":
			otp = a.Value
		case "otpId":
			otpID = a.Value
		}
	}
	if otp == "" || otpID == "" {
		return badRequest("authData must carry otp and otpId")
	}
	if len(req.Hashes) != req.NumSignatures {
		return badRequest("numSignatures must equal the number of hashes")
	}
	hashes, err := decodeHashes(req.Hashes, req.HashAlgorithmOID)
	if err != nil {
		return err
	}
	rec, _, err := s.certByRef(c, req.CredentialID)
	if err != nil || rec.KeyLocation != "server" {
		return badRequest("Invalid parameter credentialID")
	}
	op := &Consent{CertificateID: rec.ID, HashAlgo: hashName(hashOfOID(req.HashAlgorithmOID)), Hashes: hashes}
	o, err := s.redeemOTP(c, rec.UserID, otpID, otp, "sign", op)
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
		DocHash: hex.EncodeToString(hashes[0]), Detail: strconv.Itoa(len(hashes)) + " hash(es)"})
	return c.JSON(http.StatusOK, map[string]any{"SAD": "sad_" + secret[len(PrefixToken):], "expiresIn": int(s.cfg.SADTTL / time.Second)})
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

type cscSignHashReq struct {
	CredentialID     string   `json:"credentialID" validate:"required,max=64"`
	SAD              string   `json:"SAD" validate:"required,max=200"`
	Hashes           []string `json:"hashes" validate:"required,min=1,max=50,dive,base64"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID" validate:"omitempty,max=64"`
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
	sa, ok := signAlgoOIDs[req.SignAlgo]
	if !ok {
		return badRequest("unsupported signAlgo %s", req.SignAlgo)
	}
	oid := req.HashAlgorithmOID
	hash := sa.hash
	if oid != "" {
		if hash, ok = hashOIDs[oid]; !ok || (sa.hash != 0 && sa.hash != hash) {
			return badRequest("hashAlgorithmOID does not fit signAlgo")
		}
	}
	if hash == 0 {
		hash = crypto.SHA256
	}
	hashes, err := decodeHashes(req.Hashes, oidOf(hash))
	if err != nil {
		return err
	}
	raw, ok := cutPrefix(req.SAD, "sad_")
	if !ok {
		return apiErr(http.StatusBadRequest, CodeBadRequest, "Invalid SAD")
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
	sad, err := s.store.UseSAD(ctx, who(c).TenantID, sadID(PrefixToken+raw), s.cfg.Now())
	if err != nil {
		if errors.Is(err, ErrSADInvalid) {
			s.metrics.outcome("csc", "sad_rejected")
			return apiErr(http.StatusBadRequest, CodeBadRequest, "SAD unknown, expired or already used")
		}
		return err
	}
	if sad.CredentialID != rec.ID || !sameHashes(sad.Hashes, hashes) {
		s.metrics.outcome("csc", "sad_mismatch")
		return apiErr(http.StatusBadRequest, CodeBadRequest, "the SAD does not authorize these hashes with this credential")
	}
	sigs := make([]string, len(hashes))
	for i, d := range hashes {
		sig, err := signDigest(ctx, sg, sa.alg, hash, d)
		if err != nil {
			s.metrics.outcome("csc", "failed")
			if ke := keyError(err); ke != nil {
				return ke
			}
			return unprocessable(err, "signing failed: %v", err)
		}
		sigs[i] = base64.StdEncoding.EncodeToString(sig)
	}
	s.metrics.outcome("csc", "signed")
	s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "csc.signHash", CertSerial: rec.SerialHex,
		DocHash: hex.EncodeToString(hashes[0]), Outcome: "signed", Detail: strconv.Itoa(len(hashes)) + " signature(s)"})
	return c.JSON(http.StatusOK, map[string]any{"signatures": sigs})
}

func oidOf(h crypto.Hash) string {
	for k, v := range hashOIDs {
		if v == h {
			return k
		}
	}
	return ""
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// sameHashes reports whether b lists exactly the hashes of a (any order).
func sameHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(a))
	for _, x := range b {
		found := false
		for i, y := range a {
			if !used[i] && bytes.Equal(x, y) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
