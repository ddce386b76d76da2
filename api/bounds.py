"""Oversized inputs against a real server and the real CLI (`python -m api.faults bounds`): each must end in bounded
time and memory with success or a 4xx and one line. The server's peak RSS is measured per input (Linux: the
/proc/PID/status high-water mark, reset before each input through /proc/PID/clear_refs)."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from api.testing import DRILL_ENV, ROOT, Server, minimal_pdf, plain_line, running_server

MB = 1024 * 1024


@dataclass
class Case:
    name: str
    status: int | str  # HTTP status, "exit N" for the CLI, or "timeout"
    seconds: float
    peak_rss_mb: float | None  # the process's peak while handling this input
    rss_before_mb: float | None  # its RSS just before (the server holds the models: about 2.4 GB)
    detail: str
    bounded: bool  # success or a 4xx / exit 2, one line without library internals, within the time allowed


def big_text(size: int) -> bytes:
    block = "".join(f"Le registre n° {i} du port de Kerbrat mentionne {i * 7 % 97} navires.\n" for i in range(1000))
    raw = block.encode() * (size // len(block.encode()) + 1)
    return raw[:size]


def deep_html(depth: int) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + "Le phare de Kerbrat est au fond de la page.".encode()
            + b"</div>" * depth + b"</body></html>")


def _status_kb(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class _Peak:
    """A process's peak RSS over one input: its high-water mark (VmHWM), reset first where Linux allows."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass
        self.before = _status_kb(pid, "VmRSS")

    def mb(self) -> float | None:
        return _status_kb(self.pid, "VmHWM")


def _upload(server: Server, name: str, files: dict, timeout: float) -> Case:
    peak = _Peak(server.process.pid)
    started = time.perf_counter()
    try:
        r = httpx.post(f"{server.base}/v1/documents", files=files, timeout=timeout)
        status, detail = r.status_code, r.json().get("detail") if r.status_code >= 400 else r.json()
    except ValueError:
        status, detail = r.status_code, r.text
    except httpx.TimeoutException:
        status, detail = "timeout", ""
    seconds = round(time.perf_counter() - started, 2)
    detail = detail if isinstance(detail, str) else str(detail)
    bounded = isinstance(status, int) and status < 500 and plain_line(detail)
    return Case(name, status, seconds, peak.mb(), peak.before, detail[:200], bounded)


def _index_cli(name: str, path: Path, index_dir: Path, timeout: float) -> Case:
    """`rag index` in a child process: its time, and its peak RSS read from /proc while it runs (wait4's rusage
    would count the parent's memory at the fork)."""
    started = time.perf_counter()
    peak = 0.0
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index", str(path), "--index-dir", str(index_dir),
                                 "--quiet"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        while proc.poll() is None and time.perf_counter() - started < timeout:
            peak = max(peak, _status_kb(proc.pid, "VmHWM") or 0.0)
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.seek(0)
        line = output.read().decode("utf-8", "replace").strip()
    seconds = round(time.perf_counter() - started, 2)
    status = "timeout" if seconds > timeout else f"exit {proc.returncode}"
    return Case(name, status, seconds, peak or None, None, line[:200],
                proc.returncode in (0, 2) and status != "timeout" and plain_line(line))


def bounds_drill(index_dir: Path, scratch: Path, env: dict[str, str] | None = None, timeout: float = 600) -> dict:
    """The four oversized inputs of issue 21, through the API (and `rag index` for the 50 MB text)."""
    text = scratch / "big.txt"
    text.write_bytes(big_text(50 * MB))
    pdf = minimal_pdf([f"Page {i}. La digue numéro {i} du port de Kerbrat fut achevée en {1800 + i % 200}."
                       for i in range(2000)])
    cases = [_index_cli("50 MB text, rag index", text, scratch / "cli-index", timeout)]
    with running_server(index_dir, env={**DRILL_ENV, **(env or {})}) as server:
        cases += [
            _upload(server, "50 MB text, POST /v1/documents", {"file": ("big.txt", text.read_bytes(), "text/plain")}, timeout),
            _upload(server, "PDF of 2,000 pages", {"file": ("registre.pdf", pdf, "application/pdf")}, timeout),
            _upload(server, "HTML nested 10,000 deep", {"file": ("profond.html", deep_html(10_000), "text/html")}, timeout),
            _upload(server, "file name of 10,000 characters",
                    {"file": ("n" * 9996 + ".txt", b"Le phare de Kerbrat.", "text/plain")}, timeout),
            _upload(server, "doc_id of 10,000 characters",
                    {"file": ("phare.txt", b"Le phare de Kerbrat.", "text/plain"), "doc_id": (None, "n" * 10_000)}, timeout),
        ]
        server_rss = round(server.rss_bytes() / MB, 1)
    text.unlink()
    return {"failed": sum(not c.bounded for c in cases), "server_rss_after_mb": server_rss,
            "summary": [f"{c.name}: {c.status} in {c.seconds} s, peak RSS {c.peak_rss_mb} MB (before: {c.rss_before_mb} MB): "
                        f"{c.detail[:90]}" for c in cases],
            "cases": [asdict(c) for c in cases]}
