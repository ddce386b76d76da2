"""OpenAI-compatible endpoints: POST /v1/chat/completions (streaming and not) and GET /v1/models.

The official `openai` client works unchanged (base_url=http://HOST:PORT/v1). The last user message is the question;
the user/assistant pairs before it are the conversation, and a follow-up is rewritten into a standalone question by
the same engine as `rag chat` and POST /v1/ask's `history` (rag.conversation.session), reported in the extra field
`rewritten_question`. Citations come back twice: as [n] markers in the message text, and as the extra top-level
field `citations` ([{n, doc_id, chunk_id, start, end, quote}]), with `abstained` beside it. When streaming, deltas
carry the model's words as it writes them; the last chunk (finish_reason "stop") carries `citations`, `abstained`,
`answer` (the verified text) and `rewritten_question`. If verification refuses the draft, a last delta says so
before that chunk.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from api.deps import answer_state, checked_question, get_metrics, get_state
from api.metrics import Metrics
from api.routes_ask import SSE_HEADERS, context_overflow, final_answer, start_question
from api.schemas import (ChatCompletion, ChatMessage, ChatRequest, Choice, ChoiceMessage, ModelCard, ModelList, Usage,
                         openai_errors)
from api.security import require_api_key
from api.state import ServiceState
from index.remote import RemoteUnavailable
from rag.checks.cite import is_abstention
from rag.config import Settings, get_settings
from rag.conversation.session import PriorTurn, standalone_history
from rag.pipeline import Event
from rag.schema import Answer

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["openai"])
OPENAI_PATHS = ("/v1/chat/", "/v1/models")
MODEL_ID = "rag"


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PATHS)


def chat_history(messages: list[ChatMessage], turns: int, max_chars: int) -> list[PriorTurn]:
    """The user/assistant pairs before the last user message, the last `turns` of them, oldest first; system
    messages and unanswered user messages are left out, an abstention counts as no answer."""
    last_user = max(i for i, m in enumerate(messages) if m.role == "user")
    pairs, asked = [], None
    for m in messages[:last_user]:
        if m.role == "user":
            asked = m.text().strip()[:max_chars]
        elif m.role == "assistant" and asked:
            answer = m.text().strip()[:max_chars]
            pairs.append((asked, "" if is_abstention(answer) else answer))
            asked = None
    return standalone_history(pairs[-turns:]) if turns else []


@router.get("/v1/models", response_model=ModelList, summary="Models (OpenAI-compatible)", responses=openai_errors(401))
def models(state: ServiceState = Depends(get_state)):
    return ModelList(data=[ModelCard(id=MODEL_ID, created=int(state.started))])


def _usage(answer: Answer) -> Usage:
    u = answer.usage
    prompt, completion = (u.prompt_tokens, u.completion_tokens) if u else (0, 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _data(obj: dict) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode("utf-8")


def closing_text(streamed: str, answer: Answer) -> str:
    """What to add after the streamed draft so that the text a client shows is never an unverified claim."""
    if not streamed.strip():
        return answer.answer
    if answer.abstained and not is_abstention(streamed):
        return "\n\n" + answer.answer
    return ""


async def chat_chunks(events: AsyncIterator[Event], cid: str, created: int, model: str, include_usage: bool) -> AsyncIterator[bytes]:
    def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    yield _data(chunk({"role": "assistant", "content": ""}))
    streamed = []
    try:
        async for event in events:
            if event.kind == "token":
                streamed.append(event.data)
                yield _data(chunk({"content": event.data}))
            elif event.kind == "done":
                answer: Answer = event.data
                tail = closing_text("".join(streamed), answer)
                if tail:
                    yield _data(chunk({"content": tail}))
                yield _data(chunk({}, "stop", citations=[c.model_dump() for c in answer.citations],
                                  abstained=answer.abstained, answer=answer.answer,
                                  rewritten_question=answer.rewritten_question))
                if include_usage:
                    yield _data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                 "choices": [], "usage": _usage(answer).model_dump()})
    except RemoteUnavailable as exc:  # the model server went away mid-answer
        yield _data({"error": {"message": str(exc), "type": "server_error", "code": 503}})
    except Exception as exc:  # the status line is gone: OpenAI's in-band error, which the client raises
        overflow = context_overflow(exc)
        error = {"message": overflow, "type": "invalid_request_error", "code": 413} if overflow else \
            {"message": f"internal error: {type(exc).__name__}", "type": "server_error", "code": 500}
        yield _data({"error": error})
    finally:
        await events.aclose()
    yield b"data: [DONE]\n\n"


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completion with citations (OpenAI-compatible)",
    description=__doc__,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}, **openai_errors(400, 401, 413, 422, 503)},
)
async def chat_completions(body: ChatRequest, state: ServiceState = Depends(answer_state),
                           settings: Settings = Depends(get_settings), metrics: Metrics = Depends(get_metrics)):
    if body.n not in (None, 1):
        raise HTTPException(422, detail="only n=1 is supported")
    if not any(m.role == "user" for m in body.messages):
        raise HTTPException(422, detail="messages hold no user message: the last user message is the question")
    question = [m for m in body.messages if m.role == "user"][-1].text()
    question, k = checked_question(state, settings, question, body.top_k)
    history = chat_history(body.messages, settings.chat_turns, settings.max_question_chars)
    events = start_question(state, metrics, question, k, history=history)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(chat_chunks(events, cid, created, body.model, include_usage),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    answer = await final_answer(events)
    return ChatCompletion(
        id=cid, created=created, model=body.model,
        choices=[Choice(message=ChoiceMessage(content=answer.answer))],
        usage=_usage(answer), citations=answer.citations, abstained=answer.abstained,
        rewritten_question=answer.rewritten_question,
    )
