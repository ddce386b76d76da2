"""Fault drills against a real `rag serve` on loopback; they print the figures quoted in the README.

    python -m api.faults crash --trials 20   # SIGKILL mid-upload, mid-replace, mid-delete; restart; compare states
    python -m api.faults bounds              # a 50 MB text, a 2,000-page PDF, HTML nested 10,000 deep, a long name
    python -m api.faults diskfull            # uploads into a full index disk (tmpfs when it can mount one)
    python -m api.faults hostile             # hostile documents: special tokens, fake markers, injections

Each drill runs over a temporary copy of a fresh seeds/ index, with its own servers (hostile: the pipeline in-process,
to record the model's prompts), and stops them when done.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from api.bounds import bounds_drill
from api.diskfull import disk_full_drill
from api.hostile import hostile_drill
from api.testing import DRILL_ENV, DrillError, Server, running_server, snapshot
from index.store import leftovers

BASE_ID, NEW_ID = "crash/base.txt", "crash/new.txt"
KINDS = ("add", "replace", "delete")


def register(n: int, first: int = 0) -> str:
    """Distinct, searchable sentences: about 20 chunks for n=150, a second or two of embedding."""
    return " ".join(f"Le registre n° {i} du port de Kerbrat mentionne {i * 7 % 97} navires en {1800 + i % 200}."
                    for i in range(first, first + n))


BASE, REPLACEMENT, NEW = register(150), register(150, 1000), register(150, 2000)


def upload(client: httpx.Client, doc_id: str, text: str) -> httpx.Response:
    return client.post("/v1/documents", files={"file": (doc_id.rsplit("/", 1)[-1], text.encode(), "text/plain")},
                       data={"doc_id": doc_id})


def write(kind: str, client: httpx.Client) -> httpx.Response:
    if kind == "add":
        return upload(client, NEW_ID, NEW)
    if kind == "replace":
        return upload(client, BASE_ID, REPLACEMENT)
    return client.delete(f"/v1/documents/{BASE_ID}")


def undo(kind: str, client: httpx.Client) -> None:
    r = client.delete(f"/v1/documents/{NEW_ID}") if kind == "add" else upload(client, BASE_ID, BASE)
    if r.status_code >= 300:
        raise DrillError(f"undoing {kind} failed: {r.status_code} {r.text[:200]}")


def outcome_of(response: httpx.Response) -> dict:
    """The parts of a write's answer that must not depend on whether it was a retry."""
    if response.status_code == 404:
        return {"status": 404}
    body = response.json()
    return {"doc_id": body.get("doc_id"), "chunks": body.get("chunks"), "documents": body.get("documents")}


@dataclass
class Trial:
    kind: str
    kill: str  # "at 0.84 s" or "at the first .tmp- folder"
    state: str  # "before", "after" or "corrupt"
    left_by_kill: int  # leftovers in the index folder right after the kill
    orphans_after_restart: int  # what the start-up sweep missed (must be 0)
    generations: int
    retry_status: int
    retry_same_result: bool
    retry_state_after: bool
    restored: bool


def _kill_during(server: Server, kind: str, index_dir: Path, moment: float | None, patience: float) -> str:
    """Send the write on a thread, then SIGKILL the server `moment` seconds later or, with None, as soon as a
    `.tmp-` folder shows that the new generation is being written."""
    def send() -> None:
        try:
            with httpx.Client(base_url=server.base, timeout=120) as client:
                write(kind, client)
        except httpx.HTTPError:
            pass  # the server died under the request: expected

    sender = threading.Thread(target=send, daemon=True)
    started = time.monotonic()
    sender.start()
    if moment is not None:
        time.sleep(moment)
        how = f"at {moment:.2f} s"
    else:
        while time.monotonic() - started < patience and not any(n.startswith(".tmp-") for n in os.listdir(index_dir)):
            time.sleep(0.0005)
        how = f"at the first .tmp- folder ({time.monotonic() - started:.2f} s)"
    server.kill()
    sender.join(timeout=60)
    return how


def crash_drill(index_dir: Path, trials: int, seed: int = 0, say=print) -> dict:
    """`trials` SIGKILLs during writes through the API; after each, a restarted server must show exactly the state
    before or after the write, no leftover folders, and a retry of the write must end in the state after it."""
    rng = random.Random(seed)
    stack = ExitStack()
    try:
        server = stack.enter_context(running_server(index_dir, env=DRILL_ENV))
        with httpx.Client(base_url=server.base, timeout=300) as client:
            if upload(client, BASE_ID, BASE).status_code >= 300:
                raise DrillError("cannot add the base document")
            before = snapshot(client)
            after, seconds, answers = {}, {}, {}
            for kind in KINDS:  # the state each write leads to, measured once without a kill
                started = time.perf_counter()
                response = write(kind, client)
                seconds[kind] = time.perf_counter() - started
                if response.status_code >= 300:
                    raise DrillError(f"{kind} failed: {response.status_code} {response.text[:200]}")
                after[kind], answers[kind] = snapshot(client), outcome_of(response)
                undo(kind, client)
                if snapshot(client) != before:
                    raise DrillError(f"undoing {kind} did not restore the state")
        say(f"writes without a kill: " + ", ".join(f"{k} {s:.2f} s" for k, s in seconds.items()))
        results = []
        for number in range(1, trials + 1):
            kind = KINDS[(number - 1) % len(KINDS)]
            moment = None if number % 2 == 0 else rng.uniform(0, 1.5 * seconds[kind])
            how = _kill_during(server, kind, index_dir, moment, patience=10 * seconds[kind] + 5)
            stack.close()
            left_by_kill = len(leftovers(index_dir))
            stack = ExitStack()
            server = stack.enter_context(running_server(index_dir, env=DRILL_ENV))
            with httpx.Client(base_url=server.base, timeout=300) as client:
                state = snapshot(client)
                verdict = "before" if state == before else "after" if state == after[kind] else "corrupt"
                orphans = len(leftovers(index_dir))
                generations = len(list(index_dir.glob("gen-*")))
                retry = write(kind, client)
                same = outcome_of(retry) == answers[kind] or (kind == "delete" and verdict == "after" and retry.status_code == 404)
                retried_state = snapshot(client) == after[kind]
                undo(kind, client)
                restored = snapshot(client) == before
            trial = Trial(kind, how, verdict, left_by_kill, orphans, generations, retry.status_code, same,
                          retried_state, restored)
            results.append(trial)
            say(f"trial {number}/{trials}: {kind}, killed {how}: state {verdict}; {left_by_kill} leftover(s) after the "
                f"kill, {orphans} after the restart's sweep, {generations} generation folder(s); retry "
                f"{retry.status_code}, same result {same}, state after {retried_state}; restored {restored}")
    finally:
        stack.close()
    return {
        "trials": len(results),
        "state_before": sum(t.state == "before" for t in results),
        "state_after": sum(t.state == "after" for t in results),
        "corrupt": sum(t.state == "corrupt" for t in results),
        "kills_that_left_leftovers": sum(t.left_by_kill > 0 for t in results),
        "orphans_after_restart": sum(t.orphans_after_restart for t in results),
        "max_generation_folders": max((t.generations for t in results), default=0),
        "retries_with_same_result": sum(t.retry_same_result and t.retry_state_after for t in results),
        "restored": sum(t.restored for t in results),
        "per_trial": [asdict(t) for t in results],
    }


def seed_index(target: Path) -> Path:
    from rag.config import Settings
    from rag.pipeline import make_indexer

    make_indexer(Settings(index_dir=target)).index_paths([Path(__file__).resolve().parent.parent / "seeds"])
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.faults", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="drill", required=True)
    crash = sub.add_parser("crash", help="SIGKILL the server during document writes")
    crash.add_argument("--trials", type=int, default=20)
    crash.add_argument("--seed", type=int, default=0, help="for the random kill moments")
    sub.add_parser("bounds", help="oversized inputs: time and peak RSS of each")
    sub.add_parser("diskfull", help="an upload into a full disk")
    sub.add_parser("hostile", help="questions about documents holding special tokens, fake markers and injections")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.drill == "crash" and not 1 <= args.trials <= 1000:
        parser.error("--trials must be 1..1000")

    with tempfile.TemporaryDirectory(prefix="rag-faults-") as tmp:
        index = seed_index(Path(tmp) / "index")
        try:
            if args.drill == "crash":
                figures = crash_drill(index, args.trials, args.seed)
            elif args.drill == "bounds":
                figures = bounds_drill(index, Path(tmp))
            elif args.drill == "hostile":
                figures = hostile_drill(index, Path(tmp))
            else:
                figures = disk_full_drill(index, Path(tmp))
        except DrillError as exc:
            print(f"faults: error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
    shown = figures if args.json else {k: v for k, v in figures.items() if k not in ("per_trial", "cases")}
    print(json.dumps(shown, indent=1, ensure_ascii=False))
    failed = figures.get("failed", 0) or figures.get("corrupt", 0) or figures.get("orphans_after_restart", 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
