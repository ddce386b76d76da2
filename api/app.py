"""HTTP API (FastAPI). Models load once in the background at start-up; /healthz turns 200 when they are ready."""
from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag.config import Settings, get_settings
from rag.pipeline import QuestionError, RagPipeline
from rag.schema import Answer

log = logging.getLogger("rag.api")


class AskRequest(BaseModel):
    question: str = Field(..., description="the question, in French or English")
    top_k: int | None = Field(None, description="passages to retrieve (default from settings)")


class ServiceState:
    """The pipeline and its readiness; models load in a background thread so the server answers at once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.pipeline = RagPipeline(settings)
        self.ready = threading.Event()
        self.error: str | None = None

    def load(self) -> None:
        try:
            self.pipeline.warm_up()
            self.ready.set()
            log.info("models loaded; ready")
        except Exception as exc:  # reported by /healthz, never a crash loop
            self.error = str(exc)
            log.error("start-up failed: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=app.state.service.load, daemon=True, name="warm-up").start()
        yield

    app = FastAPI(title="rag", version="0.1.0", lifespan=lifespan,
                  description="Offline, citation-first question answering over your documents.")
    app.state.service = ServiceState(settings)

    def service(request: Request) -> ServiceState:
        return request.app.state.service

    def ready_service(state: ServiceState = Depends(service)) -> ServiceState:
        if state.error:
            raise HTTPException(503, detail=f"start-up failed: {state.error}")
        if not state.ready.is_set():
            raise HTTPException(503, detail="models are loading", headers={"Retry-After": "2"})
        return state

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.get("/healthz")
    def healthz(state: ServiceState = Depends(service)):
        if state.error:
            return JSONResponse(status_code=503, content={"status": "error", "detail": state.error})
        if not state.ready.is_set():
            return JSONResponse(status_code=503, content={"status": "loading"})
        return {"status": "ok", "documents": len(state.pipeline.store.docs), "chunks": len(state.pipeline.store.chunks)}

    @app.post("/v1/ask", response_model=Answer, response_model_exclude={"raw_answer"})
    def ask(body: AskRequest, state: ServiceState = Depends(ready_service)) -> Answer:
        # A plain def endpoint runs in FastAPI's threadpool: generation never blocks the event loop.
        if len(body.question) > settings.max_question_chars:
            raise HTTPException(413, detail=f"question longer than {settings.max_question_chars} characters")
        try:
            return state.pipeline.ask(body.question, body.top_k)
        except QuestionError as exc:
            raise HTTPException(422, detail=str(exc)) from None

    return app
