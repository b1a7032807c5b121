"""The suite itself refuses to touch any address but loopback."""

import socket
import subprocess
import sys

import netguard
import pytest


def test_lookup_of_a_public_name_is_refused(monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    with pytest.raises(netguard.StrayNetworkAccess):
        socket.getaddrinfo("github.com", 443)
    assert "github.com" in log.read_text()
    log.unlink()  # the violation was intended: keep the autouse guard quiet


def test_connect_to_a_public_address_is_refused(monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    with socket.socket() as s, pytest.raises(netguard.StrayNetworkAccess):
        s.connect(("140.82.112.3", 443))
    log.unlink()


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())
    assert socket.getaddrinfo("localhost", 80)


def test_subprocesses_are_guarded_too(monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    code = (
        "import socket\n"
        "try:\n socket.getaddrinfo('youtube.com', 443)\n"
        "except OSError as e:\n print(type(e).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "StrayNetworkAccess"
    assert "youtube.com" in log.read_text()
    log.unlink()
