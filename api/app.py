"""HTTP API (FastAPI). Models load once in a background thread at start-up: /healthz answers at once (liveness),
/readyz turns 200 when the models are loaded and the index is open (readiness).

Routes: api/routes_ask.py (/v1/ask, /v1/search), api/routes_documents.py (/v1/documents), api/openai_compat.py
(/v1/chat/completions, /v1/models), api/web.py (the web page at /); here: health, metrics, errors, logging and the
app itself.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import openai_compat, routes_ask, routes_documents, web
from api.deps import get_metrics, get_state
from api.metrics import CONTENT_TYPE_LATEST, Metrics, ObservabilityMiddleware, configure_logging
from api.schemas import Health, Readiness, with_limits
from api.state import ServiceState
from index.remote import RemoteUnavailable
from index.store import IndexWriteError
from rag.config import Settings, get_settings

log = logging.getLogger("rag.api")

DESCRIPTION = """Offline, citation-first question answering over your documents.

Every answer's claims carry numbered citations that resolve to an exact quote and character span of a source
document; when the documents do not hold the answer, the service says so. With `RAG_API_KEYS` set, every `/v1/*`
route needs `Authorization: Bearer <key>`. The OpenAI client works against `/v1` (chat completions and models).
"""


def _openai_error(status: int, message: str) -> dict:
    kind = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error", 503: "server_error"}
    return {"error": {"message": message, "type": kind.get(status, "invalid_request_error"), "param": None,
                      "code": status}}


def _error_body(request: Request, status: int, detail) -> dict:
    if openai_compat.is_openai_path(request.url.path):
        message = detail if isinstance(detail, str) else "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}" for e in detail)
        return _openai_error(status, message)
    return {"detail": detail, "request_id": getattr(request.state, "request_id", None)}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. With `settings` given, they replace the cached `get_settings` dependency for this app."""
    settings = settings or get_settings()
    configure_logging()
    state = ServiceState(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=state.load, daemon=True, name="warm-up").start()
        yield
        state.queue.shutdown()

    app = FastAPIOffline(title="rag", version="0.2.0", lifespan=lifespan, description=DESCRIPTION)
    app.state.service = state
    app.state.metrics = metrics
    app.dependency_overrides[get_settings] = lambda: settings
    metrics.watch_index(
        documents=lambda: len(state.store.docs) if state.store else 0,
        chunks=lambda: len(state.store.chunks) if state.store else 0,
        ready=state.ready.is_set,
    )
    state.queue.on_change = metrics.queue_depth.set
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method the path supports, not only those of the first route matched
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(_error_body(request, exc.status_code, exc.detail), status_code=exc.status_code,
                            headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", [])], "type": e.get("type", ""),
                   "msg": "must not be empty or blank" if e.get("type") in ("string_pattern_mismatch", "string_too_short")
                   else e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(_error_body(request, 422, errors), status_code=422)

    @app.exception_handler(RemoteUnavailable)
    async def remote_unavailable(request: Request, exc: RemoteUnavailable):
        log.warning("%s %s: %s", request.method, request.url.path, exc,
                    extra={"request_id": getattr(request.state, "request_id", None)})
        return JSONResponse(_error_body(request, 503, str(exc)), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(IndexWriteError)
    async def index_write_error(request: Request, exc: IndexWriteError):
        # Disk full, file too large, read-only: the save failed and the previous index keeps serving.
        return JSONResponse(_error_body(request, 507, str(exc)), status_code=507)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc,
                  extra={"request_id": getattr(request.state, "request_id", None)})
        return JSONResponse(_error_body(request, 500, f"internal error: {type(exc).__name__}"), status_code=500)

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness: the process answers")
    async def healthz(state: ServiceState = Depends(get_state)):  # on the event loop: no worker thread to wait for
        return Health(status="ok", ready=state.ready.is_set(), uptime_s=round(time.time() - state.started, 1))

    @app.get("/readyz", response_model=Readiness, tags=["operations"],
             summary="Readiness: models loaded and index open (503 until then, or while a remote server is down)",
             responses={503: {"model": Readiness, "description": "loading, start-up failed, or a remote model server or embedder down"}})
    def readyz(state: ServiceState = Depends(get_state)):
        if state.error:
            return JSONResponse(Readiness(status="error", detail=state.error).model_dump(), status_code=503)
        if not state.ready.is_set():
            return JSONResponse(Readiness(status="loading", detail=state.waiting).model_dump(), status_code=503,
                                headers={"Retry-After": "2"})
        store = state.store
        usable, detail = state.remote_readiness()
        readiness = Readiness(status="ready" if usable else "unavailable", documents=len(store.docs),
                              chunks=len(store.chunks), generation=store.generation, detail=detail)
        if not usable:  # a remote model server or embedder is down: questions get 503 until it answers again
            return JSONResponse(readiness.model_dump(), status_code=503, headers={"Retry-After": "5"})
        return readiness

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text format)",
             response_class=PlainTextResponse)
    def prometheus(metrics: Metrics = Depends(get_metrics)):
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(routes_ask.router, tags=["questions"])
    app.include_router(routes_documents.router)
    app.include_router(openai_compat.router)
    app.add_api_route("/", web.page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/web", web.assets(), name="web")
    app.openapi = _openapi_for(app, settings)
    return app


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


def _openapi_for(app: FastAPI, settings: Settings):
    """The spec describes the service as configured: without RAG_API_KEYS, no route asks for a bearer token."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = with_limits(build(), settings.max_question_chars, settings.max_top_k, settings.chat_turns)
            if not settings.api_keys:
                for operations in schema.get("paths", {}).values():
                    for operation in operations.values():
                        operation.pop("security", None)
                        operation.get("responses", {}).pop("401", None)
                schema.get("components", {}).pop("securitySchemes", None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
