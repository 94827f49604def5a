"""A fresh venv installs each role with ``pip install '.[role]'``; an exporter gets no server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("flask", "gunicorn", "duckdb", "marshmallow", "numpy", "zstandard", "genai_prices",
               "pydantic")


def fresh_venv(tmp_path: Path, extra: str) -> Path:
    """Copy the package sources, make a venv, ``pip install '.[extra]'``; return its bin dir."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "thinkt", source / "thinkt",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("setup.py", "setup.cfg", "README.rst"):
        shutil.copy2(REPO / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f".[{extra}]"],
                          cwd=source, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip(f"dependencies not reachable from this machine: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def importable(bin_dir: Path, module: str) -> bool:
    return subprocess.run([str(bin_dir / "python"), "-c", f"import {module}"],
                          capture_output=True, timeout=60).returncode == 0


def answers_help(bin_dir: Path, *argv: str) -> str:
    done = subprocess.run([str(bin_dir / argv[0]), *argv[1:], "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_exporter_install_has_no_flask_gunicorn_or_duckdb(tmp_path):
    bin_dir = fresh_venv(tmp_path, "exporter")
    assert importable(bin_dir, "requests") and importable(bin_dir, "inotify_simple")
    for module in SERVER_ONLY:
        assert not importable(bin_dir, module), f"{module} came with the exporter extra"
    assert "--api-key-file" in answers_help(bin_dir, "thinkt", "export")
    answers_help(bin_dir, "thinkt-exporter")
    answers_help(bin_dir, "thinkt")
    answers_help(bin_dir, "thinkt", "collect")
    # Running the collector there says what to install, in one line, with exit 69.
    done = subprocess.run([str(bin_dir / "thinkt"), "collect", "--storage",
                           str(tmp_path / "c.duckdb")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 69, done.stderr
    assert done.stderr.startswith("Error: ") and "thinkt[collector]" in done.stderr
    assert "Traceback" not in done.stderr


def test_collector_install_runs_check_config(tmp_path):
    bin_dir = fresh_venv(tmp_path, "collector")
    for module in SERVER_ONLY:
        assert importable(bin_dir, module), module
    assert "--token-file" in answers_help(bin_dir, "thinkt-collector")
    done = subprocess.run([str(bin_dir / "thinkt-collector"), "--check-config", "--storage",
                           str(tmp_path / "db.duckdb")], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert (done.returncode, done.stdout) == (0, "configuration OK\n"), done.stderr
    # The web pages' templates and stylesheet ship inside the package (air-gapped: no CDN).
    shipped = subprocess.run([str(bin_dir / "python"), "-c",
                              "import importlib.resources as r; "
                              "web = r.files('thinkt.collector.web'); "
                              "print((web / 'templates' / 'base.html').is_file(), "
                              "(web / 'static' / 'thinkt.css').is_file())"],
                             capture_output=True, text=True, timeout=60)
    assert shipped.stdout.split() == ["True", "True"], shipped.stderr
    # A first try on the collector's machine (issue 14, item 5): the exporter and the
    # status page need packages of other extras; each says which, in one line.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for argv, extra in ((["export", "--collector-url", "http://127.0.0.1:9"], "exporter"),
                        (["status", "--collector-url", "http://127.0.0.1:9"], "tui")):
        done = subprocess.run([str(bin_dir / "thinkt"), *argv], capture_output=True,
                              text=True, timeout=60, env=env)
        assert done.returncode == 69, (argv, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[0].startswith("Error: this command needs a package "
                                                      "that is not installed"), done.stderr
        assert f"pip install 'thinkt[{extra}]'" in done.stderr, done.stderr
