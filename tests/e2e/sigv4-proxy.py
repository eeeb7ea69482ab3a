#!/usr/bin/env python3
"""An S3 front for the tests that checks every request's Signature Version 4
(s3rver accepts any v4 signature), written from AWS's specification
independently of hotspare's signer, then forwards it to s3rver. A request
whose signature, payload hash or date does not hold gets 403
SignatureDoesNotMatch. Test code only.

usage: sigv4-proxy.py LISTEN_PORT UPSTREAM_PORT SECRET LOG_FILE
Stops by itself after an hour at the latest."""
import hashlib
import hmac
import http.client
import http.server
import sys
import threading
from urllib.parse import quote, unquote

LISTEN, UPSTREAM, SECRET, LOG_FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write(line + "\n")


def enc(s, safe):
    return quote(s, safe=safe)


def check(method, raw_path, headers, body):
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no v4 Authorization header"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date8, region, service, term = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or "x-amz-content-sha256" not in signed:
        return "host, x-amz-date or x-amz-content-sha256 not signed"
    payload = headers.get("x-amz-content-sha256", "")
    if payload != hashlib.sha256(body or b"").hexdigest():
        return "x-amz-content-sha256 is not the body's hash"
    amz_date = headers.get("x-amz-date", "")
    if amz_date[:8] != date8 or term != "aws4_request" or service != "s3":
        return "bad credential scope"
    path, _, query = raw_path.partition("?")
    params = []
    for p in query.split("&") if query else []:
        k, _, v = p.partition("=")
        params.append((enc(unquote(k), "-_.~"), enc(unquote(v), "-_.~")))
    cq = "&".join(f"{k}={v}" for k, v in sorted(params))
    ch = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    creq = "\n".join([method, enc(unquote(path), "/-_.~"), cq, ch, ";".join(signed), payload])
    scope = f"{date8}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for m in (date8, region, "s3", "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, fields.get("Signature", "")) else "signature differs"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        why = check(self.command, self.path, self.headers, body)
        if why:
            log(f"REFUSED {self.command} {self.path}: {why}")
            doc = (f"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                   f"<Message>{why}</Message></Error>").encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(doc)
            return
        log(f"OK {self.command} {self.path}")
        headers = {h: v for h, v in self.headers.items() if h.lower() not in ("connection",)}
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        try:
            up.request(self.command, self.path, body=body if n else None, headers=headers)
            r = up.getresponse()
            data = r.read()
        finally:
            up.close()
        self.send_response(r.status)
        for h, v in r.getheaders():
            if h.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                self.send_header(h, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length", "0"))
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_DELETE = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler)
server.daemon_threads = True
t = threading.Timer(3600, server.shutdown)
t.daemon = True
t.start()
server.serve_forever()
