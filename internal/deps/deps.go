//go:build tools

// Package deps pins, during the first build-out, the dependencies the
// packages are about to use, so that go mod tidy keeps them. Delete once
// each is imported for real.
package deps

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/digitorus/pdfsign/sign"
	_ "github.com/digitorus/pkcs7"
	_ "github.com/digitorus/timestamp"
	_ "github.com/go-playground/validator/v10"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/labstack/echo/v4"
	_ "github.com/miekg/pkcs11"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "golang.org/x/crypto/ocsp"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
	_ "rsc.io/qr"
	_ "software.sslmate.com/src/go-pkcs12"
)
