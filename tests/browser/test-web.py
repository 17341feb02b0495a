#!/usr/bin/env python3
"""coordctl web in a real browser: Debian's chromium, headless, driven over
the DevTools protocol through --remote-debugging-pipe (no downloads, no
extra Python package). Starts the daemon and `coordctl web`, then checks:
the page without the token gets 403 (test-web-http.py checks the token
and the streams in depth, without a browser), the page shows a job submitted by the test without a reload, opens it and
sees its output, keeps working across a daemon restart without duplicate
rows, fits 375 px, follows prefers-color-scheme, and logs no console error.
Screenshots go to $ARTIFACT_DIR. Exit 77 (skipped) when chromium is missing.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

from webtest import (ARTIFACTS, WAIT, Daemon, fail, http_status, start_web, stop_web,
                     until)


class Browser:
    """chromium over --remote-debugging-pipe: NUL-terminated JSON both ways."""

    def __init__(self, root):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            # Through fresh numbers, in case the pipes hold 3 or 4 already.
            r, w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        args = [shutil.which("chromium"), "--headless=new", "--remote-debugging-pipe",
                "--user-data-dir=" + os.path.join(root, "chromium"), "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-dev-shm-usage", "--window-size=1100,900", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.log = open(os.path.join(root, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=self.log, stderr=self.log)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                fail("chromium closed its pipe (see chromium.log)")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\0", 1)
        return json.loads(line)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    fail("%s: %s" % (method, m["error"]))
                return m["result"]
            self.events.append(m)

    def open_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        r = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                      session=False)
        self.session = r["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            fail("evaluating %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def errors(self):
        self.eval("1")  # collects the events that arrived meanwhile
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                                      "assert"):
                out.append(json.dumps(p.get("args")))
            elif e.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def screenshot(self, name):
        self.eval("window.scrollTo(0, 0)")
        r = self.send("Page.captureScreenshot", {"format": "png"})
        path = os.path.join(ARTIFACTS, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        print("screenshot:", path)

    def close(self):
        try:
            self.send("Browser.close", session=False)
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - the browser may be gone already
            self.proc.kill()
            self.proc.wait()


def row_ids(b):
    return b.eval("[...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.id)")


def main():
    if not shutil.which("chromium"):
        print("chromium is not installed: skipped")
        return 77
    root = tempfile.mkdtemp(prefix="coord-browser-")
    d = Daemon(root)
    web = b = None
    try:
        d.start()
        web, base, token = start_web(d, root)
        url = base + "?token=" + token
        code, _ = http_status(base)
        if code != 403:
            fail("the page without the token: %d, not 403" % code)

        b = Browser(root)
        b.open_page()
        b.send("Page.navigate", {"url": url})
        until(lambda: b.eval("document.querySelector('#live.up') !== null"), "the live stream")
        b.eval("window.__noReload = 1")

        rid = d.ctl("submit", "--", "sh", "-c", "echo hello-from-the-test; sleep 1").stdout.strip()
        until(lambda: rid in (row_ids(b) or []), "the submitted job's row")
        b.eval("document.querySelector('#jobs tbody tr[data-id=\"%s\"]').click()" % rid)
        until(lambda: b.eval("!document.querySelector('#detail').hidden"), "the detail")
        until(lambda: "hello-from-the-test" in b.eval("document.querySelector('#output')"
                                                      ".textContent"), "the job's output")
        until(lambda: "success" in b.eval("document.querySelector('#detail-fields')"
                                          ".textContent"), "the job's success in its detail")
        until(lambda: b.eval("[...document.querySelectorAll('#plot rect')]"
                             ".some(r => r.getAttribute('height') > 0)"), "a bar in the plot")
        until(lambda: b.eval("document.querySelector('#count-success b').textContent") == "1",
              "the success count")
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": 1000, "height": 1150, "deviceScaleFactor": 1, "mobile": False})
        b.screenshot("web.png")

        # A restart: the page stays, resumes its stream, and shows each job once.
        d.ctl("shutdown")
        d.proc.wait(timeout=WAIT)
        d.start()
        rid2 = d.ctl("submit", "--", "echo", "after-restart").stdout.strip()
        until(lambda: rid2 in (row_ids(b) or []), "a job submitted after the restart")
        until(lambda: b.eval("document.querySelector('#live.up') !== null"), "live again")
        ids = row_ids(b)
        if len(ids) != len(set(ids)) or set(ids) != {rid, rid2}:
            fail("rows after the restart: %s" % ids)
        if b.eval("window.__noReload") != 1:
            fail("the page reloaded")

        # Filters: no failures, so none shown; then back to every job.
        b.eval("{const f = document.querySelector('#filters select[name=result]');"
               "f.value = 'failure'; f.dispatchEvent(new Event('input', {bubbles: true}))}")
        until(lambda: row_ids(b) == [], "the failure filter")
        b.eval("{const f = document.querySelector('#filters select[name=result]');"
               "f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true}))}")
        until(lambda: len(row_ids(b)) == 2, "every job again")
        # By name: filtered where the daemon knows the filter, else the field goes away.
        b.eval("{const f = document.querySelector('#filters input[name=name]');"
               "f.value = 'echo'; f.dispatchEvent(new Event('input', {bubbles: true}))}")
        until(lambda: row_ids(b) == [rid2] or
              b.eval("document.querySelector('#filters input[name=name]').parentElement.hidden"),
              "the name filter")
        b.eval("{const f = document.querySelector('#filters input[name=name]');"
               "f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true}))}")
        until(lambda: len(row_ids(b)) == 2, "every job again")

        # 375 px wide: nothing wider than the screen; then the dark scheme.
        light = b.eval("getComputedStyle(document.body).backgroundColor")
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": 375, "height": 800, "deviceScaleFactor": 2, "mobile": True})
        until(lambda: b.eval("document.documentElement.scrollWidth") <= 375, "a 375 px layout")
        b.send("Emulation.setEmulatedMedia",
               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        until(lambda: b.eval("getComputedStyle(document.body).backgroundColor") != light,
              "the dark colour scheme")
        b.screenshot("web-375-dark.png")

        errors = b.errors()
        if errors:
            fail("console errors: %s" % errors)
        print("ok: live page, output, restart, 403 without token, /metrics, 375 px, dark")
        return 0
    finally:
        if b:
            b.close()
        if web:
            stop_web(web)
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
