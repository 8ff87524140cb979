#!/usr/bin/env python3
"""Independent checker for SecureSign signing packages (protocol 1.2, docs/protocol.md section 6).

Standard library only, written from the protocol text, not from the Go code.

    python3 check.py vectors.json

Checks every vector of the manifest: a vector without "check" must pass every check, a vector with
"check" must fail, and the first failing check must be that one. Exit status 0 when all agree.
"""
import base64
import hashlib
import json
import os
import re
import sys

MAX_DOCUMENTS = 50
MAX_PACKAGE_SIZE = 64 << 20
MAX_PDF_SIZE = 32 << 20
MAX_SIGNED_ATTRS = 16 << 10
HASHES = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}
OID_MESSAGE_DIGEST = bytes.fromhex("2a864886f70d010904")  # 1.2.840.113549.1.9.4


class Fail(Exception):
    def __init__(self, check, why):
        super().__init__(f"{check}: {why}")
        self.check = check


def der_read(buf, pos):
    """Returns (tag, content_start, content_end) of the DER TLV at pos (definite lengths only)."""
    if pos + 2 > len(buf):
        raise ValueError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag number")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > len(buf):
            raise ValueError("bad length")
        n = int.from_bytes(buf[pos:pos + k], "big")
        if n < 128 or buf[pos] == 0:
            raise ValueError("length not minimal (not DER)")
        pos += k
    if pos + n > len(buf):
        raise ValueError("truncated")
    return tag, pos, pos + n


def message_digest(attrs):
    tag, s, e = der_read(attrs, 0)
    if tag != 0x31 or e != len(attrs):
        raise ValueError("not one DER SET")
    found = []
    pos = s
    while pos < e:
        tag, as_, ae = der_read(attrs, pos)
        if tag != 0x30:
            raise ValueError("attribute is not a SEQUENCE")
        tag, os_, oe = der_read(attrs, as_)
        if tag != 0x06:
            raise ValueError("attribute type is not an OID")
        if attrs[os_:oe] == OID_MESSAGE_DIGEST:
            tag, vs, ve = der_read(attrs, oe)
            if tag != 0x31 or ve != ae:
                raise ValueError("messageDigest values are not a SET")
            tag, ds, de = der_read(attrs, vs)
            if tag != 0x04 or de != ve:
                raise ValueError("messageDigest is not one OCTET STRING")
            found.append(attrs[ds:de])
        pos = ae
    if len(found) != 1:
        raise ValueError(f"{len(found)} messageDigest attributes")
    return found[0]


def unique_members(pairs):
    """Refuses members repeated or differing only in case: readers disagree on them."""
    seen = set()
    for k, _ in pairs:
        if k.lower() in seen:
            raise ValueError(f"member {k!r} twice")
        seen.add(k.lower())
    return dict(pairs)


def check_byte_range(br, pdf):
    size = len(pdf)
    if len(br) != 4 or any(not isinstance(x, int) for x in br):
        raise Fail("byte-range", "not four integers")
    z, a, b, c = br
    if z != 0 or a <= 0 or b < a + 2 or c < 0 or b > size:
        raise Fail("byte-range", f"{br} does not fit {size} bytes")
    if b + c != size:
        raise Fail("byte-range", f"{size - b - c} bytes uncovered at the end")
    gap = pdf[a:b]
    if not re.fullmatch(rb"<0*>", gap):
        raise Fail("byte-range", "the gap is not an empty hex string")
    if not pdf[:a].rstrip(b" \t\r\n\f\0").endswith(b"/Contents"):
        raise Fail("byte-range", "the gap is not the value of /Contents")
    before = pdf[max(0, a - 4096):a]
    after = pdf[b:b + 4096]
    stated = []
    for win in (before, after):
        i = win.rfind(b"/ByteRange")
        if i >= 0:
            stated.append(win[i + len(b"/ByteRange"):])
    if len(stated) != 1:
        raise Fail("byte-range", "no single /ByteRange next to /Contents")
    m = re.match(rb"[ \t\r\n\f\0]*\[[ \t\r\n\f\0]*(\d+)[ \t\r\n\f\0]+(\d+)[ \t\r\n\f\0]+(\d+)[ \t\r\n\f\0]+(\d+)[ \t\r\n\f\0]*\]", stated[0])
    if not m or [int(x) for x in m.groups()] != br:
        raise Fail("byte-range", "the PDF's /ByteRange differs")


def check(raw, v):
    if hashlib.sha256(raw).hexdigest() != v["pkgSha256"]:
        raise Fail("package-hash", "SHA-256 differs from pkgSha256")
    if len(raw) > MAX_PACKAGE_SIZE:
        raise Fail("format", "too large")
    try:
        p = json.loads(raw, object_pairs_hook=unique_members)
    except ValueError as e:
        raise Fail("format", str(e))
    docs = p.get("documents")
    if p.get("version") != "1.2" or p.get("hashAlgo") not in HASHES or not isinstance(docs, list):
        raise Fail("format", "version, hashAlgo or documents")
    if not 1 <= len(docs) <= MAX_DOCUMENTS:
        raise Fail("format", f"{len(docs)} documents")
    if p.get("requestId") != v["requestId"] or p["hashAlgo"] != v["hashAlgo"]:
        raise Fail("request", "requestId or hashAlgo differ from the link")
    hashes = [base64.b64decode(h) for h in (v.get("hashes") or [])]
    if hashes and len(hashes) != len(docs):
        raise Fail("request", "document count differs from the link's digests")
    H = HASHES[p["hashAlgo"]]
    for i, d in enumerate(docs):
        if "pdf" not in d:
            raise Fail("fetch", "PDF by URL: this checker does not fetch")
        pdf = base64.b64decode(d["pdf"])
        attrs = base64.b64decode(d["signedAttrs"])
        if len(pdf) > MAX_PDF_SIZE or not 0 < len(attrs) <= MAX_SIGNED_ATTRS:
            raise Fail("format", "size limits")
        try:
            md = message_digest(attrs)
        except ValueError as e:
            raise Fail("signed-attrs", str(e))
        br = d["byteRange"]
        check_byte_range(br, pdf)
        if H(pdf[:br[1]] + pdf[br[2]:br[2] + br[3]]).digest() != md:
            raise Fail("message-digest", f"document {i + 1}")
        if hashes and H(attrs).digest() != hashes[i]:
            raise Fail("digest", f"document {i + 1}")


def main():
    path = sys.argv[1]
    with open(path) as f:
        vectors = json.load(f)["vectors"]
    bad = 0
    for v in vectors:
        with open(os.path.join(os.path.dirname(path), v["package"]), "rb") as f:
            raw = f.read()
        try:
            check(raw, v)
            got = ""
        except Fail as e:
            got = e.check
            why = str(e)
        want = v.get("check", "")
        ok = got == want
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {v['name']}: " + ("valid" if not got else f"refused by {why}") +
              ("" if ok else f" (want {want or 'valid'})"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
