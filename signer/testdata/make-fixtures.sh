#!/usr/bin/env bash
# Regenerates the key-file fixtures in this directory (committed; tests do
# not run this). Needs openssl 3 and /work/shared/tools/make-pki.sh or any
# script making the same files. Password of every encrypted file: "test".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PKI=$(mktemp -d); trap 'rm -rf "$PKI"' EXIT
"${MAKE_PKI:-/work/shared/tools/make-pki.sh}" "$PKI" >/dev/null
cd "$PKI"
cp root.pem inter.pem user-rsa.pem user-ec.pem user-rsa-chain.pem user-ec-chain.pem "$HERE/"
cp user-rsa.pk8.pem "$HERE/user-rsa.pk8.pem"; cp user-ec.pk8.pem "$HERE/user-ec.pk8.pem"
openssl rsa -in user-rsa.key -traditional -out "$HERE/user-rsa.pkcs1.pem" 2>/dev/null
openssl ec -in user-ec.key -out "$HERE/user-ec.sec1.pem" 2>/dev/null
openssl rsa -in user-rsa.key -traditional -aes128 -passout pass:test -out "$HERE/user-rsa.pkcs1-enc.pem" 2>/dev/null
for k in rsa ec; do
  cp user-$k.p12 "$HERE/user-$k-aes.p12"        # PBES2/PBKDF2/AES-256-CBC, HMAC-SHA256
  cp user-$k-legacy.p12 "$HERE/user-$k-legacy.p12" # openssl -legacy: 3DES key, RC2-40 certs, SHA-1 MAC
  openssl pkcs12 -export -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
    -inkey user-$k.key -in user-$k.pem -certfile inter.pem -passout pass:test -out "$HERE/user-$k-3des.p12"
done
echo "fixtures written to $HERE"
