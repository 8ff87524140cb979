package pki

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves the CA's public endpoints, relative to where it is mounted
// (use http.StripPrefix to mount it under a path):
//
//	/ocsp, /ocsp/{base64}  OCSP responder (RFC 6960; POST and GET)
//	/tsa                   time-stamping authority (RFC 3161; POST)
//	/crl                   current CRL, DER (application/pkix-crl)
//	/crl/root              root-signed CRL about the issuing CA (RootCRL;
//	                       404 without Config.RootKey or Config.RootCRL)
//	/ca.pem                issuing CA chain up to and including the root, PEM
//	/ca.crt                issuing CA certificate, DER (AIA caIssuers)
//	/root.crt              root CA certificate, DER (the issuing CA's caIssuers)
//
// A router in front must not clean OCSP GET paths (base64 may contain "//").
func (ca *CA) Handler() http.Handler {
	mux := http.NewServeMux()
	o := ca.OCSPResponder()
	mux.Handle("/ocsp", o)
	mux.Handle("/ocsp/", o)
	mux.Handle("/tsa", ca.TSA())
	mux.HandleFunc("GET /crl", func(w http.ResponseWriter, r *http.Request) {
		der, err := ca.CRL(r.Context())
		if err != nil {
			http.Error(w, "CRL unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(ca.cfg.CRLValidity/10/time.Second)))
		w.Write(der)
	})
	mux.HandleFunc("GET "+RootCRLPath, func(w http.ResponseWriter, r *http.Request) {
		der, err := ca.RootCRL(r.Context())
		if errors.Is(err, ErrNoRootCRL) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "root CRL unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(ca.cfg.CRLValidity/10/time.Second)))
		w.Write(der)
	})
	mux.HandleFunc("GET "+RootCertPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(ca.Root().Raw)
	})
	mux.HandleFunc("GET /ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(ca.ChainPEM())
	})
	mux.HandleFunc("GET /ca.crt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(ca.cfg.Cert.Raw)
	})
	// OCSP GET paths carry base64, which may hold "//": ServeMux would
	// "clean" and redirect them, so they bypass it.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ocsp/") {
			o.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
