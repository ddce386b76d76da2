"""Index documents: read, chunk, embed, store. Unchanged files add nothing; changed files replace their chunks."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.chunk import ChunkerConfig, SentenceChunker
from index.embed import Embedder
from index.document import Document, TooLarge, shown
from index.extract import ExtractLimits
from index.ingest import load_documents, skipped_note
from index.sentence_index import chunk_sentence_spans
from index.location import StoreLocation


@dataclass(frozen=True)
class IndexLimits:
    """Bounds on one document (RAG_MAX_UPLOAD_BYTES for files read from disk, RAG_MAX_CHUNKS_PER_DOCUMENT), and on
    extracting a file's text (RAG_MAX_PDF_PAGES, RAG_MAX_EXTRACT_SECONDS), as for an upload."""

    max_document_bytes: int | None = None
    max_chunks_per_document: int | None = None
    extract: ExtractLimits = ExtractLimits()


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    chunks_written: int = 0
    total_docs: int = 0
    total_chunks: int = 0
    skipped: list[str] = field(default_factory=list)  # unsupported files in the folders given, relative paths

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.unchanged)} unchanged, "
            f"{len(self.deleted)} deleted; {self.chunks_written} chunks embedded; "
            f"index holds {self.total_docs} documents, {self.total_chunks} chunks"
        ) + (f"; {skipped_note(self.skipped)}" if self.skipped else "")


class Indexer:
    def __init__(self, index_dir: Path, embedder: Embedder, chunker_config: ChunkerConfig,
                 location: StoreLocation | None = None, limits: IndexLimits = IndexLimits()):
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.chunker_config = chunker_config
        self.location = location or StoreLocation(self.index_dir)  # default: a FAISS index in index_dir
        self.limits = limits

    def chunker_params(self) -> dict:
        return {"max_tokens": self.chunker_config.max_tokens, "overlap_tokens": self.chunker_config.overlap_tokens}

    def open_store(self):
        return self.location.open_or_create(self.embedder.name, self.embedder.dimension, self.chunker_params())

    def index_paths(self, paths: list[Path], progress: bool = False) -> IndexReport:
        # validate every file before touching the index
        documents = load_documents([Path(p) for p in paths], self.limits.max_document_bytes, self.limits.extract)
        report = self.index_documents(documents, progress=progress)
        report.skipped = documents.skipped
        return report

    def index_documents(self, documents: list[Document], progress: bool = False, delete: list[str] = ()) -> IndexReport:
        report = IndexReport()
        self.embedder.warm_up()
        chunker = SentenceChunker(self.chunker_config, self.embedder.count_tokens)
        with self.location.lock():
            self.location.sweep()  # what a killed writer left; under the lock, no live writer's folder
            # Opened under the lock, so a concurrent writer's changes are never overwritten.
            store = self.open_store()
            todo = []
            for doc in documents:
                if store.is_unchanged(doc.doc_id, doc.sha256):
                    report.unchanged.append(doc.doc_id)
                else:
                    (report.replaced if doc.doc_id in store.docs else report.added).append(doc.doc_id)
                    todo.append(doc)
            for doc_id in delete:
                if store.delete(doc_id):
                    report.deleted.append(doc_id)
            chunked = {doc.doc_id: self._chunks(chunker, doc) for doc in todo}  # every limit checked before embedding
            for doc in _progress(todo, progress, "Embedding"):
                chunks = chunked.pop(doc.doc_id)
                vectors = self.embedder.embed([c.text for c in chunks])
                spans, sentence_vectors = [], None
                if store.manifest.sentences:
                    spans = chunk_sentence_spans(chunks)
                    sentence_vectors = self.embedder.embed([doc.text[s:e] for s, e in spans])
                store.upsert(doc.doc_id, doc.sha256, doc.text, doc.source, chunks, vectors, spans, sentence_vectors)
                report.chunks_written += len(chunks)
            if todo or report.deleted or not self.location.exists():
                store.save()
        report.total_docs, report.total_chunks = len(store.docs), len(store.chunks)
        return report

    def _chunks(self, chunker: SentenceChunker, doc: Document) -> list:
        chunks = chunker.run(doc)
        limit = self.limits.max_chunks_per_document
        if limit is not None and len(chunks) > limit:
            raise TooLarge(f"{shown(doc.doc_id)}: {len(chunks):,} chunks; the limit for one document is {limit:,} "
                           "(RAG_MAX_CHUNKS_PER_DOCUMENT)")
        return chunks


def _progress(items: list, enabled: bool, label: str):
    if not enabled or not items:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(label, total=len(items), name="")
        for item in items:
            bar.update(task, name=getattr(item, "doc_id", ""))
            yield item
            bar.advance(task)
