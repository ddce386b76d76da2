"""POST /v1/ask (JSON or text/event-stream) and POST /v1/search (retrieval only)."""
from __future__ import annotations

import json
import logging
import re
import time
from typing import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from api.deps import answer_state, checked_history, checked_question, get_metrics, search_state
from api.metrics import Metrics
from api.schemas import AskRequest, SearchRequest, SearchResponse, errors
from api.security import require_api_key
from api.state import QueueFull, ServiceState
from index.remote import RemoteUnavailable
from rag.config import Settings, get_settings
from rag.conversation.session import PriorTurn
from rag.pipeline import Event, QuestionError
from rag.conversation.rewrite import Rewrite
from rag.schema import Answer

log = logging.getLogger("rag.api")
router = APIRouter(dependencies=[Depends(require_api_key)])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_DOC = (
    "With `\"stream\": true`: `text/event-stream` with events `rewrite` (only with a `history`: `{\"question\", "
    "\"rewritten_question\", \"rewrite_ms\"}`), `passages` (list of passages), `token` "
    "(`{\"text\"}`, repeated, as the model emits them), `citations` (list), `done` (the full answer object) "
    "and, on failure after the stream began, `error` (`{\"detail\"}`)."
)


_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


def context_overflow(exc: BaseException) -> str | None:
    """llama.cpp refuses a prompt longer than its context: one plain line (413), not a 500. Passages are capped
    where they enter the prompt (rag/text/sanitize.py), so it takes many long passages (a large top_k) to get here."""
    match = _OVERFLOW.search(str(exc)) if isinstance(exc, ValueError) else None
    if match is None:
        return None
    return (f"the passages found for this question make a prompt of {int(match[1]):,} tokens; the model's context "
            f"holds {int(match[2]):,} (RAG_N_CTX): ask with a smaller top_k")


def busy(exc: QueueFull, metrics: Metrics) -> HTTPException:
    metrics.rejected.inc()
    return HTTPException(503, detail=f"too many questions waiting; retry in {exc.retry_after}s",
                         headers={"Retry-After": str(exc.retry_after)})


def start_question(state: ServiceState, metrics: Metrics, question: str, k: int,
                   retrieval_query: str | None = None, history: list[PriorTurn] | None = None) -> AsyncIterator[Event]:
    """Admit a question to the generation queue (503 when full) and return its events, with metrics recorded."""
    try:
        events = state.stream(question, k, retrieval_query, history)
    except QueueFull as exc:
        raise busy(exc, metrics) from None
    return observed(events, metrics, time.perf_counter())


async def observed(events: AsyncIterator[Event], metrics: Metrics, started: float) -> AsyncIterator[Event]:
    first = True
    try:
        async for event in events:
            if event.kind == "token":
                metrics.tokens.inc()
                if first:
                    metrics.ttft.observe(time.perf_counter() - started)
                    first = False
            elif event.kind == "done":
                metrics.answers.labels("abstained" if event.data.abstained else "answered").inc()
            yield event
    finally:
        await events.aclose()


async def final_answer(events: AsyncIterator[Event]) -> Answer:
    answer = None
    try:
        async for event in events:
            if event.kind == "done":
                answer = event.data
    except QuestionError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except ValueError as exc:
        detail = context_overflow(exc)
        if detail is None:
            raise
        raise HTTPException(413, detail=detail) from None
    finally:
        await events.aclose()
    return answer


def sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode("utf-8")


async def ask_events(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            if event.kind == "rewrite":
                rewrite: Rewrite = event.data
                yield sse("rewrite", {"question": rewrite.question,
                                      "rewritten_question": rewrite.standalone if rewrite.rewritten else None,
                                      "rewrite_ms": round(rewrite.seconds * 1000, 1)})
            elif event.kind == "passages":
                yield sse("passages", [p.model_dump() for p in event.data])
            elif event.kind == "token":
                yield sse("token", {"text": event.data})
            elif event.kind == "done":
                answer: Answer = event.data
                yield sse("citations", [c.model_dump() for c in answer.citations])
                yield sse("done", answer.model_dump(exclude={"raw_answer"}))
    except Exception as exc:  # the status line is gone already: report in-band
        log.exception("streamed answer failed")
        detail = str(exc) if isinstance(exc, (QuestionError, RemoteUnavailable)) else context_overflow(exc)
        yield sse("error", {"detail": detail or f"internal error: {type(exc).__name__}"})
    finally:
        await events.aclose()


@router.post(
    "/v1/ask",
    response_model=Answer,
    response_model_exclude={"raw_answer"},
    summary="Answer a question with verified citations",
    description="Retrieve passages, let the model answer, verify every citation (or abstain). With `history` (the "
                "turns before, as returned), a follow-up is first rewritten into a standalone question as `rag chat` "
                "does, reported in `rewritten_question`. " + SSE_DOC,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}, **errors(400, 401, 413, 422, 503)},
)
async def ask(body: AskRequest, state: ServiceState = Depends(answer_state), settings: Settings = Depends(get_settings),
              metrics: Metrics = Depends(get_metrics)):
    question, k = checked_question(state, settings, body.question, body.top_k)
    history = checked_history(settings, body.history)
    events = start_question(state, metrics, question, k, history=history)
    if body.stream:
        return StreamingResponse(ask_events(events), media_type="text/event-stream", headers=SSE_HEADERS)
    return await final_answer(events)


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    summary="Retrieve passages only (bring your own model)",
    description="Hybrid retrieval (FAISS + BM25 fused by reciprocal rank), or one ranker with `mode`. No generation.",
    responses=errors(400, 401, 413, 422, 503),
)
def search(body: SearchRequest, state: ServiceState = Depends(search_state), settings: Settings = Depends(get_settings)):
    # A plain def endpoint: FastAPI runs it in its threadpool, off the event loop.
    query, k = checked_question(state, settings, body.query, body.top_k, what="query")
    started = time.perf_counter()
    with state.index_lock.read():
        passages = state.pipeline.retrieve(query, k, body.mode)
    return SearchResponse(query=query, mode=body.mode, passages=passages,
                          timings_ms={"retrieve": round((time.perf_counter() - started) * 1000, 1)})
