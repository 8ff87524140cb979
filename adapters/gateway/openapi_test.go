package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The gateway's HTTP tests check every request and answer they exchange
// through testGW against openapi.json (kin-openapi, which validates 3.1
// documents with its JSON Schema 2020-12 validator): an answer must match
// the document's for its status (errors: the Error schema), and a request
// the gateway accepted (2xx) must match the request the document
// describes. A refused request need not: tests send bad input on purpose.

var openAPIOnce = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIJSON)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid document: %w", err)
	}
	// The document names no host: match any.
	doc.Servers = nil
	for _, ct := range []string{"application/pdf", "image/png", "application/pkix-crl", "application/ocsp-request",
		"application/ocsp-response", "application/timestamp-query", "application/timestamp-reply", "application/x-pem-file", "text/html",
		"text/javascript", "text/css"} {
		if openapi3filter.RegisteredBodyDecoder(ct) == nil {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	}
	return legacy.NewRouter(doc)
})

// checkOpenAPI validates one exchange; reqBody and resBody are the bytes
// sent and received.
func checkOpenAPI(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	reqErr, resErr := validateExchange(req, reqBody, res.StatusCode, res.Header, resBody)
	if reqErr != nil {
		t.Errorf("openapi: %s %s was accepted (%d) but does not match the document: %v", req.Method, req.URL.Path, res.StatusCode, reqErr)
	}
	if resErr != nil {
		t.Errorf("openapi: the answer %d to %s %s does not match the document: %v\n%.600s", res.StatusCode, req.Method, req.URL.Path, resErr, resBody)
	}
}

// validateExchange checks the request (only when status is 2xx) and the
// answer against the document. Paths the API does not have (tests of
// 404s) pass.
func validateExchange(req *http.Request, reqBody []byte, status int, header http.Header, resBody []byte) (reqErr, resErr error) {
	router, err := openAPIOnce()
	if err != nil {
		return err, nil
	}
	r := req.Clone(context.Background())
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(reqBody)), int64(len(reqBody))
	route, params, err := router.FindRoute(r)
	if err != nil {
		return nil, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if status/100 == 2 {
		reqErr = openapi3filter.ValidateRequest(context.Background(), in)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(resBody)), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	return reqErr, openapi3filter.ValidateResponse(context.Background(), out)
}

// TestOpenAPIChecker: the check used by every HTTP test does refuse what
// the document does not describe.
func TestOpenAPIChecker(t *testing.T) {
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	post := func(path, body string) *http.Request {
		r, _ := http.NewRequest("POST", "http://127.0.0.1:1"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer ss_test_x")
		return r
	}
	okAnswer := `{"success":true,"requestId":"r","sessionId":"r","deepLink":"securesign://sign?x","expiresAt":"2026-01-01T00:00:00Z","qrUrl":"http://a/q","statusUrl":"http://a/s","watchUrl":"http://a/w"}`
	tests := []struct {
		name             string
		req              *http.Request
		reqBody          string
		status           int
		answer           string
		wantReq, wantRes bool
	}{
		{"valid", post("/v1/sign/hash", ""), `{"hashBase64":"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}`, 201, okAnswer, false, false},
		{"unknown member accepted", post("/v1/sign/hash", ""), `{"hashBase64":"AAAA","colour":"red"}`, 201, okAnswer, true, false},
		{"wrong case accepted", post("/v1/sign/hash", ""), `{"HashBase64":"AAAA"}`, 201, okAnswer, true, false},
		{"too many hashes accepted", post("/v1/sign/hash", ""), `{"hashes":[` + strings.Repeat(`"AAAA",`, 1000) + `"AAAA"]}`, 201, okAnswer, true, false},
		{"bad enum accepted", post("/v1/sign/hash", ""), `{"hashBase64":"AAAA","hashAlgo":"MD5"}`, 201, okAnswer, true, false},
		{"refused request is not checked", post("/v1/sign/hash", ""), `{"colour":"red"}`, 400, `{"success":false,"error":"SS_BAD_REQUEST","message":"m","traceId":"t"}`, false, false},
		{"answer without deepLink", post("/v1/sign/hash", ""), `{"hashBase64":"AAAA"}`, 201, `{"success":true,"requestId":"r"}`, false, true},
		{"error without code", post("/v1/sign/hash", ""), `{}`, 400, `{"success":false,"message":"m"}`, false, true},
		{"error code not SS_", post("/v1/sign/hash", ""), `{}`, 400, `{"success":false,"error":"bad","message":"m","traceId":"t"}`, false, true},
		{"undocumented status", post("/v1/register", ""), `{}`, 200, okAnswer, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reqErr, resErr := validateExchange(tc.req, []byte(tc.reqBody), tc.status, jsonHdr, []byte(tc.answer))
			if (reqErr != nil) != tc.wantReq || (resErr != nil) != tc.wantRes {
				t.Errorf("request error %v (want %v), answer error %v (want %v)", reqErr, tc.wantReq, resErr, tc.wantRes)
			}
		})
	}
}

// TestOpenAPIRoutes: every route of routes() is in the document and every
// operation of the document is a route.
func TestOpenAPIRoutes(t *testing.T) {
	g := newTestGW(t, nil)
	echoParam := regexp.MustCompile(`:[A-Za-z]+`)
	docParam := regexp.MustCompile(`\{[A-Za-z]+\}`)
	var fromEcho []string
	for _, r := range g.srv.echo.Routes() {
		// echo's own: a group's catch-all for its middleware, and the
		// 405 of a path whose other methods exist.
		if strings.Contains(r.Name, "echo") || r.Method == "echo_route_any" {
			continue
		}
		fromEcho = append(fromEcho, r.Method+" "+echoParam.ReplaceAllString(r.Path, "{}"))
	}
	var fromDoc []string
	for _, o := range operations() {
		fromDoc = append(fromDoc, strings.ToUpper(o.method)+" "+docParam.ReplaceAllString(o.path, "{}"))
	}
	// /pki/* is one echo route for any method over the CA's handler:
	// the document's /pki operations are what that handler serves.
	var pkiDoc int
	fromDoc = slices.DeleteFunc(fromDoc, func(s string) bool {
		_, p, _ := strings.Cut(s, " ")
		if strings.HasPrefix(p, "/pki/") {
			pkiDoc++
			return true
		}
		return false
	})
	var pkiEcho int
	fromEcho = slices.DeleteFunc(fromEcho, func(s string) bool {
		if strings.HasSuffix(s, " /pki/*") {
			pkiEcho++
			return true
		}
		return false
	})
	if pkiEcho == 0 || pkiDoc == 0 {
		t.Errorf("/pki: %d echo routes, %d documented operations", pkiEcho, pkiDoc)
	}
	if len(fromEcho) < 35 {
		t.Fatalf("only %d echo routes: %v", len(fromEcho), fromEcho)
	}
	slices.Sort(fromEcho)
	slices.Sort(fromDoc)
	fromEcho, fromDoc = slices.Compact(fromEcho), slices.Compact(fromDoc)
	for _, r := range fromEcho {
		if !slices.Contains(fromDoc, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, r := range fromDoc {
		if !slices.Contains(fromEcho, r) {
			t.Errorf("openapi.json has %s, which routes() does not register", r)
		}
	}
	// Served, unauthenticated, equal to the file.
	res, raw := g.raw("GET", "/openapi.json", "", nil)
	if res.StatusCode != 200 || !bytes.Equal(raw, openAPIJSON) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
