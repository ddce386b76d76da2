"""A soak of one server (`python -m api.loadtest --soak`): many questions at a small concurrency, with uploads and
deletes mixed in, and the server's resident memory, open files and threads read every `every` questions, so that a
slow leak shows as growth between readings.

Questions come from the seed gold set (eval/gold/seed_gold.jsonl, cycled) and about the documents uploaded during
the run. Every 10 questions one small document is uploaded and the one uploaded two rounds earlier is deleted.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

from api.testing import check_loopback

GOLD = Path(__file__).resolve().parent.parent / "eval" / "gold" / "seed_gold.jsonl"
UPLOAD_EVERY = 10


def gold_questions() -> list[str]:
    try:
        return [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError, KeyError):  # a copy without eval/: two questions the seed article answers
        return ["Combien de temps a duré la visioconférence ?", "Qui est le conseiller de Poutine pour la politique étrangère ?"]


def soak_document(j: int) -> tuple[str, str]:
    return f"soak/{j}.txt", (f"Le registre de la jetée numéro {j} mentionne {j * 13 % 89 + 2} bateaux de pêche. "
                             f"La jetée numéro {j} a été allongée en {1900 + j}.")


def plan(questions: int, upload_every: int = UPLOAD_EVERY) -> list[tuple[str, object]]:
    """("ask", question) items, with ("upload", j) before every `upload_every` questions and ("delete", j) for the
    document uploaded two rounds before."""
    pool = gold_questions()
    items: list[tuple[str, object]] = []
    for i in range(questions):
        j = i // upload_every
        if i % upload_every == 0:
            items.append(("upload", j))
            if j >= 2:
                items.append(("delete", j - 2))
        asked = f"Combien de bateaux de pêche mentionne le registre de la jetée numéro {j} ?" if i % 5 == 4 \
            else pool[i % len(pool)]
        items.append(("ask", asked))
    return items


def _resources(pid: int | None, metrics: str) -> dict:
    """RSS, open files and threads of the server: from psutil when it runs here, else from /metrics (no threads)."""
    if pid is not None:
        import psutil

        process = psutil.Process(pid)
        return {"rss_mb": round(process.memory_info().rss / 2**20, 1), "open_files": process.num_fds(),
                "threads": process.num_threads()}
    values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
              if line.startswith(("process_resident_memory_bytes ", "process_open_fds "))}
    return {"rss_mb": round(values.get("process_resident_memory_bytes", 0) / 2**20, 1),
            "open_files": int(values.get("process_open_fds", 0)), "threads": None}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000, 1)


async def run_soak(base: str, questions: int = 300, concurrency: int = 4, every: int = 50, pid: int | None = None,
                   key: str | None = None, timeout: float = 900, upload_every: int = UPLOAD_EVERY) -> dict:
    check_loopback(base)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    todo: asyncio.Queue = asyncio.Queue()
    for item in plan(questions, upload_every):
        todo.put_nowait(item)
    uploaded: dict[int, asyncio.Event] = {}
    latencies: dict[str, list[float]] = {"ask": [], "upload": [], "delete": []}
    failures: list[str] = []
    readings: list[dict] = []
    answered = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, limits=limits) as client:

        async def read(label: int) -> None:
            metrics = "" if pid is not None else (await client.get("/metrics")).text
            readings.append({"questions": label, **_resources(pid, metrics)})
            # As it happens, so that a long run cut short still leaves its readings.
            print(f"soak: {time.perf_counter() - started:7.0f} s, {len(failures)} errors, {readings[-1]}",
                  file=sys.stderr, flush=True)

        await read(0)

        async def one(kind: str, what) -> httpx.Response:
            if kind == "ask":
                return await client.post("/v1/ask", json={"question": what})
            doc_id, text = soak_document(what)
            if kind == "upload":
                try:
                    return await client.post("/v1/documents", json={"doc_id": doc_id, "text": text})
                finally:
                    uploaded.setdefault(what, asyncio.Event()).set()
            await uploaded.setdefault(what, asyncio.Event()).wait()  # never delete before the upload has answered
            return await client.delete(f"/v1/documents/{doc_id}")

        async def worker() -> None:
            nonlocal answered
            while not todo.empty():
                kind, what = todo.get_nowait()
                began = time.perf_counter()
                try:
                    r = await one(kind, what)
                    if r.status_code >= 300:
                        failures.append(f"{kind} {what!r}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(f"{kind} {what!r}: {exc!r}")
                latencies[kind].append(time.perf_counter() - began)
                if kind == "ask":
                    answered += 1
                    if answered % every == 0:
                        await read(answered)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if answered % every:
            await read(answered)
    first = next((r for r in readings if r["questions"] >= min(every, answered)), readings[-1])
    last = readings[-1]
    every_latency = [x for values in latencies.values() for x in values]
    return {
        "questions": answered, "uploads": len(latencies["upload"]), "deletes": len(latencies["delete"]),
        "concurrency": concurrency, "errors": len(failures), "seconds": round(time.perf_counter() - started, 1),
        "p50_ms": _pct(every_latency, 50), "p95_ms": _pct(every_latency, 95),
        "ask_p50_ms": _pct(latencies["ask"], 50), "ask_p95_ms": _pct(latencies["ask"], 95),
        "upload_p50_ms": _pct(latencies["upload"], 50), "delete_p50_ms": _pct(latencies["delete"], 50),
        "readings": readings,
        # From the first reading after warm-up (question `every`) to the last: the growth a leak would show.
        "rss_growth_pct": round(100 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 1) if first["rss_mb"] else None,
        "open_files_growth": last["open_files"] - first["open_files"],
        "threads_growth": None if last["threads"] is None else last["threads"] - first["threads"],
        "failures": failures[:10],
    }


def print_soak(figures: dict, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(figures, indent=1, ensure_ascii=False))
        return
    print(f"{figures['questions']} questions, {figures['uploads']} uploads, {figures['deletes']} deletes at concurrency "
          f"{figures['concurrency']}: {figures['errors']} errors in {figures['seconds']} s")
    print(f"latency p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms; questions p50 {figures['ask_p50_ms']} ms, "
          f"p95 {figures['ask_p95_ms']} ms; uploads p50 {figures['upload_p50_ms']} ms; deletes p50 {figures['delete_p50_ms']} ms")
    for r in figures["readings"]:
        print(f"  after {r['questions']:4d} questions: RSS {r['rss_mb']:8.1f} MB, open files {r['open_files']:4d}, "
              f"threads {r['threads']}")
    print(f"growth from the first reading after warm-up to the last: RSS {figures['rss_growth_pct']} %, open files "
          f"{figures['open_files_growth']:+d}, threads {figures['threads_growth']}")
    for failure in figures["failures"]:
        print("  failure:", failure)
