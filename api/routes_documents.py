"""/v1/documents: add or replace (multipart file or JSON text), list, read, delete.

Each change embeds only the documents it touches, saves a new index generation atomically, and swaps the live
index (FAISS and BM25) before the response: a question asked after a DELETE never sees the deleted document.
Everything is validated before the index is touched, so a refused upload leaves the index exactly as it was.
A save that cannot be written (disk full) is answered 507 by the app's IndexWriteError handler (api/app.py).
"""
from __future__ import annotations

import json
from typing import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.deps import ready_state
from api.schemas import DocumentDeleted, DocumentFull, DocumentIn, DocumentInfo, DocumentList, DocumentWritten, errors
from api.security import require_api_key
from api.state import ServiceState, TooManyDocuments
from index.extract import UPLOAD_SUFFIXES, ExtractLimits, document_from_text, document_from_upload
from index.document import Document, IngestError, TooLarge
from index.store import DocRecord
from rag.config import Settings, get_settings

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["documents"])

MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file itself

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": f"the document ({', '.join(UPLOAD_SUFFIXES)}; else by its part's media type)"},
                        "doc_id": {"type": "string", "description": "defaults to the file name"},
                    },
                }
            },
            "application/json": {"schema": DocumentIn.model_json_schema()},
        },
    }
}


def _info(rec: DocRecord) -> dict:
    return {"doc_id": rec.doc_id, "source": rec.source, "sha256": rec.sha256, "chars": rec.chars,
            "chunks": rec.chunk_count}


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, detail=f"the upload is over the limit of {limit:,} bytes (RAG_MAX_UPLOAD_BYTES)")
        yield chunk


async def _read_document(request: Request, settings: Settings) -> Document:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise HTTPException(413, detail=f"the upload is {int(declared):,} bytes; the limit is {limit:,} (RAG_MAX_UPLOAD_BYTES)")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        try:
            parser = MultiPartParser(request.headers, _limited(request.stream(), limit + MULTIPART_SLACK),
                                     max_files=1, max_fields=16, max_part_size=64 * 1024)
            form = await parser.parse()
        except MultiPartException as exc:
            if "header size" in str(exc.__cause__ or ""):  # python-multipart's bound on one header line
                raise HTTPException(413, detail="a multipart part's header is too long (a file name of thousands of "
                                                "characters?); names and doc_ids are limited to 255 characters") from None
            raise HTTPException(400, detail=f"malformed multipart body: {exc.message}") from None
        except OSError as exc:  # a file part over 1 MB is spooled to a temporary file, which can fail
            raise HTTPException(507, detail=f"cannot receive the upload: {(exc.strerror or str(exc)).lower()} "
                                            "(temporary storage full?); the index is unchanged") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, detail="multipart upload needs a file part named 'file'")
            doc_id = form.get("doc_id")
            if doc_id is not None and not isinstance(doc_id, str):
                raise HTTPException(422, detail="doc_id must be a text field")
            unknown = sorted(set(form.keys()) - {"file", "doc_id"})
            if unknown:
                raise HTTPException(422, detail=f"unknown form fields: {', '.join(map(repr, unknown))} (expected 'file' and 'doc_id')")
            raw = await upload.read(limit + 1)
            if len(raw) > limit:
                raise HTTPException(413, detail=f"the file is over the limit of {limit:,} bytes (RAG_MAX_UPLOAD_BYTES)")
            # Extraction (PDF pages, deep HTML) can take seconds: off the event loop.
            limits = ExtractLimits.from_settings(settings)
            return await run_in_threadpool(document_from_upload, raw, upload.filename or "", doc_id or None,
                                           upload.content_type, limits)
        finally:
            await form.close()
    if media == "application/json" or media.endswith("+json"):
        body = b"".join([chunk async for chunk in _limited(request.stream(), limit + MULTIPART_SLACK)])
        try:
            payload = DocumentIn.model_validate(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, ValidationError):
                raise HTTPException(422, detail=[{"loc": ["body", *e["loc"]], "type": e["type"],
                                                  "msg": "the text is empty" if e["type"] == "string_pattern_mismatch" else e["msg"]}
                                                 for e in exc.errors()]) from None
            raise HTTPException(422, detail="the body is not valid JSON") from None
        if len(payload.text.encode("utf-8", "surrogatepass")) > limit:
            raise HTTPException(413, detail=f"the text is over the limit of {limit:,} bytes (RAG_MAX_UPLOAD_BYTES)")
        return document_from_text(payload.doc_id, payload.text)
    raise HTTPException(415, detail="send multipart/form-data with a 'file' part, or application/json {doc_id, text}")


@router.post(
    "/v1/documents",
    response_model=DocumentWritten,
    status_code=201,
    summary="Add or replace a document",
    description="A multipart upload (`file`, optional `doc_id`) of .txt, .md, .html or .pdf, or JSON "
                "`{doc_id, text}`. An existing doc_id is replaced (200); a new one is added (201).",
    openapi_extra=UPLOAD_BODY,
    responses={200: {"model": DocumentWritten, "description": "replaced or unchanged"},
               **errors(400, 401, 413, 415, 422, 503, 507)},
)
async def add_document(request: Request, state: ServiceState = Depends(ready_state), settings: Settings = Depends(get_settings)):
    try:
        document = await _read_document(request, settings)
        report = await run_in_threadpool(state.update_documents, [document])
    except TooLarge as exc:
        raise HTTPException(413, detail=str(exc)) from None
    except IngestError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except TooManyDocuments as exc:
        raise HTTPException(413, detail=f"{exc}; delete documents or raise RAG_MAX_DOCUMENTS") from None
    status = "added" if report.added else "replaced" if report.replaced else "unchanged"
    rec = state.store.docs.get(document.doc_id)
    body = DocumentWritten(doc_id=document.doc_id, chunks=rec.chunk_count if rec else 0, status=status,
                           documents=report.total_docs)
    if status != "added":
        return JSONResponse(body.model_dump(), status_code=200)
    return body


@router.get("/v1/documents", response_model=DocumentList, summary="List documents", responses=errors(401, 422, 503))
def list_documents(state: ServiceState = Depends(ready_state), offset: int = Query(0, ge=0),
                   limit: int = Query(100, ge=1, le=1000)):
    docs = sorted(state.store.docs.values(), key=lambda r: r.doc_id)
    return DocumentList(total=len(docs), offset=offset, documents=[DocumentInfo(**_info(r)) for r in docs[offset:offset + limit]])


@router.get("/v1/documents/{doc_id:path}", response_model=DocumentFull, summary="A document's metadata and text",
            responses=errors(401, 404, 503))
def get_document(doc_id: str, state: ServiceState = Depends(ready_state)):
    rec = state.store.docs.get(doc_id)
    if rec is None:
        raise HTTPException(404, detail=f"no document {doc_id!r}")
    return DocumentFull(**_info(rec), text=rec.text)


@router.delete("/v1/documents/{doc_id:path}", response_model=DocumentDeleted, summary="Delete a document",
               responses=errors(401, 404, 503, 507))
def delete_document(doc_id: str, state: ServiceState = Depends(ready_state)):
    if doc_id not in state.store.docs:
        raise HTTPException(404, detail=f"no document {doc_id!r}")
    report = state.update_documents([], delete=[doc_id])
    if doc_id not in report.deleted:  # deleted meanwhile by another request
        raise HTTPException(404, detail=f"no document {doc_id!r}")
    return DocumentDeleted(doc_id=doc_id, documents=report.total_docs)
