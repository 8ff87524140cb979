#!/usr/bin/env bash
# Cross-builds the module without cgo for every OS the Desktop Software
# ships on, and vets it there, so code that only compiles on Linux or only
# with cgo is caught on a Linux CI machine. Release binaries are still built
# natively with cgo per OS (PKCS#11 tokens need it); a cgo-less build must
# compile and report signer.ErrPKCS11Unavailable instead.
#
# Usage: .ci/cross-build.sh [packages...]   (default ./...)
#   CROSS_VET=0      skip go vet (about as slow as the build)
#   CROSS_TARGETS    override "linux/amd64 windows/amd64 darwin/amd64 darwin/arm64"
set -uo pipefail
cd "$(dirname "$0")/.."
pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)
targets=${CROSS_TARGETS:-"linux/amd64 windows/amd64 darwin/amd64 darwin/arm64"}
failed=()
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  echo "cross-build: CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build ${pkgs[*]}"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build "${pkgs[@]}" || failed+=("build $t")
  if [ "${CROSS_VET:-1}" != 0 ]; then
    echo "cross-build: CGO_ENABLED=0 GOOS=$os GOARCH=$arch go vet ${pkgs[*]}"
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch go vet "${pkgs[@]}" || failed+=("vet $t")
  fi
done
# The signing-only CLI (no gateway, no Desktop Software) must build and pass
# the CLI tests that remain in it.
echo "cross-build: go vet/test -tags signonly ./adapters/cmd/securesign"
go vet -tags signonly ./adapters/cmd/securesign && go test -count=1 -tags signonly ./adapters/cmd/securesign || failed+=("signonly CLI")
# On this machine the cgo-less build can run: PKCS#11 must say why it is off.
echo "cross-build: CGO_ENABLED=0 go test -run TestNoCgo ./signer ./pki"
CGO_ENABLED=0 go test -count=1 -run TestNoCgo ./signer ./pki || failed+=("test signer, pki without cgo")
if [ ${#failed[@]} -gt 0 ]; then
  printf 'cross-build: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "cross-build: ok ($targets)"
