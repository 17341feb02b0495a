#!/usr/bin/env python3
"""coordctl web over plain HTTP (no browser): loopback only, the token in
every form (query, cookie, bearer) and without it 403, --token-file,
/metrics for Prometheus, the API's answers, and the event stream: live
messages, a resume from Last-Event-ID with no gap and no duplicate, and a
stream that stays open across a daemon restart.
"""
import http.client
import json
import os
import shutil
import stat
import sys
import tempfile
import urllib.parse

from webtest import Daemon, fail, http_status, start_web, stop_web, until


def check_refusals(d, root):
    for addr in ("0.0.0.0:0", "192.0.2.1:8080", "[::]:0", "nonsense"):
        r = d.ctl("web", "--listen", addr, check=False)
        if r.returncode != 2:
            fail("--listen %s was not refused: %d %s" % (addr, r.returncode, r.stderr))
    bad = os.path.join(root, "bad-token")
    with open(bad, "w") as f:
        f.write("short\n")
    r = d.ctl("web", "--token-file", bad, check=False)
    if r.returncode != 66 or "token-file" not in r.stderr:
        fail("a token file with a short token was used: %d %s" % (r.returncode, r.stderr))


def check_tokens(base, token):
    for url in (base, base + "?token=wrong", base + "?token=", base + "metrics",
                base + "api/status", base + "events", base + "app.js"):
        code, _ = http_status(url)
        if code != 403:
            fail("%s without the token: %d, not 403" % (url, code))
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": token},
                    {"Cookie": "coordweb_1=" + token}):
        code, _ = http_status(base + "metrics", headers)
        if code != 403:
            fail("/metrics with %s: %d, not 403" % (headers, code))
    code, text = http_status(base + "metrics", {"Authorization": "Bearer " + token})
    if code != 200 or "coordinatord_tasks_submitted_total" not in text:
        fail("/metrics with the bearer token: %d %s" % (code, text[:200]))
    code, text = http_status(base + "metrics?token=" + token)
    if code != 200 or "# TYPE coordinatord_jobs_running gauge" not in text:
        fail("/metrics with the token in the URL: %d" % code)
    # The page sets the cookie, and the cookie alone opens the rest.
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/?token=" + token)
    r = c.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie", "")
    if r.status != 200 or "HttpOnly" not in cookie or "SameSite=Strict" not in cookie:
        fail("the page: %d, cookie %r" % (r.status, cookie))
    code, text = http_status(base + "api/modes", {"Cookie": cookie.split(";")[0]})
    if code != 200 or json.loads(text)["result"]["modes"][0]["name"] != "async":
        fail("/api/modes with the cookie: %d %s" % (code, text))
    code, text = http_status(base + "api/output?request_id=nope", {"Cookie": cookie.split(";")[0]})
    if code != 200 or "error" not in json.loads(text):
        fail("/api/output of no job: %d %s" % (code, text))


class Stream:
    """An /events stream read event by event."""

    def __init__(self, base, token, last_id=None):
        u = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        headers = {"Authorization": "Bearer " + token}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", "/events", headers=headers)
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            fail("/events: %d" % self.resp.status)

    def next(self, kind="message"):
        """The data of the next event of kind (others are skipped)."""
        while True:
            fields = {}
            while True:
                line = self.resp.readline().decode()
                if not line:
                    fail("the event stream ended")
                line = line.rstrip("\n")
                if not line:
                    break
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                fields[k] = v
            if fields.get("event") == kind:
                return fields

    def close(self):
        self.conn.close()


def check_stream(d, base, token):
    s = Stream(base, token)
    s.next("daemon")
    rid = d.ctl("submit", "--", "true").stdout.strip()
    seen = []
    while True:
        ev = s.next()
        msg = json.loads(ev["data"])
        if int(ev["id"]) != msg["seq"]:
            fail("event id %s for seq %d" % (ev["id"], msg["seq"]))
        seen.append(msg["seq"])
        if msg["request_id"] == rid and msg["type"] == "request_success":
            break
    s.close()

    # Resume from before the first: the same messages again, in order, once each.
    s = Stream(base, token, last_id=seen[0] - 1)
    again = [json.loads(s.next()["data"])["seq"] for _ in seen]
    if again != seen:
        fail("resumed %s, first time %s" % (again, seen))

    # The daemon restarts: the stream stays open and goes on after the last seq.
    d.ctl("shutdown")
    d.proc.wait(timeout=30)
    if json.loads(s.next("daemon")["data"])["up"]:
        fail("the stream did not say the daemon went away")
    d.start()
    if not json.loads(s.next("daemon")["data"])["up"]:
        fail("the stream did not say the daemon came back")
    rid2 = d.ctl("submit", "--", "true").stdout.strip()
    after = []
    while True:
        msg = json.loads(s.next()["data"])
        after.append(msg["seq"])
        if msg["request_id"] == rid2 and msg["type"] == "request_success":
            break
    if after[0] != seen[-1] + 1 or after != sorted(set(after)):
        fail("after the restart: %s (before: %s)" % (after, seen))
    s.close()


def check_token_file(d, root):
    path = os.path.join(root, "token")
    web, base, token = start_web(d, root, "--token-file", path)
    stop_web(web)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    with open(path) as f:
        kept = f.read().strip()
    if kept != token or mode != 0o600:
        fail("token file %r mode %o, token %r" % (kept, mode, token))
    web, base, token2 = start_web(d, root, "--token-file", path)
    try:
        if token2 != token:
            fail("the token file's token was not reused")
        code, _ = http_status(base + "metrics", {"Authorization": "Bearer " + token})
        if code != 200:
            fail("/metrics with the file's token: %d" % code)
    finally:
        stop_web(web)


def main():
    root = tempfile.mkdtemp(prefix="coord-web-http-")
    d = Daemon(root)
    web = None
    try:
        d.start()
        check_refusals(d, root)
        web, base, token = start_web(d, root)
        check_tokens(base, token)
        check_stream(d, base, token)
        stop_web(web)
        web = None
        check_token_file(d, root)
        print("ok: loopback only, tokens, --token-file, /metrics, events with resume and restart")
        return 0
    finally:
        if web:
            stop_web(web)
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
