#!/usr/bin/env python3
"""A small HTTP proxy for the fault tests: forwards to a server on 127.0.0.1
and damages responses on command. Test code only.

usage: fault-proxy.py LISTEN_PORT UPSTREAM_PORT MODE_FILE LOG_FILE

MODE_FILE is read at every request (so a test switches modes without a
restart); one line:
  pass                 forward everything unchanged
  corrupt-all          flip a byte in the body of every chunk GET
  corrupt-every N      ... of the first GET of every Nth chunk (in the order first asked
                       for; its next GET passes, however many fetchers run at once)
  truncate-every N     likewise: full Content-Length, half the body, then close
  short-every N        likewise: Content-Length and body both cut in half
  put-fail-after N     chunk PUTs after the Nth answer 403 (an upload that fails half-way)
  drop-chunks          close the connection of every chunk request without an answer
LOG_FILE gets one line per request: METHOD PATH STATUS ACTION.
Stops by itself after an hour at the latest."""
import http.client
import http.server
import sys
import threading

LISTEN, UPSTREAM, MODE_FILE, LOG_FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()  # protects counters and the log
counters = {"put": 0}
seen = {}  # chunk path -> [its ordinal among chunks first asked for, GETs answered]
seen_mode = [None]  # the mode seen counts for: a new mode starts afresh


def mode():
    try:
        with open(MODE_FILE) as f:
            parts = f.read().split()
    except OSError:
        parts = []
    return (parts[0], int(parts[1]) if len(parts) > 1 else 0) if parts else ("pass", 0)


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        chunk = "/chunks/" in self.path
        m, k = mode()
        action = "pass"
        if chunk and m == "drop-chunks":
            self.close_connection = True
            log(f"{self.command} {self.path} - dropped")
            return
        if self.command == "PUT" and chunk and m == "put-fail-after":
            with lock:
                counters["put"] += 1
                fail = counters["put"] > k
            if fail:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                log(f"PUT {self.path} 403 refused")
                return
        headers = {h: v for h, v in self.headers.items() if h.lower() not in ("host", "connection")}
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        try:
            up.request(self.command, self.path, body=body, headers=headers)
            r = up.getresponse()
            data = r.read()
            status, rheaders = r.status, r.getheaders()
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            log(f"{self.command} {self.path} 502 upstream-down")
            return
        finally:
            up.close()
        if self.command == "GET" and chunk and status == 200 and m != "pass":
            with lock:
                if seen_mode[0] != (m, k):
                    seen.clear()
                    seen_mode[0] = (m, k)
                c = seen.setdefault(self.path, [len(seen) + 1, 0])
                c[1] += 1
                first = c[1] == 1
            hit = m == "corrupt-all" or (k > 0 and first and c[0] % k == 0)
            if hit and m in ("corrupt-all", "corrupt-every") and data:
                data = bytearray(data)
                data[len(data) // 2] ^= 0x5A
                data = bytes(data)
                action = "corrupt"
            elif hit and m == "short-every":
                data = data[: len(data) // 2]
                action = "short"
            elif hit and m == "truncate-every":
                action = "truncate"
        self.send_response(status)
        for h, v in rheaders:
            if h.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                self.send_header(h, v)
        if self.command == "HEAD":
            cl = dict((h.lower(), v) for h, v in rheaders).get("content-length", "0")
            self.send_header("Content-Length", cl)
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
        log(f"{self.command} {self.path} {status} {action}")

    do_GET = do_PUT = do_HEAD = do_DELETE = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler)
server.daemon_threads = True
t = threading.Timer(3600, server.shutdown)
t.daemon = True
t.start()
server.serve_forever()
