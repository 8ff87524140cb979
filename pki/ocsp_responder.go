package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Limits of the OCSP responder.
const (
	maxOCSPRequest       = 16 << 10
	maxOCSPSingleRequest = 16
)

// errMalformedOCSP marks requests answered with malformedRequest.
var errMalformedOCSP = errors.New("pki: malformed OCSP request")

// ocspQuery is a parsed OCSP request.
type ocspQuery struct {
	requests []ocspCertID
	nonce    *pkix.Extension
}

// parseOCSPRequest parses an RFC 6960 OCSPRequest: unsigned, 1 to 16
// single requests, an optional nonce.
func parseOCSPRequest(der []byte) (*ocspQuery, error) {
	if len(der) > maxOCSPRequest {
		return nil, fmt.Errorf("%w: %d bytes", errMalformedOCSP, len(der))
	}
	var req ocspRequestASN1
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedOCSP, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing data", errMalformedOCSP)
	}
	n := len(req.TBSRequest.RequestList)
	if n == 0 || n > maxOCSPSingleRequest {
		return nil, fmt.Errorf("%w: %d single requests", errMalformedOCSP, n)
	}
	q := &ocspQuery{}
	for _, r := range req.TBSRequest.RequestList {
		if r.Cert.SerialNumber == nil {
			return nil, fmt.Errorf("%w: no serial", errMalformedOCSP)
		}
		q.requests = append(q.requests, r.Cert)
	}
	for i, e := range req.TBSRequest.Extensions {
		if e.Id.Equal(oidOCSPNonce) {
			if len(e.Value) > 64 {
				return nil, fmt.Errorf("%w: nonce of %d bytes", errMalformedOCSP, len(e.Value))
			}
			q.nonce = &req.TBSRequest.Extensions[i]
		}
	}
	return q, nil
}

// RespondOCSP answers a DER OCSP request with a DER OCSP response, signed
// by the delegated responder: good, revoked or unknown (not issued by this
// CA) per certificate, the request's nonce echoed. Malformed requests get a
// malformedRequest response, store failures internalError; the error says
// why.
func (ca *CA) RespondOCSP(ctx context.Context, request []byte) ([]byte, error) {
	q, err := parseOCSPRequest(request)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, err
	}
	now := ca.cfg.Now().UTC().Truncate(time.Second)
	var single []ocspSingleResponse
	ours := 0
	for _, id := range q.requests {
		sr := ocspSingleResponse{CertID: id, ThisUpdate: now, NextUpdate: now.Add(ca.cfg.OCSPValidity)}
		h := hashOfOID(id.HashAlgorithm.Algorithm)
		mine := false
		if h != 0 {
			nh, kh, err := issuerHashes(ca.cfg.Cert, h)
			mine = err == nil && bytes.Equal(nh, id.NameHash) && bytes.Equal(kh, id.IssuerKeyHash)
		}
		if !mine {
			sr.Unknown = true
			single = append(single, sr)
			continue
		}
		ours++
		rec, err := ca.cfg.Store.Certificate(ctx, id.SerialNumber)
		switch {
		case errors.Is(err, ErrNotFound):
			sr.Unknown = true
		case err != nil:
			return ocsp.InternalErrorErrorResponse, fmt.Errorf("pki: OCSP status: %w", err)
		case rec.Revoked():
			sr.Revoked = ocspRevokedInfo{RevocationTime: rec.RevokedAt.UTC(), Reason: asn1.Enumerated(rec.Reason)}
		default:
			sr.Good = true
		}
		single = append(single, sr)
	}
	if ours == 0 {
		return ocsp.UnauthorizedErrorResponse, errors.New("pki: OCSP request is about another CA's certificates")
	}
	resp, err := ca.signOCSP(single, q.nonce, now)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	return resp, nil
}

func (ca *CA) signOCSP(single []ocspSingleResponse, nonce *pkix.Extension, now time.Time) ([]byte, error) {
	cert := ca.ocsp.Certificate()
	data := ocspResponseData{
		RawResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: cert.RawSubject},
		ProducedAt:     now,
		Responses:      single,
	}
	if nonce != nil {
		data.Extensions = []pkix.Extension{{Id: oidOCSPNonce, Value: nonce.Value}}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP response: %w", err)
	}
	alg, hash, err := signatureAlgorithm(ca.ocsp.Public())
	if err != nil {
		return nil, err
	}
	hh := hash.New()
	hh.Write(tbs)
	sig, err := ca.ocsp.Sign(rand.Reader, hh.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("pki: signing OCSP response: %w", err)
	}
	data.Raw = tbs
	basic, err := asn1.Marshal(ocspBasicResponse{
		TBSResponseData:    data,
		SignatureAlgorithm: alg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certificates:       []asn1.RawValue{{FullBytes: cert.Raw}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(ocspResponseASN1{
		Status:   asn1.Enumerated(ocsp.Success),
		Response: ocspResponseBytes{ResponseType: oidOCSPBasic, Response: basic},
	})
}

var (
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// signatureAlgorithm picks the signature algorithm for a responder key.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, crypto.Hash, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}, crypto.SHA256, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() || k.Curve == elliptic.P521() {
			return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}, crypto.SHA384, nil
		}
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, crypto.SHA256, nil
	}
	return pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("pki: unsupported responder key type %T", pub)
}

// OCSPResponder returns the RFC 6960 responder as an http.Handler: POST
// with an application/ocsp-request body, or GET with the base64 request as
// the last part of the path (wherever the handler is mounted).
func (ca *CA) OCSPResponder() http.Handler { return ocspHandler{ca} }

type ocspHandler struct{ ca *CA }

func (h ocspHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, maxOCSPRequest+1))
		if err != nil {
			http.Error(w, "reading request", http.StatusBadRequest)
			return
		}
		der = body
	case http.MethodGet:
		der = ocspFromPath(r.URL)
		if der == nil {
			w.Header().Set("Content-Type", "application/ocsp-response")
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	resp, _ := h.ca.RespondOCSP(r.Context(), der)
	w.Header().Set("Content-Type", "application/ocsp-response")
	if r.Method == http.MethodGet && len(resp) > 8 {
		w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", int(h.ca.cfg.OCSPValidity.Seconds()/2)))
	}
	w.Write(resp)
}

// ocspFromPath finds the base64 request in a GET path. The encoding may
// itself contain '/', so the suffixes after the first few '/' are tried,
// longest first.
func ocspFromPath(u *url.URL) []byte {
	p := u.EscapedPath()
	if len(p) > 2*maxOCSPRequest {
		return nil
	}
	// The mount point has a few segments; the base64 may contain more '/'.
	tries := 0
	for i := 0; i < len(p) && tries < 8; i++ {
		if p[i] != '/' {
			continue
		}
		tries++
		s, err := url.PathUnescape(p[i+1:])
		if err != nil || s == "" {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			der, err := enc.DecodeString(strings.TrimSpace(s))
			if err != nil {
				continue
			}
			if _, err := parseOCSPRequest(der); err == nil {
				return der
			}
		}
	}
	return nil
}
