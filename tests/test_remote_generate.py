"""The `openai` backend against a real, separate model server: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`) on the bundled GGUF, on a free loopback port. Ask, stream, the confidence gate from
the server's logprobs, the fallback without them, and a model server killed mid-answer."""
import json
import time

import httpx
import pytest

from api.testing import free_port, llama_server, running_server
from rag.checks.cite import UNSURE

pytest.importorskip("llama_cpp.server", reason="install llama-cpp-python[server] to test the openai backend")

QUESTION = "Qui est le conseiller de Poutine pour la politique étrangère ?"
UNANSWERABLE = "Quel est le prix du gaz livré à la Chine ?"


@pytest.fixture(scope="module")
def gguf():
    from rag.models.assets import resolve_gguf
    from rag.config import Settings

    return resolve_gguf("qwen2.5-coder-1.5b", Settings().cache_dir)


@pytest.fixture(scope="module")
def model_server(gguf):
    with llama_server(gguf) as server:
        yield server


def remote_env(base: str, **extra: str) -> dict[str, str]:
    # probe: llama-cpp-python's server slows every token down when logprobs are asked with the answer.
    # repeat_penalty 1.0: its default (1.1) is not the greedy decoding the in-process backend does.
    return {"RAG_BACKEND": "openai", "RAG_OPENAI_BASE_URL": f"{base}/v1", "RAG_OPENAI_LOGPROBS": "probe",
            "RAG_OPENAI_EXTRA_BODY": json.dumps({"repeat_penalty": 1.0}), "RAG_REMOTE_RETRIES": "1", **extra}


def remote_pipeline(index_dir, base: str, **settings):
    from rag.config import Settings
    from rag.pipeline import RagPipeline

    settings = {"openai_logprobs": "probe", "openai_extra_body": {"repeat_penalty": 1.0}, "remote_retries": 1,
                **settings}
    p = RagPipeline(Settings(index_dir=index_dir, backend="openai", openai_base_url=f"{base}/v1", **settings))
    p.warm_up()
    return p


@pytest.fixture(scope="module")
def remote(seed_index, model_server):
    return remote_pipeline(seed_index, model_server.base)


def test_remote_answers_and_confidence_match_the_in_process_backend(remote, pipeline):
    """Same GGUF, same prompt: the same cited sentence, and a confidence within a few hundredths (the server
    evaluates the prompt in other batches, which moves logits slightly)."""
    local, far = pipeline.ask(QUESTION), remote.ask(QUESTION)
    assert not far.abstained and "Ouchakov" in far.answer
    assert [c.start for c in far.citations] == [c.start for c in local.citations]
    assert far.confidence is not None and abs(far.confidence - local.confidence) < 0.05
    assert remote.generator.logprobs is True and remote.generator.confidence_note is None


def test_the_confidence_gate_uses_the_server_logprobs(remote, monkeypatch):
    measured = remote.ask(QUESTION).confidence
    monkeypatch.setattr(remote, "settings", remote.settings.model_copy(update={"min_answer_confidence": 1.0}))
    gated = remote.ask(QUESTION)
    assert gated.abstained and gated.confidence == measured
    assert gated.abstain_reason.startswith(UNSURE) and f"{measured:.2f}" in gated.abstain_reason


def test_without_logprobs_there_is_no_gate_and_the_answer_says_so(seed_index, model_server):
    bare = remote_pipeline(seed_index, model_server.base, openai_logprobs="off")
    answer = bare.ask(UNANSWERABLE)
    assert answer.confidence is None and answer.abstained
    assert answer.abstain_reason.endswith("(no confidence gate: the model server gives no logprobs)")
    usable, line = bare.generator.readiness()
    assert usable and "no confidence gate" in line


def _events(response):
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield kind, json.loads(line[6:])


@pytest.fixture(scope="module")
def api(seed_index, model_server):
    with running_server(seed_index, env=remote_env(model_server.base)) as server:
        yield server


def test_ask_and_stream_through_our_api(api, seed_text):
    ready = httpx.get(f"{api.base}/readyz", timeout=10).json()
    assert ready["status"] == "ready" and "at http://127.0.0.1" in ready["detail"]
    body = httpx.post(f"{api.base}/v1/ask", json={"question": "Combien de temps a duré la visioconférence ?"},
                      timeout=180).json()
    assert not body["abstained"] and "heure" in body["answer"] and body["confidence"] > 0.9
    assert all(seed_text[c["start"]:c["end"]] == c["quote"] for c in body["citations"])
    assert "logprobs: yes" in httpx.get(f"{api.base}/readyz", timeout=10).json()["detail"]
    with httpx.stream("POST", f"{api.base}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=180) as r:
        events = list(_events(r))
    kinds = [k for k, _ in events]
    assert kinds[0] == "passages" and "token" in kinds and kinds[-2:] == ["citations", "done"]
    assert "Ouchakov" in "".join(d["text"] for k, d in events if k == "token")
    assert "Ouchakov" in events[-1][1]["answer"]


def test_a_model_server_killed_mid_answer(gguf, seed_index):
    """The answer in flight ends with an error event, /healthz keeps answering, questions get 503 with the reason,
    /readyz says the server is down, and comes back by itself once the server does."""
    port = free_port()
    with llama_server(gguf, port=port) as model:
        with running_server(seed_index, env=remote_env(model.base)) as server:
            with httpx.stream("POST", f"{server.base}/v1/ask", json={"question": QUESTION, "stream": True},
                              timeout=120) as r:
                events = []
                for kind, data in _events(r):
                    events.append((kind, data))
                    if kind == "passages":  # the generation request is in flight now
                        model.process.kill()
                        killed = time.perf_counter()
            assert events[-1][0] == "error" and "model server" in events[-1][1]["detail"]
            assert time.perf_counter() - killed < 30
            assert httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
            down = httpx.post(f"{server.base}/v1/ask", json={"question": QUESTION}, timeout=30)
            assert down.status_code == 503 and "model server" in down.json()["detail"]
            assert down.headers["retry-after"]
            ready = httpx.get(f"{server.base}/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
            # search needs no model: it still works
            assert httpx.post(f"{server.base}/v1/search", json={"query": "gazoduc"}, timeout=30).status_code == 200
            with llama_server(gguf, port=port):
                deadline = time.time() + 60
                while httpx.get(f"{server.base}/readyz", timeout=10).status_code != 200:
                    assert time.time() < deadline, "readyz did not see the model server come back"
                    time.sleep(0.5)
