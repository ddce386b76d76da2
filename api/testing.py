"""A real `rag serve` (uvicorn) in a subprocess on loopback, for tests and the load test. It is always stopped on
exit, and its log goes to a file (a pipe nobody reads would fill up and stall the server)."""
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
from typing import Iterator
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


@contextmanager
def running_server(index_dir: Path, env: dict[str, str] | None = None, timeout: float = 900,
                   file_size_limit: int | None = None) -> Iterator[Server]:
    """Start `python -m rag.cli serve` on 127.0.0.1 and wait until /readyz says ready. `file_size_limit` runs it
    under RLIMIT_FSIZE (rag ignores SIGXFSZ, so a write past it fails with EFBIG: a disk that is full for it).
    `timeout` is generous: priming the model's prompts took over 300 s on the 2-core box under a load of 12, and
    the crash drill restarts servers often; a server that dies is seen at once."""
    port = free_port()
    log_fd, log_name = tempfile.mkstemp(prefix="rag-serve-", suffix=".log")
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index_dir), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=full_env, stdout=log_fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_file_size_limit(file_size_limit) if file_size_limit else None,
    )
    os.close(log_fd)
    server = Server(f"http://127.0.0.1:{port}", proc, Path(log_name))
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise DrillError(f"server exited with {proc.returncode}:\n{server.log()[-4000:]}")
            try:
                r = httpx.get(f"{server.base}/readyz", timeout=2)
                if r.status_code == 200:
                    break
                if r.json().get("status") == "error":
                    raise DrillError(f"server start-up failed: {r.json()}")
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise DrillError(f"server not ready in {timeout:.0f}s:\n{server.log()[-4000:]}")
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
