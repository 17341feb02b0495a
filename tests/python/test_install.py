"""The two ways a Python user installs the client: pip (offline, into a venv) and
``meson install`` (into the system's site-packages), and the type check."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from coordtest import CLIENT_DIR, PATIENCE, ROOT, Daemon
import coordinatord

WHEELS = Path("/usr/share/python-wheels")
BUILD_DIR = Path(os.environ.get("COORD_BUILD_DIR", str(ROOT / "build-test")))

# Uses the installed package against the daemon: every module is there and works.
PROBE = """
import sys, coordinatord, pathlib
from coordinatord import CoordinatorClient
pkg = pathlib.Path(coordinatord.__file__).parent
assert (pkg / "py.typed").is_file(), "py.typed is missing"
with CoordinatorClient(sys.argv[1]) as c:
    job = c.submit(["echo", "installed"], wait=True)
print(pkg, job.message.result.stdout.strip())
"""


def sh(argv: List[str], cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    """Run a command with this environment, less what would steer Python or pip, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=PATIENCE * 5, cwd=cwd, env={**clean, **(env or {})}
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv that sees the system's packages (setuptools, wheel), as Debian users make one."""
    where = tmp_path_factory.mktemp("venv")
    made = sh([sys.executable, "-m", "venv", "--system-site-packages", str(where / "v")])
    if made.returncode != 0:
        pytest.skip("cannot make a venv (python3-venv missing?): " + made.stderr[-300:])
    yield where / "v"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of client/python, so that pip's in-tree build leaves the checkout alone."""
    dst = tmp_path / "python"
    shutil.copytree(CLIENT_DIR, dst, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return dst


def probe(python: Path, daemon: Daemon, prefix: Path) -> None:
    out = sh([str(python), "-c", PROBE, daemon.socket], cwd="/")
    assert out.returncode == 0, out.stderr
    where, said = out.stdout.split()
    assert said == "installed"
    assert Path(where).resolve().is_relative_to(prefix.resolve()), "imported %s, not the installed copy" % where


def pip(venv: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    return sh([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args])


def test_pip_install_offline_without_build_isolation(venv: Path, source: Path, daemon: Daemon) -> None:
    out = pip(venv, "install", "--no-build-isolation", "--no-index", str(source))
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        probe(venv / "bin" / "python", daemon, venv)
    finally:
        pip(venv, "uninstall", "-y", "coordinatord")


@pytest.mark.skipif(
    not list(WHEELS.glob("setuptools-*.whl")) or not list(WHEELS.glob("wheel-*.whl")),
    reason="needs python3-setuptools-whl and python3-wheel-whl in %s" % WHEELS,
)
def test_pip_install_offline_with_build_isolation_from_debian_wheels(venv: Path, source: Path, daemon: Daemon) -> None:
    out = pip(venv, "install", "--no-index", "--find-links", str(WHEELS), str(source))
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        probe(venv / "bin" / "python", daemon, venv)
    finally:
        pip(venv, "uninstall", "-y", "coordinatord")


def test_pip_build_isolation_without_an_index_needs_setuptools(venv: Path, source: Path) -> None:
    """What docs/python.md warns about: isolated, pip must fetch the build backend."""
    out = pip(venv, "install", "--no-index", str(source))
    assert out.returncode != 0
    assert "setuptools" in out.stdout + out.stderr


@pytest.mark.skipif(not (BUILD_DIR / "build.ninja").is_file(), reason="no meson build dir at %s" % BUILD_DIR)
def test_meson_install_into_site_packages(tmp_path: Path, daemon: Daemon) -> None:
    dest = tmp_path / "dest"
    out = sh(["meson", "install", "-C", str(BUILD_DIR), "--destdir", str(dest), "--quiet"])
    assert out.returncode == 0, out.stdout + out.stderr
    inits = list(dest.rglob("coordinatord/__init__.py"))
    assert len(inits) == 1, inits
    site = inits[0].parent.parent
    assert site.name in ("site-packages", "dist-packages"), site
    installed = sorted(p.name for p in (site / "coordinatord").iterdir() if p.is_file())
    shipped = sorted(p.name for p in (CLIENT_DIR / "coordinatord").iterdir() if p.is_file())
    assert installed == shipped, "meson.build's list of files is out of date"
    out = sh([sys.executable, "-c", PROBE, daemon.socket], cwd="/", env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == str(site / "coordinatord")


def test_one_version_everywhere() -> None:
    meson = re.search(r"version\s*:\s*'([^']+)'", (ROOT / "meson.build").read_text())
    pyproject = re.search(r'^version\s*=\s*"([^"]+)"', (CLIENT_DIR / "pyproject.toml").read_text(), re.M)
    assert meson and pyproject
    assert meson.group(1) == pyproject.group(1) == coordinatord.__version__


def test_mypy_strict() -> None:
    mypy = shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed (Debian: apt-get install mypy)")
    targets = [str(CLIENT_DIR / "coordinatord"), str(ROOT / "examples" / "coord-fanout.py")]
    out = sh([mypy, "--strict", "--python-version", "3.9", "--no-incremental", "--cache-dir", os.devnull, *targets])
    assert out.returncode == 0, out.stdout + out.stderr
