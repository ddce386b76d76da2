"""A bounded load test on loopback: N requests at concurrency C against a running server, or one it starts.

    python -m api.loadtest                          # 200 requests, concurrency 8, mixed, on a fresh server of seeds/
    python -m api.loadtest --mix ask -n 40          # questions only (each runs the model)
    python -m api.loadtest --soak                   # 300 questions at concurrency 4, uploads and deletes mixed in
    python -m api.loadtest --base http://127.0.0.1:8000 --key KEY

Mixed load: every `--ask-every`-th request is a question (POST /v1/ask), the rest cycle through search, document
listing and health. Prints p50/p95/p99 latency, throughput, errors (any non-2xx or transport failure) and the
server's resident memory before and after (from /metrics). Only loopback addresses are accepted as targets.
Soak (api/soak.py): questions from the seed gold set and about the uploaded documents, one upload and one delete
every 10 questions, and the server's RSS, open files and threads every `--every` questions.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.testing import check_loopback

QUERIES = [
    "gazoduc Power of Siberia", "conseiller de Poutine", "visioconférence Xi Jinping", "sanctions occidentales",
    "Organisation de coopération de Shanghai", "zone démilitarisée", "investiture Trump", "centrales nucléaires",
]
QUESTIONS = [
    "Quand l'approvisionnement via le gazoduc doit-il débuter ?",
    "Combien de temps a duré la visioconférence ?",
    "Qui est le conseiller de Poutine pour la politique étrangère ?",
    "Quel est le prix du gaz livré à la Chine ?",
]


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    failures: list[str] = field(default_factory=list)

    def all_latencies(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)

    def summary(self) -> dict:
        def pct(values: list[float], p: float) -> float:
            if not values:
                return 0.0
            values = sorted(values)
            return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000, 1)

        every = self.all_latencies()
        return {
            "requests": self.requests, "errors": self.errors, "seconds": round(self.seconds, 1),
            "throughput_rps": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": pct(every, 50), "p95_ms": pct(every, 95), "p99_ms": pct(every, 99),
            "max_ms": round(max(every) * 1000, 1) if every else 0.0,
            "by_route": {name: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95),
                                "mean_ms": round(statistics.mean(v) * 1000, 1)} for name, v in sorted(self.latencies.items())},
            "statuses": self.statuses,
            "rss_before_mb": round(self.rss_before / 2**20, 1), "rss_after_mb": round(self.rss_after / 2**20, 1),
            "failures": self.failures[:10],
        }


def plan(n: int, mix: str, ask_every: int) -> list[tuple[str, str, str, dict | None]]:
    """(label, method, path, json body) for each request, in order."""
    requests = []
    others = [("search", "POST", "/v1/search"), ("search", "POST", "/v1/search"), ("search", "POST", "/v1/search"),
              ("documents", "GET", "/v1/documents"), ("healthz", "GET", "/healthz")]
    for i in range(n):
        if mix == "ask" or (mix == "mixed" and ask_every and i % ask_every == ask_every - 1):
            requests.append(("ask", "POST", "/v1/ask", {"question": QUESTIONS[i % len(QUESTIONS)]}))
            continue
        label, method, path = others[i % len(others)]
        body = {"query": QUERIES[i % len(QUERIES)], "top_k": 3} if label == "search" else None
        requests.append((label, method, path, body))
    return requests


async def rss(client: httpx.AsyncClient) -> float:
    r = await client.get("/metrics")
    for line in r.text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return float(line.split()[1])
    return 0.0


async def run_load(base: str, requests: int = 200, concurrency: int = 8, mix: str = "mixed", ask_every: int = 25,
                   key: str | None = None, timeout: float = 600) -> Result:
    check_loopback(base)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    result = Result(requests=requests)
    todo: asyncio.Queue = asyncio.Queue()
    for item in plan(requests, mix, ask_every):
        todo.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, limits=limits) as client:
        result.rss_before = await rss(client)

        async def worker() -> None:
            while not todo.empty():
                label, method, path, body = todo.get_nowait()
                started = time.perf_counter()
                try:
                    r = await client.request(method, path, json=body)
                    status = str(r.status_code)
                    if r.status_code >= 300:
                        result.errors += 1
                        result.failures.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                    result.errors += 1
                    result.failures.append(f"{method} {path}: {exc!r}")
                result.latencies.setdefault(label, []).append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
        result.rss_after = await rss(client)
    return result


def _seed_index(target: Path) -> Path:
    from rag.config import Settings
    from rag.pipeline import make_indexer

    make_indexer(Settings(index_dir=target)).index_paths([Path(__file__).resolve().parent.parent / "seeds"])
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a running server (loopback only); default: start one")
    parser.add_argument("--index-dir", help="index for the server started here (default: a fresh index of seeds/)")
    parser.add_argument("-n", "--requests", type=int, help="requests (default 200), or questions with --soak (300)")
    parser.add_argument("-c", "--concurrency", type=int, help="default 8, or 4 with --soak")
    parser.add_argument("--soak", action="store_true", help="a long run of questions with uploads and deletes mixed in")
    parser.add_argument("--every", type=int, default=50, help="with --soak: questions between resource readings")
    parser.add_argument("--mix", choices=["mixed", "ask", "search"], default="mixed")
    parser.add_argument("--ask-every", type=int, default=25, help="in a mixed load, one question every N requests")
    parser.add_argument("--key", help="API key, when the server has RAG_API_KEYS")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.requests = args.requests or (300 if args.soak else 200)
    args.concurrency = args.concurrency or (4 if args.soak else 8)
    if args.requests < 1 or args.concurrency < 1 or args.requests > 100_000:
        parser.error("--requests must be 1..100000 and --concurrency at least 1")

    from api.testing import DrillError, running_server

    try:
        with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
            if args.base:
                context, base = nullcontext(None), args.base
            else:
                index = Path(args.index_dir) if args.index_dir else _seed_index(Path(tmp) / "index")
                context = running_server(index, env={"RAG_MAX_QUEUE": str(max(16, args.concurrency))})
            with context as server:
                base = server.base if server else base
                if args.soak:
                    from api.soak import print_soak, run_soak

                    soak = asyncio.run(run_soak(base, args.requests, args.concurrency, args.every,
                                                pid=server.process.pid if server else None, key=args.key))
                    print_soak(soak, args.json)
                    return 1 if soak["errors"] else 0
                result = asyncio.run(run_load(base, args.requests, args.concurrency, args.mix, args.ask_every, args.key))
    except DrillError as exc:  # the server it started never became ready
        print(f"loadtest: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    figures = result.summary()
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print(f"{figures['requests']} requests, concurrency {args.concurrency}, mix {args.mix}: "
              f"{figures['errors']} errors in {figures['seconds']} s ({figures['throughput_rps']} req/s)")
        print(f"latency p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
        for name, row in figures["by_route"].items():
            print(f"  {name:10s} n={row['n']:4d}  p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms")
        print(f"server RSS {figures['rss_before_mb']} MB before, {figures['rss_after_mb']} MB after")
        for failure in figures["failures"]:
            print("  failure:", failure)
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
