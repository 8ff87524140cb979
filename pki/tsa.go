package pki

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/digitorus/timestamp"
)

// maxTSARequest bounds a time-stamp request; real ones are under 200 bytes.
const maxTSARequest = 16 << 10

// errTSARequest marks requests the TSA rejects.
var errTSARequest = errors.New("pki: bad time-stamp request")

// parseTSARequest parses an RFC 3161 TimeStampReq and checks what the TSA
// supports: SHA-256/384/512 imprints of the right length and, when a policy
// is requested, the TSA's own.
func (ca *CA) parseTSARequest(der []byte) (*timestamp.Request, timestamp.FailureInfo, error) {
	if len(der) > maxTSARequest {
		return nil, timestamp.BadRequest, fmt.Errorf("%w: %d bytes", errTSARequest, len(der))
	}
	req, err := timestamp.ParseRequest(der)
	if err != nil {
		return nil, timestamp.BadDataFormat, fmt.Errorf("%w: %v", errTSARequest, err)
	}
	switch req.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		// SHA-1 too: ESSCertIDv2 is made with the imprint's hash.
		return nil, timestamp.BadAlgorithm, fmt.Errorf("%w: hash algorithm %v not accepted", errTSARequest, req.HashAlgorithm)
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return nil, timestamp.BadDataFormat, fmt.Errorf("%w: imprint of %d bytes for %v", errTSARequest, len(req.HashedMessage), req.HashAlgorithm)
	}
	if len(req.TSAPolicyOID) > 0 && !req.TSAPolicyOID.Equal(ca.cfg.TSAPolicyOID) {
		return nil, timestamp.UnacceptedPolicy, fmt.Errorf("%w: policy %v, this TSA uses %v", errTSARequest, req.TSAPolicyOID, ca.cfg.TSAPolicyOID)
	}
	if req.Nonce != nil && req.Nonce.BitLen() > 512 {
		return nil, timestamp.BadDataFormat, fmt.Errorf("%w: nonce too long", errTSARequest)
	}
	for _, e := range req.Extensions {
		if e.Critical {
			return nil, timestamp.UnacceptedExtension, fmt.Errorf("%w: critical extension %v", errTSARequest, e.Id)
		}
	}
	return req, 0, nil
}

// RespondTSA answers a DER RFC 3161 TimeStampReq with a DER TimeStampResp:
// a token signed by the TSA certificate under the TSA policy, with the
// configured accuracy, the request's nonce, an ESSCertIDv2 of the TSA
// certificate, a random 160-bit serial number, and the TSA certificate
// chain when the request asks for certificates. Rejected requests get a
// rejection response; the error says why.
func (ca *CA) RespondTSA(ctx context.Context, request []byte) ([]byte, error) {
	req, fi, err := ca.parseTSARequest(request)
	if err != nil {
		resp, rerr := timestamp.CreateErrorResponse(timestamp.Rejection, fi)
		if rerr != nil {
			return nil, rerr
		}
		return resp, err
	}
	ts := &timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              ca.cfg.Now().UTC(),
		Accuracy:          ca.cfg.TSAAccuracy,
		Policy:            ca.cfg.TSAPolicyOID,
		Nonce:             req.Nonce,
		AddTSACertificate: req.Certificates,
	}
	if req.Certificates {
		ts.Certificates = ca.tsa.Chain()
	}
	_, hash, err := signatureAlgorithm(ca.tsa.Public())
	if err != nil {
		return nil, err
	}
	resp, err := ts.CreateResponseWithOpts(ca.tsa.Certificate(), ca.tsa, hash)
	if err != nil {
		fail, _ := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.SystemFailure)
		return fail, fmt.Errorf("pki: signing timestamp: %w", err)
	}
	return resp, nil
}

// TSA returns the RFC 3161 time-stamping authority as an http.Handler: POST
// with an application/timestamp-query body.
func (ca *CA) TSA() http.Handler { return tsaHandler{ca} }

type tsaHandler struct{ ca *CA }

func (h tsaHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTSARequest+1))
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	resp, err := h.ca.RespondTSA(r.Context(), body)
	if resp == nil {
		http.Error(w, "time-stamping failed", http.StatusInternalServerError)
		return
	}
	_ = err // the rejection response says why
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}
