"""A real `rag serve` process (uvicorn) answering over HTTP on loopback: ask (JSON and streamed), search,
health and readiness, metrics, request ids, docs."""
import json
import time

import httpx
import pytest

from api.testing import running_server


@pytest.fixture(scope="module")
def server(seed_index):
    # running_server waits until /readyz is 200: models loaded, index open.
    with running_server(seed_index) as s:
        yield s


def test_health_is_liveness_and_readyz_is_readiness(server):
    live = httpx.get(f"{server.base}/healthz", timeout=10)
    assert live.status_code == 200 and live.json()["status"] == "ok" and live.json()["ready"] is True
    ready = httpx.get(f"{server.base}/readyz", timeout=10).json()
    assert ready["status"] == "ready" and ready["documents"] == 1 and ready["chunks"] >= 1


def test_readyz_is_503_while_loading(tmp_path):
    """Before the models are loaded (or when start-up fails) readiness is refused; liveness is not."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from rag.config import Settings

    app = create_app(Settings(index_dir=tmp_path / "missing"))
    client = TestClient(app)  # no lifespan: nothing loads
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "loading"
    assert client.post("/v1/ask", json={"question": "Qui ?"}).status_code == 503
    app.state.service.load()  # no index there: start-up fails, and says why
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "error" and "no index" in r.json()["detail"]


def test_ask_over_http(server, seed_text):
    r = httpx.post(f"{server.base}/v1/ask", json={"question": "Combien de temps a duré la visioconférence ?"}, timeout=120)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"question", "answer", "abstained", "citations", "passages", "timings_ms", "usage"}
    assert "raw_answer" not in body
    assert not body["abstained"] and "heure" in body["answer"]
    for c in body["citations"]:
        assert seed_text[c["start"] : c["end"]] == c["quote"]
    assert {"retrieve", "generate", "total"} <= set(body["timings_ms"])
    assert r.headers["x-request-id"]


def _sse(response) -> list[tuple[float, str, object]]:
    """(arrival time, event, data) for each server-sent event, as it arrives."""
    events, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((time.perf_counter(), kind, json.loads(line[6:])))
    return events


def test_ask_streams_tokens_as_the_model_emits_them(server, seed_text):
    question = {"question": "Quand l'approvisionnement via le gazoduc doit-il débuter ?", "stream": True}
    with httpx.stream("POST", f"{server.base}/v1/ask", json=question, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r)
    kinds = [k for _, k, _ in events]
    assert kinds[0] == "passages" and kinds[-2:] == ["citations", "done"] and "error" not in kinds
    tokens = [(t, d["text"]) for t, k, d in events if k == "token"]
    assert len(tokens) >= 3
    # Tokens arrive one by one while the model writes, not in a burst at the end.
    assert tokens[-1][0] - tokens[0][0] > 0.05
    assert tokens[0][0] < events[-1][0]
    done = events[-1][2]
    assert "2027" in done["answer"] and not done["abstained"] and "raw_answer" not in done
    assert events[-2][2] == done["citations"]
    for c in done["citations"]:
        assert seed_text[c["start"] : c["end"]] == c["quote"]
    streamed = "".join(text for _, text in tokens)
    assert "2027" in streamed


def test_search_returns_scored_passages_without_generating(server, seed_text):
    r = httpx.post(f"{server.base}/v1/search", json={"query": "gazoduc approvisionnement 2027", "top_k": 2}, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "hybrid" and len(body["passages"]) == 2
    assert any("2027" in p["text"] for p in body["passages"])
    for p in body["passages"]:
        assert p["score"] > 0 and seed_text[p["start"] : p["end"]] == p["text"]
    for mode in ("bm25", "dense"):
        r = httpx.post(f"{server.base}/v1/search", json={"query": "gazoduc", "mode": mode}, timeout=30)
        assert r.status_code == 200 and r.json()["passages"]


@pytest.mark.parametrize(
    "path, payload, status",
    [
        ("/v1/ask", {"question": ""}, 422),
        ("/v1/ask", {"question": "x" * 2001}, 413),
        ("/v1/ask", {"question": "Qui ?", "top_k": 0}, 422),
        ("/v1/ask", {"question": "Qui ?", "top_k": 21}, 422),
        ("/v1/ask", {"question": 42}, 422),
        ("/v1/ask", {}, 422),
        ("/v1/search", {"query": "  "}, 422),
        ("/v1/search", {"query": "y" * 2001}, 413),
        ("/v1/search", {"query": "gaz", "top_k": 500}, 422),
        ("/v1/search", {"query": "gaz", "mode": "magic"}, 422),
    ],
)
def test_bad_requests_get_json_errors(server, path, payload, status):
    r = httpx.post(f"{server.base}{path}", json=payload, timeout=60)
    assert r.status_code == status
    assert "detail" in r.json() and r.json()["request_id"] == r.headers["x-request-id"]


def test_malformed_json_is_a_4xx(server):
    r = httpx.post(f"{server.base}/v1/ask", content=b"{not json", headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 422 and "detail" in r.json()


def test_request_id_is_echoed_and_logged(server):
    r = httpx.get(f"{server.base}/v1/documents", headers={"X-Request-ID": "trace-abc.123"}, timeout=10)
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-abc.123"
    bogus = httpx.get(f"{server.base}/healthz", headers={"X-Request-ID": "bad id\twith spaces"}, timeout=10)
    assert bogus.headers["x-request-id"] != "bad id\twith spaces" and len(bogus.headers["x-request-id"]) == 32
    time.sleep(0.2)
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("logger") == "rag.access" and e.get("request_id") == "trace-abc.123"]
    assert access and access[0]["route"] == "/v1/documents" and access[0]["status"] == 200
    assert access[0]["duration_ms"] >= 0 and access[0]["method"] == "GET"


def test_metrics_in_prometheus_format(server):
    r = httpx.get(f"{server.base}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in ("rag_http_requests", "rag_http_request_duration_seconds", "rag_generated_tokens",
                 "rag_time_to_first_token_seconds", "rag_index_documents", "rag_index_chunks",
                 "rag_generation_queue_depth", "process_resident_memory_bytes"):
        assert name in families, name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("rag_index_documents", ())] == 1
    assert samples[("rag_generated_tokens_total", ())] > 0  # the questions asked above
    assert samples[("rag_time_to_first_token_seconds_count", ())] >= 1
    asked = samples[("rag_http_requests_total", (("method", "POST"), ("route", "/v1/ask"), ("status", "200")))]
    assert asked >= 1


def test_docs_page_works_offline(server):
    page = httpx.get(f"{server.base}/docs", timeout=10)
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    js = httpx.get(f"{server.base}/static-offline-docs/swagger-ui-bundle.js", timeout=10)
    assert js.status_code == 200 and len(js.content) > 100_000
    spec = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/chat/completions",
            "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])


# ---- conversations: follow-ups are rewritten as `rag chat` does it ---------------------------------------------------
GAS = "Comment progressent les travaux du gazoduc d'Extrême-Orient ?"
FOLLOW_UP = "Et quand doit-il débuter ?"


def test_a_follow_up_with_history_is_rewritten_and_answered(server, seed_text):
    first = httpx.post(f"{server.base}/v1/ask", json={"question": GAS}, timeout=180).json()
    assert first["question"] == GAS and first["rewritten_question"] is None and not first["abstained"]
    history = [{"question": GAS, "answer": first["answer"], "rewritten_question": first["rewritten_question"]}]
    body = {"question": FOLLOW_UP, "history": history, "stream": True}
    with httpx.stream("POST", f"{server.base}/v1/ask", json=body, timeout=180) as r:
        assert r.status_code == 200
        events = _sse(r)
    kinds = [k for _, k, _ in events]
    assert kinds[:2] == ["rewrite", "passages"] and kinds[-2:] == ["citations", "done"], kinds
    rewrite, done = events[0][2], events[-1][2]
    assert rewrite["question"] == FOLLOW_UP and rewrite["rewrite_ms"] >= 0
    assert "gazoduc d'Extrême-Orient" in rewrite["rewritten_question"] and "débuter" in rewrite["rewritten_question"]
    assert done["question"] == FOLLOW_UP and done["rewritten_question"] == rewrite["rewritten_question"]
    assert "2027" in done["answer"] and not done["abstained"]
    for c in done["citations"]:
        assert seed_text[c["start"] : c["end"]] == c["quote"]


def test_a_self_contained_question_with_history_is_not_rewritten(server):
    history = [{"question": GAS, "answer": "Les travaux progressent comme prévu [1]."}]
    body = {"question": "Qui est le conseiller de Poutine ?", "history": history, "stream": True}
    with httpx.stream("POST", f"{server.base}/v1/ask", json=body, timeout=60) as r:
        lines = r.iter_lines()
        assert next(lines) == "event: rewrite"
        rewrite = json.loads(next(lines)[len("data: "):])
    # leaving the stream here stops the answer
    assert rewrite["question"] == body["question"] and rewrite["rewritten_question"] is None


TURN = {"question": GAS, "answer": "Les travaux progressent comme prévu [1]."}


@pytest.mark.parametrize(
    "history, reason",
    [
        ([TURN] * 4, "history holds 4 turns; the limit is 3 (RAG_CHAT_TURNS)"),
        ([{**TURN, "question": "x" * 2001}], "history[0].question is 2001 characters long; the limit is 2000"),
        ([TURN, {**TURN, "answer": "y" * 2001}], "history[1].answer is 2001 characters long"),
        ([{**TURN, "rewritten_question": "z" * 2001}], "history[0].rewritten_question is 2001 characters long"),
        ("Et avant ?", "body.history: Input should be a valid list"),
        ([{"question": GAS}], "body.history.0.answer: Field required"),
        ([{**TURN, "question": "  "}], "body.history.0.question: must not be empty or blank"),
        ([{**TURN, "answer": 42}], "body.history.0.answer: Input should be a valid string"),
        ([{**TURN, "role": "user"}], "body.history.0.role: Extra inputs are not permitted"),
    ],
)
def test_bad_history_gets_a_422_with_the_reason(server, history, reason):
    r = httpx.post(f"{server.base}/v1/ask", json={"question": FOLLOW_UP, "history": history}, timeout=30)
    assert r.status_code == 422
    detail = r.json()["detail"]
    text = detail if isinstance(detail, str) else "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in detail)
    assert reason in text, text


def test_the_spec_states_the_history_limits(server):
    schemas = httpx.get(f"{server.base}/openapi.json", timeout=10).json()["components"]["schemas"]
    assert schemas["AskRequest"]["properties"]["history"]["maxItems"] == 3
    assert schemas["HistoryTurn"]["properties"]["question"]["maxLength"] == 2000
    assert "rewritten_question" in schemas["Answer"]["properties"]
