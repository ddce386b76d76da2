"""A real `rag serve` process (uvicorn) answering over HTTP on loopback."""
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(seed_index):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(seed_index), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stdout.read()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("server not healthy in time")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ask_over_http(server, seed_text):
    r = httpx.post(f"{server}/v1/ask", json={"question": "Combien de temps a duré la visioconférence ?"}, timeout=120)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
    assert "raw_answer" not in body
    assert not body["abstained"] and "heure" in body["answer"]
    for c in body["citations"]:
        assert seed_text[c["start"] : c["end"]] == c["quote"]
    assert {"retrieve", "generate", "total"} <= set(body["timings_ms"])


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"question": ""}, 422),
        ({"question": "x" * 2001}, 413),
        ({"question": "Qui ?", "top_k": 0}, 422),
        ({"question": 42}, 422),
        ({}, 422),
    ],
)
def test_bad_requests_get_json_errors(server, payload, status):
    r = httpx.post(f"{server}/v1/ask", json=payload, timeout=60)
    assert r.status_code == status
    assert "detail" in r.json()


def test_malformed_json_is_a_4xx(server):
    r = httpx.post(f"{server}/v1/ask", content=b"{not json", headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 422 and "detail" in r.json()
