#!/usr/bin/env python3
"""Independent check of vectors.json (SecureSign deep-link test vectors).

Recomputes, with the Python standard library only, each valid vector's
canonical form from its link and each register digest; with the optional
`cryptography` package it also verifies the Ed25519 signatures. It shares no
code with the Go implementation. Usage: check_vectors.py vectors.json
Exit status 0 when everything matches.
"""
import base64
import hashlib
import json
import sys
from urllib.parse import quote, unquote_to_bytes


def canonical(link: str) -> str:
    scheme_action, query = link.split("?", 1)
    action = scheme_action.split("://", 1)[1].rstrip("/")
    params = []
    for seg in query.split("&"):
        name, value = seg.split("=", 1)
        # Decode once; "+" stays a plus (RFC 3986, not form encoding).
        n, v = unquote_to_bytes(name), unquote_to_bytes(value)
        if n != b"sig":
            params.append((n, v))
    params.sort()  # by name, then value, as bytes
    enc = lambda b: quote(b, safe="-._~")  # upper-case %XX, unreserved literal
    return "securesign://" + action + "?" + "&".join(enc(n) + "=" + enc(v) for n, v in params)


def b64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        vf = json.load(f)
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        keys = {k["kid"]: Ed25519PublicKey.from_public_bytes(b64url(k["x"])) for k in vf["jwks"]["keys"]}
    except ImportError:
        keys = None
        print("note: python cryptography not installed, signatures not checked")
    bad = 0
    for v in vf["valid"]:
        got = canonical(v["link"])
        if got != v["canonical"]:
            print(f"{v['name']}: canonical\n got  {got}\n want {v['canonical']}")
            bad += 1
        if keys is not None and v["signed"]:
            try:
                keys[v["kid"]].verify(b64url(v["signature"]), got.encode())
            except Exception as e:  # InvalidSignature or KeyError
                print(f"{v['name']}: signature does not verify: {e!r}")
                bad += 1
    for r in vf["register"]:
        text = "securesign-register/v1\n" + r["origin"] + "\n" + r["requestId"] + "\n" + r["challenge"]
        if hashlib.sha256(text.encode()).hexdigest() != r["digest"]:
            print(f"register digest for {r['requestId']} differs")
            bad += 1
    print(f"{len(vf['valid'])} valid vectors, {len(vf['register'])} register digests, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
