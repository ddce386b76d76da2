"""A bounded load test on loopback: 200 requests at concurrency 8 against a real server, with no errors; prints
p50/p95 and the server's RSS before and after (pytest -s shows them). Also: many questions at once never
interleave on the model (each streamed answer is whole and the same as when asked alone), and a short soak
(questions with uploads and deletes mixed in) neither fails nor leaks open files, threads or memory."""
import asyncio
import json
import shutil

import httpx
import pytest

from api.loadtest import check_loopback, run_load
from api.testing import running_server


@pytest.fixture(scope="module")
def server(seed_index, tmp_path_factory):
    index = tmp_path_factory.mktemp("load") / "index"
    shutil.copytree(seed_index, index)  # the soak adds and deletes documents
    with running_server(index, env={"RAG_MAX_QUEUE": "16"}) as s:
        yield s


def test_200_requests_at_concurrency_8_give_no_errors(server):
    result = asyncio.run(run_load(server.base, requests=200, concurrency=8, mix="mixed", ask_every=40))
    figures = result.summary()
    print(json.dumps({k: v for k, v in figures.items() if k != "failures"}, indent=1))
    assert figures["errors"] == 0, figures["failures"]
    assert sum(figures["statuses"].values()) == 200 and set(figures["statuses"]) == {"200"}
    assert figures["by_route"]["ask"]["n"] == 5 and figures["by_route"]["search"]["n"] > 100
    # Reported, not bounded here: each new question adds a llama.cpp prompt-cache state (see the README's HTTP API
    # section); a search-only load leaves RSS flat after the first round.
    assert figures["rss_before_mb"] > 0 and figures["rss_after_mb"] > 0


async def _ask_concurrently(base: str, question: str, times: int) -> list[dict]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        async def one() -> dict:
            text, done = "", None
            async with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as r:
                assert r.status_code == 200
                kind = None
                async for line in r.aiter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "token":
                        text += json.loads(line[6:])["text"]
                    elif line.startswith("data: ") and kind == "done":
                        done = json.loads(line[6:])
            return {"streamed": text, "done": done}

        return await asyncio.gather(*(one() for _ in range(times)))


def test_concurrent_questions_never_mix_model_state(server):
    question = "Quand l'approvisionnement via le gazoduc doit-il débuter ?"
    answers = asyncio.run(_ask_concurrently(server.base, question, 3))
    first = answers[0]
    for other in answers[1:]:
        assert other["streamed"] == first["streamed"]
        assert other["done"]["answer"] == first["done"]["answer"]
        assert other["done"]["citations"] == first["done"]["citations"]


def test_a_short_soak_with_uploads_and_deletes_gives_no_errors_and_no_leak(server):
    from api.soak import run_soak

    figures = asyncio.run(run_soak(server.base, questions=16, concurrency=4, every=4, pid=server.process.pid,
                                   upload_every=4))
    print(json.dumps({k: v for k, v in figures.items() if k != "failures"}, indent=1))
    assert figures["errors"] == 0, figures["failures"]
    assert (figures["questions"], figures["uploads"], figures["deletes"]) == (16, 4, 2)
    assert len(figures["readings"]) == 5
    # Thread pools grow to the concurrency once and stay; a leak grows with every request.
    assert figures["open_files_growth"] <= 8 and figures["threads_growth"] <= 4
    assert figures["rss_growth_pct"] < 20  # an unbounded prompt cache added about 300 MB per new question


def test_only_loopback_targets():
    for ok in ("http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80", "http://127.3.4.5"):
        check_loopback(ok)
    for bad in ("http://10.0.0.1:8000", "http://192.168.1.2", "http://example.com"):
        with pytest.raises(SystemExit):
            check_loopback(bad)
