"""Suite-wide rules: no request may leave 127.0.0.1, in this process or in any subprocess."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

NETGUARD_DIR = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD_DIR))
import netguard  # noqa: E402

netguard.install()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_stray_network(tmp_path_factory, monkeypatch):
    """Fail any test during which something tried to reach a non-loopback address."""
    log = tmp_path_factory.mktemp("netguard") / "violations.log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    # Subprocesses (the CLI run end to end) load the same guard through sitecustomize.
    existing = os.environ.get("PYTHONPATH")
    paths = [str(NETGUARD_DIR), str(ROOT)] + ([existing] if existing else [])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    # Proxies from the developer's shell must not divert test traffic.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    yield
    if log.exists() and log.read_text().strip():
        pytest.fail("a test tried to leave 127.0.0.1:\n" + log.read_text(), pytrace=False)
