"""FastAPI dependencies shared by the routes: the service state, readiness, and question limits."""
from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from api.metrics import Metrics
from api.schemas import HistoryTurn
from api.state import ServiceState
from rag.checks.cite import is_abstention
from rag.config import Settings
from rag.conversation.session import PriorTurn
from rag.pipeline import QuestionError


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def ready_state(state: ServiceState = Depends(get_state)) -> ServiceState:
    if state.error:
        raise HTTPException(503, detail=f"start-up failed: {state.error}")
    if not state.ready.is_set():
        raise HTTPException(503, detail="models are loading", headers={"Retry-After": "2"})
    return state


def _remote_ready(state: ServiceState, answers: bool) -> ServiceState:
    usable, detail = state.remote_readiness(answers)
    if not usable:
        raise HTTPException(503, detail=detail, headers={"Retry-After": "5"})
    return state


def search_state(state: ServiceState = Depends(ready_state)) -> ServiceState:
    """ready_state, and 503 while a remote embedder is known to be down."""
    return _remote_ready(state, answers=False)


def answer_state(state: ServiceState = Depends(ready_state)) -> ServiceState:
    """ready_state, and 503 while a remote model server (or embedder) is known to be down: a streamed answer would
    otherwise start with 200 and end in an error event."""
    return _remote_ready(state, answers=True)


def checked_question(state: ServiceState, settings: Settings, question: str, top_k: int | None,
                     what: str = "question") -> tuple[str, int]:
    """413 past the length limit, 422 when empty or top_k is out of range."""
    if len(question) > settings.max_question_chars:
        raise HTTPException(413, detail=f"the {what} is {len(question)} characters long; "
                                        f"the limit is {settings.max_question_chars}")
    try:
        return state.pipeline.check_question(question, top_k)
    except QuestionError as exc:
        message = str(exc)
        raise HTTPException(422, detail=message.replace("question", what, 1) if what != "question" else message) from None


def checked_history(settings: Settings, history: list[HistoryTurn]) -> list[PriorTurn]:
    """422 past RAG_CHAT_TURNS turns or RAG_MAX_QUESTION_CHARS characters in a text; else the turns as the follow-up
    resolver reads them: each turn's standalone question, and its answer unless it abstained."""
    if len(history) > settings.chat_turns:
        raise HTTPException(422, detail=f"history holds {len(history)} turns; the limit is {settings.chat_turns} "
                                        "(RAG_CHAT_TURNS): send the last ones")
    for n, turn in enumerate(history):
        for field in ("question", "answer", "rewritten_question"):
            text = getattr(turn, field) or ""
            if len(text) > settings.max_question_chars:
                raise HTTPException(422, detail=f"history[{n}].{field} is {len(text)} characters long; the limit is "
                                                f"{settings.max_question_chars} (RAG_MAX_QUESTION_CHARS)")
    return [PriorTurn((t.rewritten_question or "").strip() or t.question.strip(),
                      "" if is_abstention(t.answer) else t.answer.strip()) for t in history]
