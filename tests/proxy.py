#!/usr/bin/env python3
"""Proxies on 127.0.0.1 for the tests and benchmarks (test code only). Each
forwards to a server on 127.0.0.1 and stops by itself after its lifetime.

usage: proxy.py fault LISTEN_PORT UPSTREAM_PORT MODE_FILE LOG_FILE
       proxy.py sigv4 LISTEN_PORT UPSTREAM_PORT SECRET LOG_FILE
       proxy.py delay LISTEN_PORT UPSTREAM_PORT DELAY_MS

fault: an HTTP proxy that damages responses on command. MODE_FILE is read at
every request (so a test switches modes without a restart); one line:
  pass                 forward everything unchanged
  corrupt-all          flip a byte in the body of every chunk GET
  corrupt-every N      ... of the first GET of every Nth chunk (in the order first asked
                       for; its next GET passes, however many fetchers run at once)
  truncate-every N     likewise: full Content-Length, half the body, then close
  short-every N        likewise: Content-Length and body both cut in half
  put-fail-after N     chunk PUTs after the Nth answer 403 (an upload that fails half-way)
  drop-chunks          close the connection of every chunk request without an answer
A server that misbehaves on GETs of one kind of object (KIND: chunks, index,
description, manifest, lock, or any):
  stall KIND           accept the request and never answer while the mode lasts
                       (then close without an answer)
  trickle KIND         the real status and Content-Length, then the body a byte
                       every half second while the mode lasts
  endless KIND         200 and a body with no length and no end (until the
                       client goes away)
  huge KIND            the same with Content-Length: 3999999999
  fold KIND            200 whose first header line is folded (" x: folded"), then close
  fold-once KIND       the same for a path's first GET only; later ones pass
LOG_FILE gets one line per request: METHOD PATH STATUS ACTION. Lives an hour.

sigv4: an S3 front that checks every request's Signature Version 4 (s3rver
accepts any v4 signature), written from AWS's specification independently of
hotspare's signer. A request whose signature, payload hash or date does not
hold gets 403 SignatureDoesNotMatch; LOG_FILE gets "OK|REFUSED METHOD PATH".
Lives an hour.

delay: a TCP proxy that adds DELAY_MS to each direction (so 2 x DELAY_MS of
round-trip time), for the benchmarks: this machine has no netem. Bytes keep
their order; bandwidth is not limited. Lives two hours."""
import asyncio
import hashlib
import hmac
import http.client
import http.server
import os
import sys
import threading
import time
from urllib.parse import quote, unquote

lock = threading.Lock()  # protects the fault counters and the log


def log_to(path, line):
    with lock, open(path, "a") as f:
        f.write(line + "\n")


class Forwarder(http.server.BaseHTTPRequestHandler):
    """The forwarding loop the HTTP proxies share: read the request, let
    refuse() answer it instead, forward it upstream, let alter() change the
    answer, send it back. Subclasses set UPSTREAM and override the hooks."""

    protocol_version = "HTTP/1.1"
    UPSTREAM = 0
    TIMEOUT = 30
    DROP = ("connection",)  # request headers not forwarded

    def log_message(self, *args):
        pass

    def refuse(self, body):
        """Answer the request here (True) or let it through (False)."""
        return False

    def alter(self, status, data):
        """The body to send and a word for the log."""
        return data, "pass"

    def logged(self, status, action):
        pass

    def reply_empty(self, status, doc=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(doc)))
        self.end_headers()
        if self.command != "HEAD" and doc:
            self.wfile.write(doc)

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.refuse(body):
            return
        headers = {h: v for h, v in self.headers.items() if h.lower() not in self.DROP}
        up = http.client.HTTPConnection("127.0.0.1", self.UPSTREAM, timeout=self.TIMEOUT)
        try:
            up.request(self.command, self.path, body=body if n else None, headers=headers)
            r = up.getresponse()
            data = r.read()
            status, rheaders = r.status, r.getheaders()
        except OSError:
            self.reply_empty(502)
            self.logged(502, "upstream-down")
            return
        finally:
            up.close()
        data, action = self.alter(status, data)
        self.send_response(status)
        for h, v in rheaders:
            if h.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                self.send_header(h, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", dict((h.lower(), v) for h, v in rheaders).get("content-length", "0"))
            self.end_headers()
        elif action == "truncate":
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        self.logged(status, action)

    do_GET = do_PUT = do_HEAD = do_DELETE = forward


def serve(port, handler, lifetime):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    t = threading.Timer(lifetime, server.shutdown)
    t.daemon = True
    t.start()
    server.serve_forever()


# ---- fault ----

class Fault(Forwarder):
    MODE_FILE = LOG_FILE = ""
    DROP = ("host", "connection")
    counters = {"put": 0}
    seen = {}  # chunk path -> [its ordinal among chunks first asked for, GETs answered]
    seen_mode = [None]  # the mode seen counts for: a new mode starts afresh
    folded = set()  # paths answered with a folded header once (fold-once)
    lock = threading.Lock()

    def mode(self):
        try:
            with open(self.MODE_FILE) as f:
                parts = f.read().split()
        except OSError:
            parts = []
        if not parts:
            return ("pass", 0)
        arg = parts[1] if len(parts) > 1 else 0
        return (parts[0], int(arg) if str(arg).isdigit() else arg)

    def chunk(self):
        return "/chunks/" in self.path

    def kind(self):
        p = self.path
        if "/chunks/" in p:
            return "chunks"
        if p.endswith(".idx"):
            return "index"
        if p.endswith("hotspare-store.json"):
            return "description"
        if "/locks/" in p:
            return "lock"
        if p.endswith("/.points") or p.endswith("/.servers"):
            return "manifest"
        return "other"

    def misbehave(self, m, what):
        """Answer a GET of a targeted kind badly (True), or not at all here."""
        if self.command != "GET" or m not in ("stall", "trickle", "endless", "huge", "fold", "fold-once"):
            return False
        if what != "any" and what != self.kind():
            return False
        if m in ("fold", "fold-once"):
            # A reply whose first header line is folded (libcurl 7.88 fails the
            # transfer): every time, or only a path's first GET.
            if m == "fold-once":
                with Fault.lock:
                    if self.path in Fault.folded:
                        return False
                    Fault.folded.add(self.path)
            log_to(self.LOG_FILE, f"{self.command} {self.path} - {m}")
            self.close_connection = True
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n x: folded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            return True
        log_to(self.LOG_FILE, f"{self.command} {self.path} - {m}")
        self.close_connection = True
        still = lambda: self.mode() == (m, what)
        try:
            if m == "stall":
                end = time.monotonic() + 3600
                while still() and time.monotonic() < end:
                    time.sleep(0.1)
            elif m == "trickle":
                up = http.client.HTTPConnection("127.0.0.1", self.UPSTREAM, timeout=self.TIMEOUT)
                up.request("GET", self.path)
                r = up.getresponse()
                data = r.read()
                up.close()
                self.send_response(r.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for b in data:
                    if not still():
                        break
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.5)
            else:
                self.send_response(200)
                if m == "huge":
                    self.send_header("Content-Length", "3999999999")
                self.send_header("Connection", "close")
                self.end_headers()
                block = os.urandom(1 << 16)
                end = time.monotonic() + 3600
                while time.monotonic() < end:
                    self.wfile.write(block)
        except OSError:
            pass  # the client went away
        return True

    def logged(self, status, action):
        log_to(self.LOG_FILE, f"{self.command} {self.path} {status} {action}")

    def refuse(self, body):
        m, k = self.mode()
        if self.misbehave(m, k):
            return True
        if self.chunk() and m == "drop-chunks":
            self.close_connection = True
            log_to(self.LOG_FILE, f"{self.command} {self.path} - dropped")
            return True
        if self.command == "PUT" and self.chunk() and m == "put-fail-after":
            with lock:
                self.counters["put"] += 1
                fail = self.counters["put"] > k
            if fail:
                self.reply_empty(403)
                self.logged(403, "refused")
                return True
        return False

    def alter(self, status, data):
        m, k = self.mode()
        if self.command != "GET" or not self.chunk() or status != 200 or not isinstance(k, int) or m == "pass":
            return data, "pass"
        with lock:
            if self.seen_mode[0] != (m, k):
                self.seen.clear()
                self.seen_mode[0] = (m, k)
            c = self.seen.setdefault(self.path, [len(self.seen) + 1, 0])
            c[1] += 1
            first = c[1] == 1
        hit = m == "corrupt-all" or (k > 0 and first and c[0] % k == 0)
        if hit and m in ("corrupt-all", "corrupt-every") and data:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5A
            return bytes(data), "corrupt"
        if hit and m == "short-every":
            return data[: len(data) // 2], "short"
        if hit and m == "truncate-every":
            return data, "truncate"
        return data, "pass"


# ---- sigv4 ----

def enc(s, safe):
    return quote(s, safe=safe)


def sigv4_check(secret, method, raw_path, headers, body):
    """None if the request's v4 signature holds, else why not."""
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
    k = ("AWS4" + secret).encode()
    for m in (date8, region, "s3", "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, fields.get("Signature", "")) else "signature differs"


class Sigv4(Forwarder):
    SECRET = LOG_FILE = ""
    TIMEOUT = 60

    def refuse(self, body):
        why = sigv4_check(self.SECRET, self.command, self.path, self.headers, body)
        if not why:
            log_to(self.LOG_FILE, f"OK {self.command} {self.path}")
            return False
        log_to(self.LOG_FILE, f"REFUSED {self.command} {self.path}: {why}")
        self.reply_empty(403, (f"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                               f"<Message>{why}</Message></Error>").encode())
        return True


# ---- delay ----

def delay_proxy(listen, upstream, delay):
    async def pipe(reader, writer):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                queue.put_nowait((loop.time() + delay, data))
        except OSError:
            pass
        queue.put_nowait((loop.time() + delay, None))
        try:
            await sender
        except OSError:
            pass

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await asyncio.wait_for(server.serve_forever(), timeout=7200)

    try:
        asyncio.run(main())
    except (asyncio.TimeoutError, KeyboardInterrupt):
        pass


def main(argv):
    kind, args = (argv[0], argv[1:]) if argv else ("", [])
    if kind == "fault" and len(args) == 4:
        Fault.UPSTREAM, Fault.MODE_FILE, Fault.LOG_FILE = int(args[1]), args[2], args[3]
        serve(int(args[0]), Fault, 3600)
    elif kind == "sigv4" and len(args) == 4:
        Sigv4.UPSTREAM, Sigv4.SECRET, Sigv4.LOG_FILE = int(args[1]), args[2], args[3]
        serve(int(args[0]), Sigv4, 3600)
    elif kind == "delay" and len(args) == 3:
        delay_proxy(int(args[0]), int(args[1]), int(args[2]) / 1000.0)
    else:
        sys.exit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main(sys.argv[1:])
