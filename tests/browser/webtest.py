"""What the web tests share: a daemon on a temporary socket, coordctl, and
plain HTTP requests. Everything a test starts here it stops itself."""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

COORDINATORD = os.environ["COORDINATORD"]
COORDCTL = os.environ["COORDCTL"]
ARTIFACTS = os.environ.get("ARTIFACT_DIR", ".")
WAIT = 30.0

CONFIG = """[daemon]
shutdown_grace_sec = 1
[mode:async]
max_concurrency = 4
kill_grace_ms = 500
"""


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def until(cond, what, timeout=WAIT):
    """Polls cond() until it returns something true; fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.05)


class Daemon:
    def __init__(self, root):
        self.sock = os.path.join(root, "sock")
        self.state = os.path.join(root, "state")
        self.conf = os.path.join(root, "conf")
        self.log = open(os.path.join(root, "daemon.log"), "ab")
        with open(self.conf, "w") as f:
            f.write(CONFIG)
        self.proc = None

    def ctl(self, *args, check=True):
        r = subprocess.run([COORDCTL, "--socket", self.sock] + list(args),
                           capture_output=True, text=True, timeout=WAIT)
        if any(m in r.stderr for m in SANITIZER_MARKS):
            fail("coordctl %s: a sanitizer report:\n%s" % (" ".join(args), r.stderr))
        if check and r.returncode != 0:
            fail("coordctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def start(self):
        self.proc = subprocess.Popen([COORDINATORD, "--socket", self.sock, "--state-dir",
                                      self.state, "--config", self.conf],
                                     stdout=self.log, stderr=self.log)
        until(lambda: self.ctl("ping", check=False).returncode == 0, "the daemon to start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=WAIT)
        check_log(self.log.name)


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def check_log(path):
    """Fails when the log at path holds a sanitizer report (the ASan build)."""
    with open(path, errors="replace") as f:
        text = f.read()
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            fail("%s holds a sanitizer report:\n%s" % (path, text[max(0, i - 200):i + 3000]))


def http_status(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=WAIT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start_web(d, root, *args):
    """Starts `coordctl web`; returns the process, the base URL and the token."""
    log = os.path.join(root, "web.log")
    web = subprocess.Popen([COORDCTL, "--socket", d.sock, "web"] + list(args),
                           stdout=subprocess.PIPE, stderr=open(log, "ab"), text=True)
    web.log_path = log
    url = web.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:") or "?token=" not in url:
        fail("coordctl web printed %r" % url)
    base, token = url.split("?token=")
    return web, base, token


def stop_web(web):
    web.send_signal(signal.SIGINT)
    try:
        web.wait(timeout=10)
    except subprocess.TimeoutExpired:
        web.kill()
        web.wait()
        fail("coordctl web did not stop on SIGINT")
    check_log(web.log_path)
    if web.returncode != 0:
        fail("coordctl web exited with %d" % web.returncode)
