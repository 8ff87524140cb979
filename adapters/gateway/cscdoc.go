package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

// cscDocument is one entry of signDoc's documents.
type cscDocument struct {
	Document               string            `json:"document" validate:"required"`
	SignatureFormat        string            `json:"signature_format" validate:"required,max=4"`
	ConformanceLevel       string            `json:"conformance_level" validate:"omitempty,max=16"`
	SignAlgo               string            `json:"signAlgo" validate:"required,max=64"`
	SignAlgoParams         string            `json:"signAlgoParams" validate:"omitempty,max=1000"`
	SignedProps            []json.RawMessage `json:"signed_props" validate:"omitempty,max=0"`
	SignedEnvelopeProperty string            `json:"signed_envelope_property" validate:"omitempty,oneof=Certification Revision"`
}

type cscSignDocReq struct {
	CredentialID         string            `json:"credentialID" validate:"required,max=64"`
	SignatureQualifier   string            `json:"signatureQualifier" validate:"omitempty,max=64"`
	SAD                  string            `json:"SAD" validate:"omitempty,max=200"`
	Documents            []cscDocument     `json:"documents" validate:"omitempty,max=50,dive"`
	DocumentDigests      []json.RawMessage `json:"documentDigests"`
	OperationMode        string            `json:"operationMode" validate:"omitempty,oneof=S"`
	ReturnValidationInfo bool              `json:"returnValidationInfo"`
	ClientData           string            `json:"clientData" validate:"omitempty,max=1000"`
}

// cscLevels maps CSC conformance levels to PAdES baseline levels.
var cscLevels = map[string]pdf.Level{"ades-b-b": pdf.LevelBB, "ades-b-t": pdf.LevelBT, "ades-b-lt": pdf.LevelBLT, "ades-b-lta": pdf.LevelBLTA,
	"ades-b": pdf.LevelBB, "ades-t": pdf.LevelBT, "ades-lt": pdf.LevelBLT, "ades-lta": pdf.LevelBLTA}

// cscSignDoc makes PAdES signatures of whole PDFs (documents, signature
// format "P"). The SAD must have been authorized for the SHA-256 of each
// PDF as sent here (credentials/authorize hashes, hashAlgorithmOID
// 2.16.840.1.101.3.4.2.1): what the user approved is the document, not a
// digest the client computed over a prepared revision.
func (s *Server) cscSignDoc(c echo.Context) error {
	body, err := readBody(c, s.cfg.MaxBodyBytes/3*4+s.cfg.MaxJSONBytes)
	if err != nil {
		return err
	}
	var req cscSignDocReq
	if err := s.decodeStrict(body, &req); err != nil {
		return err
	}
	switch {
	case len(req.DocumentDigests) > 0 && len(req.Documents) > 0:
		return badRequest("Both documentDigests and documents parameters passed")
	case len(req.DocumentDigests) > 0:
		return badRequest("documentDigests are not supported: send documents (whole PDFs, signature_format P), or sign digests with signatures/signHash")
	case len(req.Documents) == 0:
		return badRequest("Empty documentDigests and documents objects")
	}
	ctx := c.Request().Context()
	rec, sg, err := s.serverSigner(c, req.CredentialID)
	if err != nil {
		return badRequest("Invalid parameter credentialID")
	}
	docs := make([][]byte, len(req.Documents))
	sums := make([][]byte, len(req.Documents))
	opts := make([]pdf.SignOptions, len(req.Documents))
	for i, d := range req.Documents {
		if d.SignatureFormat != "P" {
			return badRequest("documents[%d]: signature_format %q is not supported (P, PAdES, only)", i, d.SignatureFormat)
		}
		level := pdf.LevelBB
		if d.ConformanceLevel != "" {
			var ok bool
			if level, ok = cscLevels[strings.ToLower(d.ConformanceLevel)]; !ok {
				return badRequest("documents[%d]: Invalid parameter conformance_level", i)
			}
		}
		spec, err := cscSignSpecOf(d.SignAlgo, "", d.SignAlgoParams, sg.Certificate().PublicKey)
		if err != nil {
			return badRequest("documents[%d]: %v", i, err)
		}
		if spec.Alg == signer.RSAPSS && spec.Salt != spec.Hash.Size() {
			return badRequest("documents[%d]: PAdES RSASSA-PSS uses a salt as long as the hash (%d)", i, spec.Hash.Size())
		}
		if docs[i], err = base64.StdEncoding.DecodeString(d.Document); err != nil {
			return badRequest("Invalid Base64 documents string parameter")
		}
		sum := sha256.Sum256(docs[i])
		sums[i] = sum[:]
		if opts[i], err = s.signOptions(&pdfOptions{Level: string(level)}); err != nil {
			return err
		}
		opts[i].Algorithm, opts[i].Hash = spec.Alg, spec.Hash
		// PAdES's default envelope property is a certification signature.
		opts[i].Certify = d.SignedEnvelopeProperty != "Revision"
	}
	raw := bearerSAD(c, req.SAD)
	if err := s.checkSAD(c, raw, rec, sums); err != nil {
		return err
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		var buf bytes.Buffer
		if err := pdf.Sign(ctx, &buf, bytes.NewReader(d), int64(len(d)), sg, opts[i]); err != nil {
			s.metrics.outcome("csc", "failed")
			if ke := keyError(err); ke != nil {
				return ke
			}
			return pdfError(err)
		}
		out[i] = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	// Spent once every document is signed; a concurrent request that
	// spent it first wins and these signatures are dropped.
	sad, err := s.useSAD(c, raw, rec, sums)
	if err != nil {
		return err
	}
	for i := range docs {
		s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "csc.signDoc", CertSerial: rec.SerialHex,
			DocHash: hex.EncodeToString(sums[i]), Outcome: "signed", Detail: fmt.Sprintf("%s %s, SAD %.8s", opts[i].Level, opts[i].Algorithm, sad.ID)})
	}
	s.metrics.outcome("csc", "signed")
	return c.JSON(http.StatusOK, map[string]any{"DocumentWithSignature": out})
}
