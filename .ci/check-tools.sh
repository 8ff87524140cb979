#!/usr/bin/env bash
# Says exactly which tool the tests need is missing and how to install it.
# Under CI=true a missing tool is an error; otherwise the tests that need it
# skip with the same hint.
set -u
missing=()
need() { command -v "$1" >/dev/null 2>&1 || [ -e "$1" ] || missing+=("$1 (apt-get install $2)"); }
need /usr/lib/softhsm/libsofthsm2.so softhsm2
need softhsm2-util softhsm2
need pkcs11-tool opensc
need pdfsig poppler-utils
need pdftoppm poppler-utils # the desktop page draws a package's pages
need pdfinfo poppler-utils
need certutil libnss3-tools
need qpdf qpdf
need mutool mupdf-tools
need openssl openssl
need gs ghostscript
need node nodejs # make lint-openapi (Redocly CLI)
need npm npm # NodeSource's nodejs includes it
need curl curl # the README's "Try it", run by adapters/gateway's TestTryItAsDocumented
need chromium chromium
need /usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf fonts-lohit-deva # Hindi on the pages' screenshots
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=("PostgreSQL server (apt-get install postgresql)")
[ -n "${SECURESIGN_TEST_POSTGRES_DSN:-}" ] || missing+=('SECURESIGN_TEST_POSTGRES_DSN (start one: eval "$(bash .ci/postgres.sh start)")')
if [ ${#missing[@]} -eq 0 ]; then echo "check-tools: all test tools present"; exit 0; fi
echo "check-tools: missing, tests that need them will skip:" >&2
printf '  - %s\n' "${missing[@]}" >&2
echo "  (all at once, as root: make deps)" >&2
if [ "${CI:-}" = true ]; then echo "check-tools: CI=true: nothing may skip" >&2; exit 1; fi
exit 0
