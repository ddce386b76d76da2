"""A real `rag serve` (uvicorn) in a subprocess on loopback, for tests and the load test. It is always stopped on
exit, and its log goes to a file (a pipe nobody reads would fill up and stall the server)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_bytes(self) -> int:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss


@contextmanager
def running_server(index_dir: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Iterator[Server]:
    """Start `python -m rag.cli serve` on 127.0.0.1 and wait until /readyz says ready."""
    port = free_port()
    log_fd, log_name = tempfile.mkstemp(prefix="rag-serve-", suffix=".log")
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index_dir), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=full_env, stdout=log_fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    os.close(log_fd)
    server = Server(f"http://127.0.0.1:{port}", proc, Path(log_name))
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()[-4000:]}")
            try:
                r = httpx.get(f"{server.base}/readyz", timeout=2)
                if r.status_code == 200:
                    break
                if r.json().get("status") == "error":
                    raise RuntimeError(f"server start-up failed: {r.json()}")
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"server not ready in {timeout:.0f}s:\n{server.log()[-4000:]}")
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if os.environ.get("RAG_KEEP_SERVER_LOGS") is None:
            Path(log_name).unlink(missing_ok=True)
