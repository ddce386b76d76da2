"""Uploads into a full disk (`python -m api.faults diskfull`): each must get 507 with the reason, and the previous
index must keep serving (same documents, same search results, no leftovers), until there is room again.

Two ways to fill the disk: the index folder on a small tmpfs filled to the last byte (needs root; ENOSPC), or, where
mounting is refused, the server under RLIMIT_FSIZE, where any write past the limit fails with EFBIG."""
from __future__ import annotations

import errno
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import httpx

from api.testing import DRILL_ENV, DrillError, plain_line, running_server, snapshot
from index.store import leftovers

TMPFS_SIZE = "8m"
FILE_SIZE_LIMIT = 1024 * 1024  # RLIMIT_FSIZE: the server's log stays far below it


@dataclass
class Attempt:
    what: str
    status: int
    detail: str
    state_unchanged: bool  # documents and search results as before the attempt
    leftovers: int


def cheap_big_text(size: int) -> str:
    """Megabytes of text that embed in a moment: two sentences apart by a long run of blanks, which tokenizers collapse
    (e5: a 100,000-space run counts no token), so the document is large on disk and one small chunk to embed."""
    head = "Le registre du phare de Kerbrat tient en une ligne.\n"
    tail = "\nLa lanterne du phare de Kerbrat est verte.\n"
    return head + " " * max(0, size - len(head) - len(tail)) + tail


def can_mount_tmpfs(target: Path) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(target)],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def tmpfs(target: Path) -> Iterator[Path]:
    if not can_mount_tmpfs(target):
        raise DrillError(f"cannot mount a tmpfs on {target} (needs root)")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], capture_output=True, timeout=60)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = disk / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        block = b"\0" * 65536
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass
    return filler


def _attempt(client: httpx.Client, what: str, before: dict, index_dir: Path, **request) -> Attempt:
    r = client.post("/v1/documents", **request)
    detail = r.json().get("detail", "") if r.status_code >= 400 else ""
    return Attempt(what, r.status_code, str(detail), snapshot(client) == before, len(leftovers(index_dir)))


def disk_full_drill(index_dir: Path, scratch: Path, mode: str = "auto") -> dict:
    """mode: "tmpfs", "rlimit", or "auto" (tmpfs when it can be mounted, else rlimit)."""
    if mode == "auto":
        probe = scratch / "probe"
        mode = "tmpfs" if can_mount_tmpfs(probe) else "rlimit"
        if mode == "tmpfs":
            subprocess.run(["umount", str(probe)], capture_output=True, timeout=60)
    if mode == "tmpfs":
        with tmpfs(scratch / "disk") as disk:
            shutil.copytree(index_dir, disk / "index")
            return _drill(disk / "index", mode, filler_disk=disk)
    return _drill(index_dir, mode)


def _drill(index_dir: Path, mode: str, filler_disk: Path | None = None) -> dict:
    small = {"json": {"doc_id": "plein/petit.txt", "text": "Le phare de Kerbrat a une lanterne verte."}}
    with running_server(index_dir, env=DRILL_ENV,
                        file_size_limit=FILE_SIZE_LIMIT if mode == "rlimit" else None) as server:
        with httpx.Client(base_url=server.base, timeout=600) as client:
            before = snapshot(client)
            attempts = []
            if filler_disk is not None:
                filler = fill(filler_disk)
                size = len(small["json"]["text"].encode())
                attempts.append(_attempt(client, f"JSON text, {size} bytes", before, index_dir, **small))
                attempts.append(_attempt(client, f"multipart file, {size} bytes", before, index_dir,
                                         files={"file": ("petit.txt", small["json"]["text"].encode(), "text/plain")}))
                deleted = client.delete(f"/v1/documents/{next(iter(before['documents']))}")
                attempts.append(Attempt("DELETE", deleted.status_code, str(deleted.json().get("detail", "")),
                                        snapshot(client) == before, len(leftovers(index_dir))))
                filler.unlink()
            else:
                text = cheap_big_text(int(1.5 * FILE_SIZE_LIMIT))
                attempts.append(_attempt(client, f"JSON text, {len(text.encode()):,} bytes", before, index_dir,
                                         json={"doc_id": "plein/gros.txt", "text": text}))
                attempts.append(_attempt(client, f"multipart file, {len(text.encode()):,} bytes", before, index_dir,
                                         files={"file": ("gros.txt", text.encode(), "text/plain")}))
            search = client.post("/v1/search", json={"query": "Combien de temps a duré la visioconférence ?"})
            afterwards = client.post("/v1/documents", **small)  # room again (tmpfs), or small enough (rlimit)
            documents = client.get("/v1/documents").json()["total"]
    return {
        "mode": mode, "limit": TMPFS_SIZE + " tmpfs, filled" if mode == "tmpfs" else f"RLIMIT_FSIZE {FILE_SIZE_LIMIT:,} bytes",
        "attempts": [asdict(a) for a in attempts],
        "failed": sum(a.status != 507 or not a.state_unchanged or a.leftovers or not plain_line(a.detail)
                      for a in attempts)
                  + (search.status_code != 200) + (afterwards.status_code != 201),
        "search_while_full": search.status_code, "upload_with_room_again": afterwards.status_code,
        "documents_at_the_end": documents, "documents_before": len(before["documents"]),
    }
