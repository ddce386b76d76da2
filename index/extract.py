"""Text out of a file's bytes, for an upload and for `rag index` alike: plain text and Markdown as they are,
HTML through a real parser (BeautifulSoup), PDF through pypdf. The text returned is what gets indexed and what
citations quote, so it is stored as extracted.

Every refusal is an IngestError with one readable line (the HTTP API turns it into a 4xx).
"""
from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from index.document import MAX_DOC_ID_CHARS, Document, IngestError, TooLarge, shown, validate_doc_id

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
PDF_SUFFIXES = (".pdf",)
UPLOAD_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES

_MEDIA_TYPES = {
    "text/plain": "text", "text/markdown": "text", "text/x-markdown": "text",
    "text/html": "html", "application/xhtml+xml": "html",
    "application/pdf": "pdf", "application/x-pdf": "pdf",
}

# Elements whose content is never document text.
_DROP = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "head", "button",
         "select", "input", "textarea", "form", "nav", "aside", "footer")
# Elements that end a line of text; everything else is inline and flows into the surrounding line.
_BLOCKS = {
    "address", "article", "blockquote", "br", "caption", "dd", "details", "dialog", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
_SPACES = re.compile(r"[ \t\n\r\f\v]+")  # collapses markup whitespace; keeps no-break spaces as written
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl", "figure",
               "article", "section", "header", "main"}


_CLOSE = object()


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds on one upload's extraction (RAG_MAX_PDF_PAGES, RAG_MAX_EXTRACT_SECONDS)."""

    max_pdf_pages: int = 5000
    max_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings) -> "ExtractLimits":
        """From rag.config.Settings: the same bounds for an upload and for `rag index`."""
        return cls(settings.max_pdf_pages, settings.max_extract_seconds)


class _Deadline:
    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise TooLarge(f"{self.name}: extracting the text took over {self.seconds:g} s (RAG_MAX_EXTRACT_SECONDS)")


def kind_of(filename: str, content_type: str | None = None) -> str:
    """'text', 'html' or 'pdf', from the file name's suffix, else from the declared media type."""
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in PDF_SUFFIXES:
        return "pdf"
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _MEDIA_TYPES:
        return _MEDIA_TYPES[media]
    raise IngestError(
        f"{shown(filename or 'upload')}: unsupported file type (supported: {', '.join(UPLOAD_SUFFIXES)}, "
        "or a text/plain, text/markdown, text/html or application/pdf part)"
    )


def decode_text(raw: bytes, name: str) -> str:
    """Decode UTF-8 text without normalising it; reject binaries and other encodings."""
    if b"\x00" in raw[:8192]:
        raise IngestError(f"{name}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not valid UTF-8 (byte {exc.start})") from None
    # A BOM is not part of the text users see; dropping it keeps offsets aligned with what is displayed.
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise IngestError(f"{name}: the file is empty")
    return text


def extract_html(raw: bytes, name: str = "upload.html", limits: ExtractLimits = ExtractLimits()) -> str:
    """Visible text of an HTML page: scripts, styles, navigation and forms dropped, one line per block element,
    a blank line between paragraphs, the <title> first when the body does not repeat it."""
    deadline = _Deadline(name, limits.max_seconds)
    if not raw.strip():
        raise IngestError(f"{name}: the file is empty")
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"{name}: looks like a binary file, not HTML")
    try:
        from bs4 import BeautifulSoup
    except ImportError:  # pragma: no cover - a declared dependency
        raise RuntimeError("install beautifulsoup4 to index HTML") from None
    soup = BeautifulSoup(raw, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    lines: list[str] = []
    current: list[str] = []

    def flush(paragraph: bool = False) -> None:
        text = _SPACES.sub(" ", "".join(current)).strip(" \t\n\r\f\v")
        current.clear()
        if text:
            lines.append(text)
        if paragraph and lines and lines[-1] != "":
            lines.append("")

    from bs4 import CData, NavigableString, Tag
    from bs4.element import PreformattedString

    # An explicit stack, not recursion: HTML nested 10,000 deep must not exhaust Python's stack.
    stack: list = [(child, None) for child in reversed(list(soup.children))]
    while stack:
        child, closing = stack.pop()
        if child is _CLOSE:  # the end of an element whose content was all walked
            if closing in _BLOCKS:
                flush(closing in _PARAGRAPHS)
            elif closing in ("td", "th"):
                current.append(" ")
            continue
        if isinstance(child, PreformattedString) and not isinstance(child, CData):
            continue  # comments, doctype, declarations, processing instructions
        if isinstance(child, NavigableString):
            current.append(str(child))
        elif isinstance(child, Tag):
            name_ = child.name.lower()
            if name_ == "pre":
                flush(True)
                text = child.get_text().strip("\n")
                if text.strip():
                    lines.extend(text.splitlines())
                flush(True)
                continue
            if name_ in _BLOCKS:
                flush(name_ in _PARAGRAPHS)
            stack.append((_CLOSE, name_))
            stack.extend((grandchild, None) for grandchild in reversed(list(child.children)))
        deadline.check()

    flush()
    body = "\n".join(lines).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    if title and not body.startswith(title):
        body = f"{title}\n\n{body}".strip()
    if not body.strip():
        raise IngestError(f"{name}: the HTML page has no visible text")
    return body


def extract_pdf(raw: bytes, name: str = "upload.pdf", limits: ExtractLimits = ExtractLimits()) -> str:
    """The text layer of every page (pypdf), pages separated by a blank line. Scanned PDFs have none: refused.
    Past `limits.max_pdf_pages` pages, or `limits.max_seconds` of extraction, the file is refused (TooLarge)."""
    deadline = _Deadline(name, limits.max_seconds)
    if not raw.strip():
        raise IngestError(f"{name}: the file is empty")
    if not raw.lstrip()[:5] == b"%PDF-":
        raise IngestError(f"{name}: not a PDF file (no %PDF- header)")
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - a declared dependency
        raise RuntimeError("install pypdf to index PDF files") from None
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported as one line below
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise IngestError(f"{name}: the PDF is encrypted")
        if len(reader.pages) > limits.max_pdf_pages:
            raise TooLarge(f"{name}: the PDF has {len(reader.pages):,} pages; the limit is {limits.max_pdf_pages:,} "
                           "(RAG_MAX_PDF_PAGES)")
        pages = []
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            deadline.check()
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise IngestError(f"{name}: unreadable PDF ({type(exc).__name__})") from None
    cleaned = []
    for text in pages:
        text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
        text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
        if text:
            cleaned.append(text)
    body = "\n\n".join(cleaned)
    if not body.strip():
        raise IngestError(f"{name}: the PDF has no text layer (a scanned image?); nothing to index")
    return body


def extract_text(raw: bytes, filename: str, content_type: str | None = None,
                 limits: ExtractLimits = ExtractLimits()) -> str:
    kind = kind_of(filename, content_type)
    name = shown(filename)
    if kind == "html":
        return extract_html(raw, name, limits)
    if kind == "pdf":
        return extract_pdf(raw, name, limits)
    return decode_text(raw, name)


def _encodable(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise IngestError(f"{what}: not valid Unicode (lone surrogate at {exc.start})") from None


def document_from_upload(raw: bytes, filename: str, doc_id: str | None = None,
                         content_type: str | None = None, limits: ExtractLimits = ExtractLimits()) -> Document:
    """A Document from an uploaded file; doc_id defaults to the file name. Validates before anything is written."""
    doc_id = doc_id if doc_id else (filename or "")  # a path-like file name is refused, not silently cut
    _encodable(doc_id, "doc_id")
    doc_id = validate_doc_id(doc_id)
    text = extract_text(raw, filename or doc_id, content_type, limits)
    return Document(doc_id=doc_id, text=text, source=f"upload:{PurePosixPath(filename or doc_id).name[-MAX_DOC_ID_CHARS:]}")


def document_from_text(doc_id: str, text: str, source: str = "api") -> Document:
    """A Document from text sent as JSON: the same checks as a file (not empty, not binary)."""
    _encodable(doc_id, "doc_id")
    doc_id = validate_doc_id(doc_id)
    _encodable(text, doc_id)
    if "\x00" in text:
        raise IngestError(f"{doc_id}: the text contains NUL characters (binary data?)")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise IngestError(f"{doc_id}: the text is empty")
    return Document(doc_id=doc_id, text=text, source=source)
