"""Request and response bodies of the HTTP API, and the error responses every route documents."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.schema import Citation, Passage


NOT_BLANK = r"\S"  # at least one character that is not white space


def with_limits(schema: dict, max_chars: int, max_top_k: int, max_turns: int) -> dict:
    """Write the configured limits (RAG_MAX_QUESTION_CHARS, RAG_MAX_TOP_K, RAG_CHAT_TURNS) into an OpenAPI document.
    They are checked in code rather than by the models, so that a long question gets 413, not 422."""
    schemas = schema.get("components", {}).get("schemas", {})
    for name, field in (("AskRequest", "question"), ("SearchRequest", "query"), ("HistoryTurn", "question"),
                        ("HistoryTurn", "answer"), ("HistoryTurn", "rewritten_question")):
        props = schemas.get(name, {}).get("properties", {})
        for branch in props.get(field, {}).get("anyOf", [props.get(field, {})]):
            if branch.get("type") == "string":
                branch["maxLength"] = max_chars
    history = schemas.get("AskRequest", {}).get("properties", {}).get("history")
    if history is not None:
        history["maxItems"] = max_turns
    for name in ("AskRequest", "SearchRequest", "ChatRequest"):
        top_k = schema.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {}).get("top_k", {})
        for branch in top_k.get("anyOf", [top_k]):
            if branch.get("type") == "integer":
                branch["maximum"] = max_top_k
    return schema


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(default_factory=list)
    msg: str
    type: str = ""


class ErrorResponse(BaseModel):
    """Every refusal: one readable line, or for malformed requests the list of fields at fault."""

    detail: str | list[ErrorItem]
    request_id: str | None = None


def errors(*codes: int) -> dict:
    text = {
        400: "malformed request body",
        401: "missing or invalid API key (when RAG_API_KEYS is set)",
        404: "no such document",
        413: "over a size limit (question length, upload size, document count, PDF pages, extraction time, chunks)",
        415: "unsupported file type",
        422: "invalid input",
        503: "not ready yet, or too many questions waiting (see Retry-After)",
        507: "the index could not be written (disk full, file too large); the previous index keeps serving",
    }
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation, as /v1/ask returned it."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., min_length=1, pattern=NOT_BLANK, description="the question as it was asked")
    answer: str = Field(..., description="the answer given (an abstention counts as no answer)")
    rewritten_question: str | None = Field(None, description="the turn's rewritten_question, if it had one")


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, pattern=NOT_BLANK,
                          description="the question, in French or English (at most RAG_MAX_QUESTION_CHARS, "
                                      "default 2000, characters; longer gets 413)",
                          examples=["Quand l'approvisionnement via le gazoduc doit-il débuter ?"])
    top_k: int | None = Field(None, ge=1, description="passages given to the model (1..RAG_MAX_TOP_K; default RAG_TOP_K)")
    stream: bool = Field(False, description="answer as text/event-stream: events rewrite (with history), passages, "
                                            "token (repeated), citations, done (the full answer object), error")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="the conversation so far, oldest first (at most RAG_CHAT_TURNS, default 3, turns; each text at "
                    "most RAG_MAX_QUESTION_CHARS): a follow-up (\"Et quand doit-il débuter ?\") is rewritten into a "
                    "standalone question, as `rag chat` does, and the answer's rewritten_question says into what")


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1, pattern=NOT_BLANK, examples=["gazoduc Power of Siberia"],
                       description="what to look for (at most RAG_MAX_QUESTION_CHARS characters; longer gets 413)")
    top_k: int | None = Field(None, ge=1, description="passages to return (1..RAG_MAX_TOP_K; default RAG_TOP_K)")
    mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="ranking: FAISS + BM25 fused, or one")


class SearchResponse(BaseModel):
    query: str
    mode: str
    passages: list[Passage]
    timings_ms: dict[str, float]


class DocumentIn(BaseModel):
    """A document sent as JSON text (stored as given; UTF-8, not normalised)."""

    doc_id: str = Field(..., min_length=1, max_length=255, examples=["notes/gazoduc.txt"],
                        description="a relative name: no leading '/', no '..', no control characters")
    text: str = Field(..., min_length=1, pattern=NOT_BLANK, description="the document's text (not blank)")


class DocumentWritten(BaseModel):
    doc_id: str
    chunks: int = Field(..., description="chunks the document was split into")
    status: Literal["added", "replaced", "unchanged"]
    documents: int = Field(..., description="documents in the index after the change")


class DocumentInfo(BaseModel):
    doc_id: str
    source: str
    sha256: str
    chars: int
    chunks: int


class DocumentFull(DocumentInfo):
    text: str


class DocumentList(BaseModel):
    total: int
    offset: int
    documents: list[DocumentInfo]


class DocumentDeleted(BaseModel):
    doc_id: str
    deleted: bool = True
    documents: int


class Health(BaseModel):
    status: str
    ready: bool
    uptime_s: float


class Readiness(BaseModel):
    status: str
    documents: int = 0
    chunks: int = 0
    generation: int = 0
    detail: str | None = None


# ---- OpenAI-compatible bodies ---------------------------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI's chat-completions request. The last user message is the question; earlier turns are context for
    retrieval. Sampling options (temperature, max_tokens, ...) are accepted and ignored: answers are greedy and
    capped by RAG_MAX_NEW_TOKENS."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(..., examples=["rag"])
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=100, description="at least one from the user",
                                        json_schema_extra={"contains": {"type": "object", "required": ["role"],
                                                                        "properties": {"role": {"const": "user"}}}})
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, description="only 1 is supported")
    top_k: int | None = Field(None, ge=1, description="rag extension: passages given to the model")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChoiceMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI's chat.completion, plus `citations` (quote and character span of each source behind the [n] markers
    in the text) and `abstained` (true when the documents do not hold the answer)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(default_factory=list, description="rag extension: the sources behind the [n] markers")
    abstained: bool = Field(False, description="rag extension: the documents do not hold the answer")
    rewritten_question: str | None = Field(None, description="rag extension: the standalone question a follow-up "
                                             "was read as (null when the last user message was self-contained)")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


def openai_errors(*codes: int) -> dict:
    return {code: {"model": OpenAIError, "description": errors(code)[code]["description"]} for code in codes}
