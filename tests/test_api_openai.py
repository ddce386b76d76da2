"""The official `openai` client against a real server (uvicorn on loopback), with API keys switched on and a
generation queue of one: chat completions streamed and not, models, 401s, and 503 + Retry-After when full."""
import threading
import time

import httpx
import openai
import pytest

from api.openai_compat import chat_history
from api.schemas import ChatMessage
from api.security import key_matches
from api.testing import running_server

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server(seed_index):
    env = {"RAG_API_KEYS": f"other-key, {KEY}", "RAG_MAX_QUEUE": "1"}
    with running_server(seed_index, env=env) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.base}/v1", api_key=KEY, timeout=180, max_retries=0)


def _check_citations(citations, seed_text):
    for c in citations:
        assert seed_text[c["start"] : c["end"]] == c["quote"]


def test_models_lists_the_service(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["rag"]


def test_chat_completion_with_earlier_turns_as_context(client, seed_text):
    completion = client.chat.completions.create(
        model="rag",
        messages=[
            {"role": "system", "content": "Tu es un assistant."},
            {"role": "user", "content": "Parle-moi du gazoduc d'Extrême-Orient entre la Russie et la Chine."},
            {"role": "assistant", "content": "Moscou et Pékin ont signé un accord en février 2023 [1]."},
            {"role": "user", "content": "En quelle année l'approvisionnement doit-il débuter ?"},
        ],
    )
    assert completion.object == "chat.completion" and completion.model == "rag"
    message = completion.choices[0].message
    assert message.role == "assistant" and message.content
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra
    assert set(extra) >= {"citations", "abstained", "rewritten_question"}
    assert extra["rewritten_question"] is None  # "En quelle année l'approvisionnement…" names its subject
    if not extra["abstained"]:
        assert "2027" in message.content and "[" in message.content
        assert extra["citations"] and any("2027" in c["quote"] for c in extra["citations"])
    _check_citations(extra["citations"], seed_text)
    assert completion.usage.completion_tokens > 0 and completion.usage.total_tokens > completion.usage.prompt_tokens > 0


def test_streamed_chat_completion_and_a_full_queue(client, server, seed_text):
    """While one question generates (RAG_MAX_QUEUE=1), another is refused at once with 503 and Retry-After."""
    stream = client.chat.completions.create(
        model="rag", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Qui est le conseiller de Poutine pour la politique étrangère ?"}],
    )
    chunks, refused = [], {}
    for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 2 and not refused:  # the model is writing: the one slot is taken
            started = time.perf_counter()
            r = httpx.post(f"{server.base}/v1/ask", json={"question": "Qui ?"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
            refused = {"status": r.status_code, "retry": r.headers.get("retry-after"), "seconds": time.perf_counter() - started}
    assert refused["status"] == 503 and int(refused["retry"]) >= 1
    assert refused["seconds"] < 5  # refused at once, not queued behind the running answer
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(final) == 1 and text.strip()
    extra = final[0].model_extra
    assert set(extra) >= {"citations", "abstained", "answer", "rewritten_question"}
    assert extra["rewritten_question"] is None  # a first question is never rewritten
    _check_citations(extra["citations"], seed_text)
    if not extra["abstained"]:
        assert "Ouchakov" in text and extra["citations"]
    else:
        assert extra["answer"] in text  # a refused draft is followed by the refusal itself
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage.completion_tokens > 0
    # The slot is free again once the answer is done.
    again = httpx.post(f"{server.base}/v1/search", json={"query": "gazoduc"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert again.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": f"Bearer {KEY}x"}])
def test_requests_without_a_valid_key_get_401(server, headers):
    for method, path, body in (("POST", "/v1/ask", {"question": "Qui ?"}), ("POST", "/v1/search", {"query": "gaz"}),
                               ("GET", "/v1/documents", None), ("DELETE", "/v1/documents/x.txt", None),
                               ("GET", "/v1/models", None)):
        r = httpx.request(method, f"{server.base}{path}", json=body, headers=headers, timeout=10)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    # Liveness, readiness and metrics stay open for orchestrators and scrapers.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{server.base}{path}", headers=headers, timeout=10).status_code == 200


def test_openai_client_sees_401_as_authentication_error(server):
    bad = openai.OpenAI(base_url=f"{server.base}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_openai_style_errors_for_bad_chat_requests(client):
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model="rag", messages=[{"role": "system", "content": "Rien."}])
    assert "user message" in err.value.body["message"]
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="rag", messages=[{"role": "user", "content": "x" * 2001}])
    assert err.value.status_code == 413


def test_second_key_works_and_upload_limit_is_checked_before_reading(server):
    r = httpx.get(f"{server.base}/v1/documents", headers={"Authorization": "Bearer other-key"}, timeout=10)
    assert r.status_code == 200
    big = b"x" * (11 * 1024 * 1024)  # over the default 10 MiB
    r = httpx.post(f"{server.base}/v1/documents", files={"file": ("big.txt", big, "text/plain")},
                   headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_key_comparison():
    assert key_matches("abc", ["x", "abc"]) and not key_matches("ab", ["abc"]) and not key_matches("", ["abc"])
    assert not key_matches("abc", [])


def test_chat_history_is_the_bounded_user_assistant_pairs_made_standalone():
    messages = [ChatMessage(role="system", content="Tu es un assistant."),
                ChatMessage(role="user", content="Quel gazoduc Poutine et Xi ont-ils évoqué ?"),
                ChatMessage(role="assistant", content="Le gazoduc d'Extrême-Orient [1]."),
                ChatMessage(role="user", content="Et quand doit-il débuter ?"),
                ChatMessage(role="assistant", content="Je ne sais pas : les documents ne contiennent pas la réponse."),
                ChatMessage(role="user", content="Une question restée sans réponse ?"),
                ChatMessage(role="user", content="Et son coût ?")]
    first, second = chat_history(messages, 3, 2000)
    assert (first.question, first.answer) == ("Quel gazoduc Poutine et Xi ont-ils évoqué ?", "Le gazoduc d'Extrême-Orient [1].")
    assert second.question == "Quand le gazoduc d'Extrême-Orient doit-il débuter ?"  # resolved by the rules alone
    assert second.answer == ""  # an abstention is no answer to refer to
    assert [t.question for t in chat_history(messages, 1, 2000)] == ["Et quand doit-il débuter ?"]
    assert chat_history(messages[-1:], 3, 2000) == [] and len(chat_history(messages, 3, 10)[0].question) == 10


def test_follow_up_is_rewritten_like_rag_chat(client, seed_text):
    """The same engine as `rag chat`: the pronoun gets the previous answer's pipeline, reported in rewritten_question."""
    completion = client.chat.completions.create(model="rag", messages=[
        {"role": "user", "content": "Quel gazoduc Poutine et Xi ont-ils évoqué ?"},
        {"role": "assistant", "content": "Le gazoduc d'Extrême-Orient [1]."},
        {"role": "user", "content": "Et quand doit-il débuter ?"},
    ])
    extra = completion.model_extra
    assert extra["rewritten_question"] == "Quand le gazoduc d'Extrême-Orient doit-il débuter ?"
    _check_citations(extra["citations"], seed_text)
    if not extra["abstained"]:
        assert "2027" in completion.choices[0].message.content
