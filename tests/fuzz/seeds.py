#!/usr/bin/env python3
"""Write the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME/).

Real objects come from the hotspare binary (points, chunks, descriptions and
key files of plain and encrypted stores); text formats are written out here.
The seeds are kept in the tree; run this again after a format change:

    python3 tests/fuzz/seeds.py build/tools/hotspare tests/fuzz/corpus

(It needs python3-cryptography for the wrapped key file.)

Files named regress-* are inputs that once crashed a harness, found-* ones
the fuzzer's finds worth keeping: this script never removes either.
"""
import base64
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def run(*args, **kw):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, **kw)


def put(corpus, name, data):
    os.makedirs(corpus, exist_ok=True)
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def image(path, mib, seed):
    """A sparse image with some data and some repetition."""
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        f.seek(0)
        f.write(hashlib.sha256(seed).digest() * 4096)  # 128 KiB of one pattern
        f.seek(200 << 10)
        f.write(os.urandom(100 << 10))
        f.seek(320 << 10)  # text: a chunk that compresses to a few KiB
        f.write("".join("%s log line %d: user%d logged in\n" % (seed.decode(), i, i * 7 % 13)
                        for i in range(2200)).encode()[: 64 << 10])


def stores(hs, w, out):
    env = dict(os.environ)
    env.pop("HOTSPARE_KEYFILE", None)
    a, b = os.path.join(w, "a.img"), os.path.join(w, "b.img")
    image(a, 1, b"a")
    image(b, 1, b"b")
    plain, enc = os.path.join(w, "plain"), os.path.join(w, "enc")
    run(hs, "init", plain, "--chunk-size", "64K", env=env)
    run(hs, "snapshot", plain, "mail01", a, env=env)
    run(hs, "backup", plain, "mail01", a, env=env)
    run(hs, "snapshot", plain, "win01", "system=" + a, "shares=" + b, env=env)
    subprocess.run(["openssl", "genrsa", "-out", os.path.join(w, "m.pem"), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", os.path.join(w, "m.pem"), "-pubout", "-out", os.path.join(w, "m.pub")],
                   check=True, capture_output=True)
    key = os.path.join(w, "k.key")
    run(hs, "key", "create", key, "--master-pubkey", os.path.join(w, "m.pub"), env=env)
    run(hs, "init", enc, "--chunk-size", "64K", "--encrypt", key, env=env)
    run(hs, "snapshot", enc, "mail01", a, "--keyfile", key, env=env)

    for i, idx in enumerate(sorted(glob.glob(os.path.join(w, "*", "points", "*", "*.idx")))):
        kind = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(idx))))
        name = "%s-%s-%d" % (kind, os.path.basename(os.path.dirname(idx)), i)
        data = open(idx, "rb").read()
        put(out("point"), name + ".idx", data)
        # The compact form fuzz_point.c expands: the unused (zero) disk slots left out.
        used = 512 + 128 * int.from_bytes(data[40:44], "little")
        put(out("point"), name + ".compact", data[:used] + data[512 + 64 * 128:])
    # Small ones: the fuzzer's inputs are at most 64 KiB.
    small = lambda c: os.path.getsize(c) < 8192
    chunks = sorted(filter(small, glob.glob(os.path.join(plain, "chunks", "*", "*.zst"))))
    for i, c in enumerate(chunks[:4]):
        data = open(c, "rb").read()
        put(out("chunk"), "plain-%d" % i, b"\x00" + data)
        put(out("chunk"), "sealed-here-%d" % i, b"\x02" + data)
    for i, c in enumerate(sorted(filter(small, glob.glob(os.path.join(enc, "chunks", "*", "*.enc"))))[:2]):
        put(out("chunk"), "encrypted-%d" % i, b"\x01" + open(c, "rb").read())
    put(out("store-desc"), "plain.json", open(os.path.join(plain, "hotspare-store.json"), "rb").read())
    put(out("store-desc"), "encrypted-escrow.json", open(os.path.join(enc, "hotspare-store.json"), "rb").read())
    put(out("store-desc"), "version1.json",
        '{"format":"hotspare-store","version":1,"chunk_size":262144,"compression":"zstd"}\n')
    put(out("key"), "plain-escrow.key", open(key, "rb").read())
    run(hs, "key", "create", os.path.join(w, "p.key"), env=env)
    put(out("key"), "plain.key", open(os.path.join(w, "p.key"), "rb").read())


def wrapped_key():
    """A key file wrapped with the passphrase "fuzz", with cheap scrypt parameters."""
    master = os.urandom(32)
    salt, nonce = os.urandom(16), os.urandom(12)
    kek = hashlib.scrypt(b"fuzz", salt=salt, n=1024, r=1, p=1, dklen=32)
    sealed = nonce + AESGCM(kek).encrypt(nonce, master, b"hotspare key")
    # The fingerprint is HKDF-derived by hotspare: a wrong one is its own refusal,
    # and the harness reaches everything before it.
    return json.dumps({"format": "hotspare-key", "version": 1, "fingerprint": "0" * 32,
                       "wrapped": {"kdf": "scrypt", "n": 1024, "r": 1, "p": 1,
                                   "salt": base64.b64encode(salt).decode(),
                                   "data": base64.b64encode(sealed).decode()}}, indent=2)


def texts(out):
    put(out("key"), "wrapped-fuzz.key", wrapped_key())
    state = {"format": "hotspare-state", "version": 1, "server": "mail01", "point": "20261125T121856Z",
             "store": "/srv/store", "image_size": 1048576, "chunk_size": 65536, "uid": 0, "gid": 0, "mode": 384}
    s = json.dumps(state, indent=2).encode()
    put(out("state"), "fresh", s + b"\0\x00" + bytes(16))
    put(out("state"), "clean-hydrated", s + b"\0\x01" + bytes([1] * 8 + [2] * 4 + [0] * 4))
    put(out("state"), "cut-repair", s + b"\0\x06" + bytes([1] * 8 + [0] * 8))
    put(out("state"), "bad-map", s + b"\0\x01" + bytes([3] * 16))
    state["point"] = "20261125T121857Z"
    put(out("state"), "other-point", json.dumps(state).encode() + b"\0\x01" + bytes(16))

    page = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<Name>bucket</Name><Prefix>pre/points/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>"
            "<Delimiter>/</Delimiter><IsTruncated>%s</IsTruncated>%s"
            "<Contents><Key>pre/points/.servers</Key><Size>7</Size></Contents>"
            "<Contents><Key>pre/points/a&amp;b</Key><Size>7</Size></Contents>"
            "<CommonPrefixes><Prefix>pre/points/mail01/</Prefix></CommonPrefixes>"
            "<CommonPrefixes><Prefix>pre/points/web&lt;2&gt;/</Prefix></CommonPrefixes>"
            "</ListBucketResult>")
    put(out("s3-list"), "last-page", "pre/points/\n" + page % ("false", ""))
    put(out("s3-list"), "truncated", "pre/points/\n" + page % ("true", "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"))
    put(out("s3-list"), "truncated-no-token", "points/mail01/\n<ListBucketResult><IsTruncated>true</IsTruncated>"
        "<Contents><Key>points/mail01/20261125T121856Z.idx</Key></Contents></ListBucketResult>")

    http = {
        "ok-length": b"\x00HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "ok-chunked": b"\x00HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "ok-close": b"\x00HTTP/1.0 200 OK\r\n\r\nbody until close",
        "too-big": b"\x04HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nxx",
        "short-body": b"\x00HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        "not-found": b"\x00HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
        "s3-error": (b"\x00HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\r\n<Error><Code>AccessDenied"
                     b"</Code><Message>Access Denied</Message></Error>"),
        "server-error": b"\x00HTTP/1.1 503 Slow Down\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
        "redirect": b"\x00HTTP/1.1 301 Moved Permanently\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
        "partial": b"\x00HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-3/100\r\nContent-Length: 4\r\n\r\nabcd",
        "head": b"\x01HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nETag: \"x\"\r\n\r\n",
        "continue": b"\x00HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        "lock-object": b"\x00hotspare-lock\nhost otherhost\npid 4242\ntime 1795609136\nnonce 00000000deadbeef\n",
        "url-credentials": b"\x00https://us%3Aer:p%40ss@host.example:8443/store?x=1#f",
    }
    for k, v in http.items():
        put(out("http"), k, v)

    names = ["mail01", "mail01@20261125T121856Z", "mail01@latest:sda", "win01@2026:c", "a.b-c_d",
             ".hidden", "a/b", "..", "a..b", "x" * 65, "mail01:" + "d" * 33, "m@\xff\xfe:x", "20261125T121856Z",
             "20260231T000000Z", "mail01@:disk"]
    for i, n in enumerate(names):
        put(out("name"), "name-%d" % i, n.encode("utf-8", "surrogateescape") if isinstance(n, str) else n)
    nums = [b"\x000", b"\x0018446744073709551615", b"\x0018446744073709551616", b"\x01256", b"\x01257",
            b"\x0265536", b"\x0212a", b"\x08-1", b"\x00 1", b"\x001e3", b"\x00c=/dev/sda d=/dev/sdb",
            b"\x00/tmp/a=b.img", b"\x00c=/a c=/b", b"\x00c= d=/b"]
    for i, n in enumerate(nums):
        put(out("cli-number"), "num-%d" % i, n)


def main():
    hs, corpus = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    # Regenerate everything but the regression inputs.
    for f in glob.glob(os.path.join(corpus, "*", "*")):
        if not os.path.basename(f).startswith(("regress-", "found-")):
            os.unlink(f)
    out = lambda name: os.path.join(corpus, name)
    with tempfile.TemporaryDirectory() as w:
        stores(hs, w, out)
    texts(out)


if __name__ == "__main__":
    main()
