package gateway

// The OpenAPI document (openapi.json) is generated here, from the request
// structs the handlers bind (their json names and validate tags) and a
// table of the routes, and compared with the embedded file:
//
//	go test ./adapters/gateway -run TestOpenAPIGolden -update-openapi
//
// rewrites it. So a tag or a route changed in code fails this test until
// the document says the same.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/pdf"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite openapi.json from the generator")

type obj = map[string]any

// base64Pattern is what validator's base64 accepts, and the empty string
// (which only omitempty or required decide about).
const base64Pattern = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`

// schemaOf is the JSON Schema of a request type as decodeStrict and the
// validator see it: exact member names, no other members, the tags'
// limits. Fields with omitempty may also be empty (the validator skips
// zero values), so they get no minLength and "" joins their enum.
func schemaOf(t reflect.Type) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[json.RawMessage]():
		return obj{}
	case reflect.TypeFor[patchString]():
		return obj{"type": []any{"string", "null"}}
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return obj{"type": "integer"}
	case reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice:
		return obj{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := obj{}
		var required []string
		var anyOf []any
		var walk func(t reflect.Type)
		walk = func(t reflect.Type) {
			for f := range t.Fields() {
				if f.Anonymous {
					walk(f.Type)
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" || !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				s := schemaOf(f.Type)
				req, without := applyTags(s, f.Type, f.Tag.Get("validate"))
				if req {
					required = append(required, name)
				}
				if without != "" {
					other := without
					for g := range t.Fields() {
						if g.Name == without {
							other, _, _ = strings.Cut(g.Tag.Get("json"), ",")
						}
					}
					anyOf = append(anyOf, obj{"required": []string{name}}, obj{"required": []string{other}})
				}
				if d := fieldDocs[t.Name()+"."+name]; d != "" {
					s["description"] = d
				}
				props[name] = s
			}
		}
		walk(t)
		out := obj{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			out["required"] = required
		}
		if len(anyOf) > 0 {
			out["anyOf"] = anyOf
		}
		return out
	}
	panic("openapi: no schema for " + t.String())
}

// answerSchemaOf is the JSON Schema of an answer type as encoding/json
// writes it: every member without omitempty is required, a nil slice or
// pointer is null. Answers stay open to new members.
func answerSchemaOf(t reflect.Type) obj {
	nullable := t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var s obj
	switch {
	case t == reflect.TypeFor[time.Time]():
		s = obj{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s = obj{"type": "string", "contentEncoding": "base64"}
	case t.Kind() == reflect.Slice:
		s = obj{"type": "array", "items": answerSchemaOf(t.Elem())}
	case t.Kind() == reflect.Struct:
		p := obj{}
		var required []string
		var walk func(t reflect.Type)
		walk = func(t reflect.Type) {
			for f := range t.Fields() {
				if f.Anonymous {
					walk(f.Type)
					continue
				}
				name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" || !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				p[name] = answerSchemaOf(f.Type)
				if !strings.Contains(opts, "omitempty") {
					required = append(required, name)
				}
			}
		}
		walk(t)
		s = props(required, p)
	default:
		s = schemaOf(t)
	}
	if nullable {
		s["type"] = []any{s["type"], "null"}
	}
	return s
}

// applyTags writes the validate tags into s; it reports required, and the
// Go name of the field this one is required without.
func applyTags(s obj, t reflect.Type, tag string) (required bool, without string) {
	omitempty := false
	cur, ct := s, t
	for ct.Kind() == reflect.Pointer {
		ct = ct.Elem()
	}
	for _, r := range strings.Split(tag, ",") {
		if r == "" {
			continue
		}
		name, arg, _ := strings.Cut(r, "=")
		kind := ct.Kind()
		switch name {
		case "omitempty":
			omitempty = true
		case "required":
			required = true
			if kind == reflect.String {
				cur["minLength"] = 1
			}
		case "required_without":
			without = arg
		case "excluded_with":
			cur["description"] = "not together with " + arg
		case "dive":
			cur = cur["items"].(obj)
			ct = ct.Elem()
			omitempty = false
		case "max", "min", "len":
			n, _ := strconv.Atoi(arg)
			var lo, hi string
			switch kind {
			case reflect.String:
				lo, hi = "minLength", "maxLength"
			case reflect.Slice:
				lo, hi = "minItems", "maxItems"
			default:
				lo, hi = "minimum", "maximum"
			}
			if name != "min" {
				cur[hi] = n
			}
			if name != "max" && !(omitempty && kind == reflect.String) {
				cur[lo] = n
			}
			if name == "len" && omitempty && kind == reflect.String {
				cur["description"] = fmt.Sprintf("empty, or exactly %d characters", n)
			}
		case "gte":
			n, _ := strconv.ParseFloat(arg, 64)
			cur["minimum"] = n
		case "gt":
			n, _ := strconv.ParseFloat(arg, 64)
			cur["exclusiveMinimum"] = n
		case "oneof":
			var enum []any
			if omitempty {
				enum = append(enum, "")
			}
			for _, v := range strings.Fields(arg) {
				enum = append(enum, v)
			}
			cur["enum"] = enum
		case "base64":
			cur["contentEncoding"] = "base64"
			cur["pattern"] = base64Pattern
		case "hexadecimal":
			cur["pattern"] = `^((0[xX])?[0-9a-fA-F]+)?$`
		case "printascii":
			cur["pattern"] = `^[ -~]*$`
		default:
			panic("openapi: validate rule " + name + " has no schema form")
		}
	}
	return required, without
}

// fieldDocs describe members whose rules live in code, not tags.
var fieldDocs = map[string]string{
	"signHashReq.hashes":            "digests (base64) for a signing app; more than one link holds are split over several links (protocol §1.2); at most --max-digests (default 200); with certificateId at most --max-batch (50)",
	"signHashReq.hashBase64":        "one digest, base64; its length fits hashAlgo",
	"signBatchReq.items":            "all PDFs or all digests; digests are split over links as for sign/hash, at most --max-digests; PDFs at most --max-batch (50)",
	"userInput.externalId":          "1 to 128 printable ASCII characters, unique in the tenant",
	"userInput.country":             "ISO 3166 two-letter code, default IN",
	"userInput.phone":               "E.164, e.g. +919876543210",
	"userPatch.externalId":          "cannot be changed; present only to be refused clearly",
	"createOTPReq.hashAlgo":         "SHA256, SHA384 or SHA512, of hashes",
	"signPDFReq.pdfBase64":          "the PDF, standard base64",
	"verifyPDFReq.pdfBase64":        "the PDF, standard base64",
	"cscSignDocReq.documentDigests": "not supported: give documents",
}

// callbackJSONReq is the JSON body of the callback, which its handler reads
// them inline.
type callbackJSONReq struct {
	Result string `json:"ss_result" validate:"required"`
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonBody(schema obj) obj {
	return obj{"content": obj{"application/json": obj{"schema": schema}}}
}

func props(required []string, p obj) obj {
	out := obj{"type": "object", "properties": p}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

var (
	str     = obj{"type": "string"}
	integer = obj{"type": "integer"}
	boolean = obj{"type": "boolean"}
	anyObj  = obj{"type": "object"}
	strs    = obj{"type": "array", "items": str}
	ts      = obj{"type": "string", "format": "date-time"}
	binStr  = obj{"type": "string", "contentMediaType": "application/octet-stream"}
)

// op is one operation of the document.
type op struct {
	method, path, id, tag, summary string
	auth                           bool // API key or access token
	dev                            bool // only with --dev
	csc                            bool // CSC error body
	params                         []obj
	body                           obj // request body, or nil
	bodyRequired                   bool
	status                         int
	resp                           obj // response content, or nil: no body
	more                           map[int]obj
}

func pathParam(name, desc string) obj {
	return obj{"name": name, "in": "path", "required": true, "description": desc, "schema": obj{"type": "string", "maxLength": 200}}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "description": desc, "schema": schema}
}

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

// operations lists every route of routes(), in its order.
func operations() []op {
	idParam := pathParam("requestId", "the session's requestId")
	capParam := obj{"name": "cap", "in": "query", "required": true, "description": "the capability token of the URL: read-only, until the session expires",
		"schema": obj{"type": "string", "maxLength": 64}}
	userParam := pathParam("userId", "the user's id (usr_…)")
	certParam := pathParam("idOrSerial", "certificate id (crt_…) or hex serial number")
	session := jsonContent(ref("SessionAnswer"))
	cert := jsonContent(ref("Certificate"))
	user := jsonContent(ref("User"))
	signedNow := jsonContent(ref("ServerSignAnswer"))
	callbackIn := obj{
		"application/x-www-form-urlencoded": obj{"schema": props([]string{"ss_result"}, obj{"ss_result": str})},
		"application/json":                  obj{"schema": ref("CallbackJSON")},
	}
	return []op{
		{method: "get", path: "/healthz", id: "healthz", tag: "operations", summary: "Liveness", status: 200,
			resp: jsonContent(props([]string{"status"}, obj{"status": obj{"const": "ok"}}))},
		{method: "get", path: "/readyz", id: "readyz", tag: "operations", summary: "Readiness: the store and keys answer", status: 200,
			resp: jsonContent(props([]string{"status"}, obj{"status": str})), more: map[int]obj{503: jsonContent(ref("Error"))}},
		{method: "get", path: "/metrics", id: "metrics", tag: "operations", summary: "Prometheus metrics (dev mode, or a bearer --metrics-token)",
			status: 200, resp: obj{"text/plain": obj{"schema": str}}},
		{method: "get", path: "/.well-known/securesign-keys.json", id: "linkKeys", tag: "public", summary: "Every tenant's active link-signing keys (JWKS)",
			status: 200, resp: jsonContent(ref("JWKS"))},
		{method: "get", path: "/pki/ca.pem", id: "caCertificate", tag: "public", summary: "The gateway CA certificate, PEM", status: 200,
			resp: obj{"application/x-pem-file": obj{"schema": str}}},
		{method: "get", path: "/pki/crl", id: "crl", tag: "public", summary: "The CA's current CRL, DER", status: 200,
			resp: obj{"application/pkix-crl": obj{"schema": binStr}}},
		{method: "post", path: "/pki/ocsp", id: "ocsp", tag: "public", summary: "OCSP responder (RFC 6960)", bodyRequired: true,
			body: obj{"content": obj{"application/ocsp-request": obj{"schema": binStr}}}, status: 200,
			resp: obj{"application/ocsp-response": obj{"schema": binStr}}},
		{method: "get", path: "/pki/ocsp/{request}", id: "ocspGet", tag: "public", summary: "OCSP responder, GET form (base64 DER request in the path)",
			params: []obj{{"name": "request", "in": "path", "required": true, "schema": str}}, status: 200,
			resp: obj{"application/ocsp-response": obj{"schema": binStr}}},
		{method: "post", path: "/pki/tsa", id: "timestamp", tag: "public", summary: "Time-stamping authority (RFC 3161)", bodyRequired: true,
			body: obj{"content": obj{"application/timestamp-query": obj{"schema": binStr}}}, status: 200,
			resp: obj{"application/timestamp-reply": obj{"schema": binStr}}},
		{method: "get", path: "/v1/callback", id: "callbackGet", tag: "callback", summary: "Where a signing app delivers ss_result (query); answers a page or a redirect to returnUrl",
			params: []obj{queryParam("ss_result", "the result, base64", str)}, status: 200,
			resp: obj{"text/html": obj{"schema": str}}, more: map[int]obj{303: nil}},
		{method: "post", path: "/v1/callback", id: "callbackPost", tag: "callback", summary: "Where a signing app delivers ss_result (body)",
			body: obj{"content": callbackIn}, bodyRequired: true, status: 200, resp: jsonContent(ref("CallbackAnswer"))},
		{method: "get", path: "/v1/watch/{requestId}", id: "watchSession", tag: "sessions",
			summary: "The session's status for the customer's browser, without the API key (capability URL watchUrl of a session answer): JSON, long polling with wait, or server-sent events with Accept: text/event-stream",
			params:  []obj{idParam, capParam, queryParam("wait", "seconds (0 to 30) to wait for a change before answering", obj{"type": "string", "pattern": "^[0-9]+$"})},
			status:  200, resp: obj{"application/json": obj{"schema": ref("WatchStatus")},
				"text/event-stream": obj{"schema": obj{"type": "string", "description": "`event: status` with a WatchStatus as `data`, at once and at every change, until signed or expired"}}}},
		{method: "get", path: "/v1/watch/{requestId}/qr.png", id: "watchSessionQR", tag: "sessions",
			summary: "The deep link as a QR code, without the API key (capability URL qrUrl of a session answer)",
			params:  []obj{idParam, capParam}, status: 200, resp: obj{"image/png": obj{"schema": binStr}}},
		{method: "get", path: "/v1/packages/{requestId}", id: "signingPackage", tag: "sessions",
			summary: "The signing package of a PDF session (protocol 1.2 §6), without the API key: the capability URL packageUrl of a session answer and pkgUrl of its link, until the session expires or is signed",
			params:  []obj{idParam, capParam}, status: 200, resp: jsonContent(ref("SigningPackage"))},
		{method: "get", path: "/v1/packages/{requestId}/{file}", id: "signingPackagePdf", tag: "sessions",
			summary: "A prepared PDF of a signing package (pdfUrl of its documents: n.pdf, from 1.pdf), without the API key",
			params:  []obj{idParam, pathParam("file", "n.pdf: the package's n-th document, from 1"), capParam}, status: 200,
			resp: obj{"application/pdf": obj{"schema": binStr}}},
		{method: "post", path: "/v1/auth/token", id: "authToken", tag: "auth", auth: true, summary: "Exchange the API key for a short-lived access token",
			status: 200, resp: jsonContent(props([]string{"access_token", "token_type", "expires_in"},
				obj{"access_token": str, "token_type": obj{"const": "Bearer"}, "expires_in": integer}))},
		{method: "post", path: "/v1/auth/validate", id: "authValidate", tag: "auth", auth: true, summary: "Whether an origin is on the tenant's list",
			body: jsonBody(ref("ValidateRequest")), bodyRequired: true, status: 200,
			resp: jsonContent(props([]string{"success", "tenantId", "allowed"}, obj{"success": boolean, "tenantId": str, "allowed": boolean,
				"rateLimit": props(nil, obj{"rpm": integer})}))},
		{method: "post", path: "/v1/auth/session", id: "authSession", tag: "sessions", auth: true, summary: "Alias of POST /v1/sign/hash",
			body: jsonBody(ref("SignHashRequest")), bodyRequired: true, status: 201, resp: session, more: map[int]obj{200: signedNow}},
		{method: "post", path: "/v1/sign/hash", id: "signHash", tag: "sessions", auth: true,
			summary: "Digests → sign session(s) and deep link(s); with certificateId, signatures now (200)",
			body:    jsonBody(ref("SignHashRequest")), bodyRequired: true, status: 201, resp: session, more: map[int]obj{200: signedNow}},
		{method: "post", path: "/v1/sign/pdf", id: "signPdf", tag: "sessions", auth: true,
			summary: "A PDF → a sign session for a token user (201); with certificateId, the signed PDF now (200)",
			body:    jsonBody(ref("SignPdfRequest")), bodyRequired: true, status: 201, resp: session,
			more: map[int]obj{200: jsonContent(ref("ServerSignPdfAnswer"))}},
		{method: "post", path: "/v1/sign/batch", id: "signBatch", tag: "sessions", auth: true,
			summary: "Several digests or PDFs → session(s) (201); with certificateId, signed now (200)",
			body:    jsonBody(ref("SignBatchRequest")), bodyRequired: true, status: 201, resp: session,
			more: map[int]obj{200: jsonContent(obj{"anyOf": []any{ref("ServerSignAnswer"), ref("ServerSignPdfAnswer")}})}},
		{method: "post", path: "/v1/register", id: "register", tag: "sessions", auth: true, summary: "A register session and its deep link",
			body: jsonBody(ref("RegisterRequest")), bodyRequired: true, status: 201, resp: session},
		{method: "get", path: "/v1/sessions/{requestId}", id: "getSession", tag: "sessions", auth: true, summary: "A session's status",
			params: []obj{idParam, queryParam("pdf", "0 leaves the signed PDFs out", obj{"type": "string", "enum": []any{"0", "1"}})},
			status: 200, resp: jsonContent(ref("SessionStatus"))},
		{method: "get", path: "/v1/sessions/{requestId}/qr.png", id: "getSessionQR", tag: "sessions", auth: true, summary: "The deep link as a QR code",
			params: []obj{idParam}, status: 200, resp: obj{"image/png": obj{"schema": binStr}}},
		{method: "get", path: "/v1/sessions/{requestId}/pdf", id: "getSessionPdf", tag: "sessions", auth: true, summary: "A signed PDF of a completed session",
			params: []obj{idParam, queryParam("n", "which PDF of a batch, from 0", obj{"type": "string", "pattern": "^[0-9]+$"})},
			status: 200, resp: obj{"application/pdf": obj{"schema": binStr}}},
		{method: "post", path: "/v1/verify/pdf", id: "verifyPdf", tag: "validation", auth: true, summary: "Validate the signatures of a PDF",
			body: jsonBody(ref("VerifyPdfRequest")), bodyRequired: true, status: 200, resp: jsonContent(ref("ValidationReport"))},
		{method: "post", path: "/v1/verify/hash", id: "verifyHash", tag: "validation", auth: true, summary: "Verify a signature over a digest",
			body: jsonBody(ref("VerifyHashRequest")), bodyRequired: true, status: 200, resp: jsonContent(ref("VerifyHashAnswer"))},
		{method: "post", path: "/v1/certificates/validate", id: "validateCertificate", tag: "validation", auth: true, summary: "Validate a certificate and its chain",
			body: jsonBody(ref("ValidateCertificateRequest")), bodyRequired: true, status: 200, resp: jsonContent(ref("CertificateValidation"))},
		{method: "post", path: "/v1/users", id: "createUser", tag: "users", auth: true, summary: "Create a user",
			body: jsonBody(ref("UserInput")), bodyRequired: true, status: 201, resp: user},
		{method: "get", path: "/v1/users/{userId}", id: "getUser", tag: "users", auth: true, summary: "Read a user", params: []obj{userParam}, status: 200, resp: user},
		{method: "patch", path: "/v1/users/{userId}", id: "patchUser", tag: "users", auth: true, summary: "Change a user (JSON merge patch, RFC 7396)",
			params: []obj{userParam}, bodyRequired: true, status: 200, resp: user,
			body: obj{"content": obj{"application/merge-patch+json": obj{"schema": ref("UserPatch")}, "application/json": obj{"schema": ref("UserPatch")}}}},
		{method: "post", path: "/v1/users/{userId}/otp", id: "createOtp", tag: "users", auth: true, summary: "Send a one-time code bound to an operation",
			params: []obj{userParam}, body: jsonBody(ref("OtpRequest")), bodyRequired: true, status: 201,
			resp: jsonContent(props([]string{"success", "otpId", "expiresAt"}, obj{"success": boolean, "otpId": str, "expiresAt": ts, "summary": str}))},
		{method: "post", path: "/v1/certificates/issue", id: "issueCertificate", tag: "certificates", auth: true, summary: "Issue a certificate to a user (after an issue code)",
			body: jsonBody(ref("IssueRequest")), bodyRequired: true, status: 201, resp: cert},
		{method: "get", path: "/v1/certificates", id: "listCertificates", tag: "certificates", auth: true, summary: "The tenant's certificates",
			params: []obj{queryParam("userId", "only this user's", str)}, status: 200,
			resp: jsonContent(props([]string{"success", "certificates"}, obj{"success": boolean, "certificates": obj{"type": "array", "items": ref("Certificate")}}))},
		{method: "get", path: "/v1/certificates/{idOrSerial}", id: "getCertificate", tag: "certificates", auth: true, summary: "One certificate",
			params: []obj{certParam}, status: 200, resp: cert},
		{method: "post", path: "/v1/certificates/{idOrSerial}/revoke", id: "revokeCertificate", tag: "certificates", auth: true, summary: "Revoke a certificate",
			params: []obj{certParam}, body: jsonBody(ref("RevokeRequest")), status: 200, resp: cert},
		{method: "get", path: "/v1/audit/logs", id: "auditLogs", tag: "audit", auth: true, summary: "The tenant's audit log, newest first, a page at a time",
			params: []obj{
				queryParam("limit", "page size", obj{"type": "string", "pattern": "^[0-9]+$", "description": fmt.Sprintf("1 to %d, default %d", MaxAuditPage, DefaultAuditPage)}),
				queryParam("from", "oldest time, RFC 3339 (inclusive)", str),
				queryParam("to", "newest time, RFC 3339 (inclusive)", str),
				queryParam("requestId", "only this session's", str),
				queryParam("type", "an action (certificate.issue) or a family (certificate)", obj{"type": "string", "pattern": auditTypeRe.String()}),
				queryParam("next", "the cursor `next` of the previous page", str),
			}, status: 200, resp: jsonContent(ref("AuditPage"))},
		{method: "get", path: "/v1/dev/otp/{otpId}", id: "devOtp", tag: "dev", auth: true, dev: true, summary: "Development mode only: read a code from the dev outbox",
			params: []obj{pathParam("otpId", "the code's id")}, status: 200,
			resp: jsonContent(props([]string{"success", "otpId", "code"}, obj{"success": boolean, "otpId": str, "code": str, "purpose": str, "summary": str}))},
		{method: "post", path: "/csc/v2/info", id: "cscInfo", tag: "csc", csc: true, summary: "CSC: service information",
			body: jsonBody(anyObj), status: 200, resp: jsonContent(anyObj)},
		{method: "get", path: "/csc/v2/info", id: "cscInfoGet", tag: "csc", csc: true, summary: "CSC: service information", status: 200, resp: jsonContent(anyObj)},
		{method: "post", path: "/csc/v2/credentials/list", id: "cscList", tag: "csc", csc: true, auth: true, summary: "CSC: the user's credentials",
			body: jsonBody(ref("CscListRequest")), status: 200, resp: jsonContent(props([]string{"credentialIDs"}, obj{"credentialIDs": strs}))},
		{method: "post", path: "/csc/v2/credentials/info", id: "cscCredentialInfo", tag: "csc", csc: true, auth: true, summary: "CSC: one credential",
			body: jsonBody(ref("CscInfoRequest")), bodyRequired: true, status: 200, resp: jsonContent(anyObj)},
		{method: "post", path: "/csc/v2/credentials/sendOTP", id: "cscSendOtp", tag: "csc", csc: true, auth: true, summary: "CSC: send the holder a code",
			body: jsonBody(ref("CscSendOtpRequest")), bodyRequired: true, status: 204},
		{method: "post", path: "/csc/v2/credentials/authorize", id: "cscAuthorize", tag: "csc", csc: true, auth: true, summary: "CSC: authorise digests, get a SAD",
			body: jsonBody(ref("CscAuthorizeRequest")), bodyRequired: true, status: 200,
			resp: jsonContent(props([]string{"SAD"}, obj{"SAD": str, "expiresIn": integer}))},
		{method: "post", path: "/csc/v2/signatures/signHash", id: "cscSignHash", tag: "csc", csc: true, auth: true, summary: "CSC: sign authorised digests",
			body: jsonBody(ref("CscSignHashRequest")), bodyRequired: true, status: 200,
			resp: jsonContent(props([]string{"signatures"}, obj{"signatures": strs}))},
		{method: "post", path: "/csc/v2/signatures/signDoc", id: "cscSignDoc", tag: "csc", csc: true, auth: true, summary: "CSC: sign authorised PDFs (PAdES)",
			body: jsonBody(ref("CscSignDocRequest")), bodyRequired: true, status: 200,
			resp: jsonContent(props([]string{"DocumentWithSignature"}, obj{"DocumentWithSignature": strs}))},
		{method: "get", path: "/v1/link-keys", id: "tenantLinkKeys", tag: "auth", auth: true,
			summary: "The tenant's own link-signing keys (JWKS), to publish at a portal's /.well-known/securesign-keys.json",
			status:  200, resp: jsonContent(ref("JWKS"))},
		{method: "get", path: "/csc/v2/oauth2/authorize", id: "oauthAuthorize", tag: "csc", summary: "OAuth 2.0 authorization request (code + PKCE S256, authorization_details): sends the holder a code naming the documents and shows the consent page",
			params: []obj{
				queryParam("response_type", "code", str), queryParam("client_id", "the public id of one of the tenant's API keys", str),
				queryParam("redirect_uri", "on the tenant's allowed origins", str), queryParam("state", "returned unchanged", str),
				queryParam("code_challenge", "PKCE, base64url SHA-256 of the verifier", str), queryParam("code_challenge_method", "S256", str),
				queryParam("authorization_details", "JSON: [{type: credential, credentialID, documentDigests [{hash, label}], hashAlgorithmOID}]", str),
				queryParam("scope", "credential (with credentialID, numSignatures, hashes, hashAlgorithmOID) instead of authorization_details", str),
				queryParam("credentialID", "with scope=credential", str), queryParam("numSignatures", "with scope=credential", str),
				queryParam("hashes", "with scope=credential: comma-separated base64url digests", str), queryParam("hashAlgorithmOID", "with scope=credential", str),
				queryParam("description", "shown to the user", str),
			}, status: 200, resp: obj{"text/html": obj{"schema": str}}, more: map[int]obj{302: nil,
				400: obj{"text/html": obj{"schema": str}}, 429: obj{"text/html": obj{"schema": str}}}},
		{method: "get", path: "/csc/v2/oauth2/consent/{id}", id: "oauthConsentPage", tag: "csc", summary: "The consent page of an authorization request",
			params: []obj{pathParam("id", "the authorization request")}, status: 200, resp: obj{"text/html": obj{"schema": str}}},
		{method: "post", path: "/csc/v2/oauth2/consent/{id}", id: "oauthConsent", tag: "csc", summary: "The user's answer on the consent page: approve with the code, or decline",
			params: []obj{pathParam("id", "the authorization request")}, bodyRequired: true,
			body: obj{"content": obj{"application/x-www-form-urlencoded": obj{"schema": props([]string{"decision"}, obj{
				"decision": obj{"type": "string", "enum": []any{"approve", "decline"}}, "otp": str})}}},
			status: 302, more: map[int]obj{200: obj{"text/html": obj{"schema": str}}}},
		{method: "post", path: "/csc/v2/oauth2/token", id: "oauthToken", tag: "csc", csc: true, summary: "OAuth 2.0 token request: the authorization code for a credential token bound to the approved digests",
			bodyRequired: true, body: obj{"content": obj{"application/x-www-form-urlencoded": obj{"schema": props([]string{"grant_type", "code", "client_id", "code_verifier"}, obj{
				"grant_type": obj{"const": "authorization_code"}, "code": str, "client_id": str, "redirect_uri": str, "code_verifier": str})}}},
			status: 200, resp: jsonContent(props([]string{"access_token", "token_type", "expires_in"}, obj{
				"access_token": str, "token_type": obj{"const": "Bearer"}, "expires_in": integer, "credentialID": str,
				"authorization_details": obj{"type": "array", "items": anyObj}}))},
		{method: "get", path: "/openapi.json", id: "openapi", tag: "public", summary: "This document", status: 200, resp: jsonContent(anyObj)},
	}
}

func sessionAnswerSchema() obj {
	s := props([]string{"success", "requestId", "sessionId", "deepLink", "expiresAt", "qrUrl", "statusUrl", "watchUrl"}, obj{
		"success": boolean, "requestId": str, "sessionId": str,
		"deepLink":      obj{"type": "string", "maxLength": 2048, "description": "securesign://sign or securesign://register link"},
		"expiresAt":     ts,
		"qrUrl":         obj{"type": "string", "format": "uri", "description": "the QR code image; a capability URL: works without the API key until the session expires (for an <img>)"},
		"statusUrl":     obj{"type": "string", "format": "uri", "description": "the full status, with the API key"},
		"watchUrl":      obj{"type": "string", "format": "uri", "description": "the status only, for the customer's browser: a capability URL (JSON, long polling, server-sent events)"},
		"repaired":      obj{"type": "boolean", "description": "the PDF's damaged cross-reference data was rewritten first"},
		"packageUrl":    obj{"type": "string", "format": "uri", "description": "PDF sessions: the signing package (protocol 1.2 §6), the link's pkgUrl; a capability URL until the session expires or is signed"},
		"packageSha256": obj{"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "PDF sessions: SHA-256 of the package's bytes, the link's pkgSha256"},
	})
	item := props([]string{"requestId", "deepLink", "first", "count"}, obj{
		"success": boolean, "requestId": str, "sessionId": str, "deepLink": obj{"type": "string", "maxLength": 2048},
		"expiresAt": ts, "qrUrl": str, "statusUrl": str, "watchUrl": str,
		"first": obj{"type": "integer", "minimum": 0, "description": "index in the request of the link's first digest"},
		"count": obj{"type": "integer", "minimum": 1, "maximum": 50},
	})
	s["properties"].(obj)["sessions"] = obj{"type": "array", "minItems": 2, "items": item,
		"description": "present when the digests did not fit one link: every link in order; the top-level members are the first's"}
	return s
}

func components() obj {
	schemas := obj{
		"Error": props([]string{"success", "error", "message", "traceId"}, obj{
			"success": obj{"const": false}, "error": obj{"type": "string", "pattern": "^SS_[A-Z_]+$"}, "message": str,
			"traceId":   obj{"type": "string", "description": "the request's X-Request-Id (the caller's, or one the gateway made)"},
			"triesLeft": obj{"type": "integer", "minimum": 0, "description": "SS_OTP_INVALID, SS_OTP_LOCKED: wrong codes still allowed before the code locks"},
		}),
		"CscError": props([]string{"error", "traceId"}, obj{"error": str, "error_description": str,
			"traceId": obj{"type": "string", "description": "the request's X-Request-Id"}}),
		"SessionAnswer": sessionAnswerSchema(),
		"ServerSignAnswer": props([]string{"success", "signaturesBase64"}, obj{"success": boolean, "signatureBase64": str, "signaturesBase64": strs,
			"signAlgo": str, "certificateBase64": str}),
		"ServerSignPdfAnswer": props([]string{"success"}, obj{"success": boolean, "signedPdfBase64": str, "signedPdfsBase64": strs}),
		"SessionStatus": props([]string{"success", "requestId", "status", "kind", "expiresAt"}, obj{
			"success": obj{"type": "boolean", "description": "true only when status is signed"}, "requestId": str, "expiresAt": ts,
			"kind":   obj{"type": "string", "enum": []any{"hash", "batch", "pdf", "register"}},
			"status": obj{"type": "string", "enum": []any{"pending", "failed", "signed", "expired"}},
			"error":  str, "message": str, "signaturesBase64": strs, "certificateBase64": str, "chainBase64": obj{"type": []any{"array", "null"}, "items": str},
			"completedAt": ts, "certificateId": str, "signedPdfBase64": str, "signedPdfsBase64": strs,
		}),
		"SigningPackage": props([]string{"version", "requestId", "hashAlgo", "documents"}, obj{
			"version": obj{"const": "1.2"}, "requestId": str, "hashAlgo": obj{"type": "string", "enum": []any{"SHA256", "SHA384", "SHA512"}},
			"documents": obj{"type": "array", "minItems": 1, "maxItems": 50, "items": props([]string{"name", "signedAttrs", "byteRange"}, obj{
				"name": obj{"type": "string", "maxLength": 200}, "pdf": str,
				"pdfUrl": obj{"type": "string", "format": "uri", "maxLength": 512}, "pdfSha256": obj{"type": "string", "pattern": "^[0-9a-f]{64}$"},
				"signedAttrs": obj{"type": "string", "description": "base64 of the DER signed attributes; their hash is the digest to sign"},
				"byteRange":   obj{"type": "array", "items": integer, "minItems": 4, "maxItems": 4},
			})},
		}),
		"WatchStatus": props([]string{"success", "requestId", "status", "expiresAt"}, obj{
			"success": obj{"type": "boolean", "description": "true only when status is signed"}, "requestId": str, "expiresAt": ts,
			"status": obj{"type": "string", "enum": []any{"pending", "failed", "signed", "expired"}},
			"error":  obj{"type": "string", "description": "the SS_* code a failure reported"},
		}),
		"CallbackJSON":   schemaOf(reflect.TypeFor[callbackJSONReq]()),
		"CallbackAnswer": props([]string{"success", "requestId", "status", "outcome"}, obj{"success": obj{"type": "boolean", "description": "true only when status is signed"}, "requestId": str, "status": str, "outcome": str}),
		"Certificate": props([]string{"success", "certificateId", "serialNumber"}, obj{
			"success": boolean, "certificateId": str, "userId": str, "serialNumber": str, "sha256": str, "certificatePem": str, "chainPem": str,
			"subject": str, "issuer": str, "notBefore": ts, "notAfter": ts, "keyLocation": str, "source": str,
			"status": obj{"type": "string", "enum": []any{"active", "revoked", "expired"}}, "revokedAt": ts,
		}),
		"User":                  answerSchemaOf(reflect.TypeFor[userBody]()),
		"AuditPage":             answerSchemaOf(reflect.TypeFor[auditPageBody]()),
		"ValidationReport":      answerSchemaOf(reflect.TypeFor[pdf.Report]()),
		"VerifyHashAnswer":      anyObj,
		"CertificateValidation": anyObj,
		"JWKS":                  props([]string{"keys"}, obj{"keys": obj{"type": "array", "items": anyObj}}),
	}
	for name, v := range map[string]any{
		"ValidateRequest": validateReq{}, "SignHashRequest": signHashReq{}, "SignPdfRequest": signPDFReq{}, "SignBatchRequest": signBatchReq{},
		"RegisterRequest": registerReq{}, "VerifyPdfRequest": verifyPDFReq{}, "VerifyHashRequest": verifyHashReq{},
		"ValidateCertificateRequest": validateCertReq{}, "UserInput": userInput{}, "UserPatch": userPatch{}, "OtpRequest": createOTPReq{},
		"IssueRequest": issueReq{}, "RevokeRequest": revokeReq{}, "CscListRequest": cscListReq{}, "CscInfoRequest": cscInfoReq{},
		"CscSendOtpRequest": cscSendOTPReq{}, "CscAuthorizeRequest": cscAuthorizeReq{}, "CscSignHashRequest": cscSignHashReq{},
		"CscSignDocRequest": cscSignDocReq{},
	} {
		schemas[name] = schemaOf(reflect.TypeOf(v))
	}
	return obj{
		"responses": obj{
			"Error": obj{"description": "An error: the status says its class, `error` its SS_* code (docs/protocol.md §3.1)",
				"content": jsonContent(ref("Error"))},
			"CscError": obj{"description": "A CSC error (CSC API v2 §10)", "content": jsonContent(ref("CscError"))},
		},
		"schemas": schemas,
		"securitySchemes": obj{
			"apiKey": obj{"type": "http", "scheme": "bearer", "bearerFormat": "ss_live_… / ss_test_… API key",
				"description": "The tenant's secret API key as Authorization: Bearer. Keep it on the portal's server."},
			"apiKeyHeader": obj{"type": "apiKey", "in": "header", "name": "X-SecureSign-Api-Key", "description": "The API key in its own header."},
			"accessToken":  obj{"type": "http", "scheme": "bearer", "bearerFormat": "access token from POST /v1/auth/token"},
		},
	}
}

// openAPIDocument builds the document.
func openAPIDocument() obj {
	paths := obj{}
	for _, o := range operations() {
		item, _ := paths[o.path].(obj)
		if item == nil {
			item = obj{}
			paths[o.path] = item
		}
		responses := obj{}
		add := func(status int, content obj) {
			r := obj{"description": httpStatusText(status)}
			if content != nil {
				r["content"] = content
			}
			responses[strconv.Itoa(status)] = r
		}
		add(o.status, o.resp)
		for st, c := range o.more {
			add(st, c)
		}
		errName := "Error"
		if o.csc {
			errName = "CscError"
		}
		for _, k := range []string{"4XX", "5XX"} {
			responses[k] = obj{"$ref": "#/components/responses/" + errName}
		}
		x := obj{"operationId": o.id, "summary": o.summary, "tags": []string{o.tag}, "responses": responses}
		if o.auth {
			x["security"] = []any{obj{"apiKey": []any{}}, obj{"apiKeyHeader": []any{}}, obj{"accessToken": []any{}}}
		} else {
			x["security"] = []any{}
		}
		if o.dev {
			x["x-dev-only"] = true
		}
		params := slices.Clone(o.params)
		if isIdempotent(o) {
			params = append(params, obj{"name": "Idempotency-Key", "in": "header", "schema": obj{"type": "string", "maxLength": 200},
				"description": "the same key with the same body answers the first answer again"})
		}
		if len(params) > 0 {
			x["parameters"] = params
		}
		if o.body != nil {
			b := cloneObj(o.body)
			b["required"] = o.bodyRequired
			x["requestBody"] = b
		}
		item[o.method] = x
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "SecureSign gateway API",
			"version":     "1.1",
			"description": "The gateway HTTP API of protocol 1.1 (docs/protocol.md §3). Generated by adapters/gateway/openapi_gen_test.go from the request types; do not edit by hand.",
			"license":     obj{"name": "Apache-2.0", "identifier": "Apache-2.0"},
		},
		"servers": []any{obj{"url": "/", "description": "this gateway"}},
		"tags": []any{
			obj{"name": "sessions", "description": "Sign and register sessions and their deep links"},
			obj{"name": "users", "description": "Users and their one-time codes"},
			obj{"name": "certificates", "description": "Certificates the gateway issues or registers"},
			obj{"name": "validation", "description": "Validation of PDFs, signatures and certificates"},
			obj{"name": "audit", "description": "The tenant's audit log"},
			obj{"name": "auth", "description": "Credentials"},
			obj{"name": "callback", "description": "Where signing apps deliver results"},
			obj{"name": "public", "description": "Public PKI services and documents"},
			obj{"name": "csc", "description": "Cloud Signature Consortium API v2"},
			obj{"name": "operations", "description": "Health and metrics"},
			obj{"name": "dev", "description": "Development mode only"},
		},
		"security":   []any{obj{"apiKey": []any{}}, obj{"apiKeyHeader": []any{}}, obj{"accessToken": []any{}}},
		"paths":      paths,
		"components": components(),
	}
}

func cloneObj(m obj) obj {
	out := obj{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// isIdempotent: the calls that create or sign take Idempotency-Key.
func isIdempotent(o op) bool {
	return o.method == "post" && (strings.HasPrefix(o.path, "/v1/sign/") || o.path == "/v1/auth/session" || o.path == "/v1/register" ||
		o.path == "/v1/users" || o.path == "/v1/certificates/issue")
}

func httpStatusText(n int) string {
	switch n {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 303:
		return "See Other: to the session's returnUrl"
	case 503:
		return "Service Unavailable"
	}
	return strconv.Itoa(n)
}

// marshalOpenAPI writes the document as the file holds it.
func marshalOpenAPI(doc obj) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestOpenAPIGolden(t *testing.T) {
	got := marshalOpenAPI(openAPIDocument())
	if *updateOpenAPI {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, openAPIJSON) {
		t.Fatal("openapi.json differs from the generator; run: go test ./adapters/gateway -run TestOpenAPIGolden -update-openapi")
	}
}
