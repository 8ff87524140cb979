# SecureSign for Go. `make test` is the one test command (README, .ci/run).
# It installs nothing: `make deps` says (and, as root, does) the apt install.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 5s
# Packages whose code runs concurrently; they are also tested under -race.
RACE_PKGS ?= ./signer/... ./callback/... ./deeplink/... ./pki/... ./adapters/gateway/...

DEB_PACKAGES = softhsm2 opensc p11-kit poppler-utils libnss3-tools qpdf mupdf-tools openssl ghostscript chromium fonts-lohit-deva postgresql time curl nodejs

.PHONY: run test check-tools vet staticcheck unit race fuzz cross bench deps build lint-openapi

run:
	$(GO) run ./adapters/cmd/securesign gateway --dev

build:
	$(GO) build -o bin/securesign ./adapters/cmd/securesign

test: check-tools vet staticcheck lint-openapi cross unit race fuzz

check-tools:
	@bash .ci/check-tools.sh

vet:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "$$out"; echo "gofmt: the files above are not formatted (gofmt -w FILE)"; exit 1; fi
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -count=1 -timeout 25m $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)

# Builds and vets (tests included) without cgo for Linux, Windows and macOS:
# the Desktop Software ships on all three, and PKCS#11 must fail cleanly
# where cgo is off.
cross:
	bash .ci/cross-build.sh

# Runs every fuzz target briefly, from its committed seed corpus in testdata/fuzz.
fuzz:
	@bash .ci/fuzz.sh $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Lints the gateway's OpenAPI document (adapters/gateway/openapi.json, the
# golden of GET /openapi.json) with Redocly CLI, pinned with its whole tree
# in .ci/redocly/package-lock.json and installed once into ~/.cache (the
# npm registry is needed the first time); rules in .ci/redocly/redocly.yaml,
# warnings fail too.
lint-openapi:
	@bash .ci/lint-openapi.sh

deps:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES) && \
		{ command -v npm >/dev/null || apt-get install -y -q --no-install-recommends npm; }; \
	else echo "run as root: apt-get install $(DEB_PACKAGES)"; fi
