"""A Milvus store (RAG_STORE=milvus): the index in Milvus collections that several API replicas share.

Collections, named after RAG_MILVUS_COLLECTION (default "rag"):
- `rag_chunks`: a row per chunk: its text and span, its dense vector (inner product of normalised vectors: cosine)
  and two full-text fields that Milvus's BM25 function indexes: `terms` (rag's French analysis: accents folded,
  elisions and stop words dropped, Snowball stems cut to 5 characters, written out space-separated) and `grams`
  (character 4-grams of words). Milvus splits them on spaces and keeps the BM25 statistics, so the lexical channels
  are shared, not rebuilt in each process, and do not depend on the analyzers a Milvus build has.
- `rag_sentences`: sentence vectors and the chunks that hold each sentence (the sentence channel; evidence).
- `rag_docs`: each document's text, in parts of 16,000 characters (a VARCHAR holds 65,535 bytes), with its metadata.
- `rag_meta`: the manifest, and a generation number that every save bumps (replicas drop their caches on a change).

Writes wait in memory until save(), so a document that fails to embed changes nothing. A save inserts a document's
new rows before deleting its old ones (rows carry the document's sha256): a reader sees the old version, both for a
moment, or the new one, never none. Milvus has no transactions: a crash mid-save can leave both versions, and the
next save of that document removes the old one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import numpy as np

from index.chunk import Chunk
from index.milvus_views import CHUNK_FIELDS, MilvusChunks, MilvusDocs, MilvusSentences, chunk_from_row, literal
from index.remote import RemoteUnavailable
from index.store import IndexMissing, Manifest

TEXT_PART_CHARS = 16_000  # at most 4 bytes a character: a part stays under VARCHAR's 65,535 bytes
MAX_VARCHAR = 65_535
WRITE_BATCH = 256
QUERY_LIMIT = 16_384  # Milvus's cap on one query's offset + limit
PAD = [0.0, 0.0]  # Milvus wants a vector field in every collection; docs and meta carry this one


def milvus_api():
    try:
        import pymilvus
    except ImportError:
        raise RuntimeError("install pymilvus and milvus-lite (pip install -e '.[milvus]') to enable the Milvus store") from None
    return pymilvus


@dataclass(frozen=True)
class MilvusConfig:
    uri: str  # a path ending in .db: Milvus Lite in this process; http://host:19530: a Milvus server
    collection: str = "rag"
    api_key: str | None = None
    lexical: Callable[[str], tuple[str, str]] | None = None  # text -> (terms, grams), as written for BM25
    index_type: str = "AUTOINDEX"
    timeout_s: float = 60.0  # per call: a connection lost mid-call must not hang a question


_clients: dict[tuple[str, str | None], object] = {}
_clients_lock = threading.Lock()


def client_for(config: MilvusConfig):
    """One client per URI and process (a Milvus Lite file is opened once; a server connection is reused)."""
    pymilvus = milvus_api()
    with _clients_lock:
        key = (config.uri, config.api_key)
        if key not in _clients:
            try:
                # Milvus Lite's gRPC server keeps gRPC's default ping policy: the client's 10 s keepalive earns a
                # GOAWAY (too_many_pings) and a reconnection every few seconds.
                options = {"grpc.keepalive_time_ms": 600_000} if config.uri.endswith(".db") else {}
                _clients[key] = pymilvus.MilvusClient(uri=config.uri, token=config.api_key or "", grpc_options=options,
                                                      timeout=config.timeout_s)
            except pymilvus.MilvusException as exc:
                if config.uri.endswith(".db"):  # Milvus Lite locks its file: one process at a time
                    raise RemoteUnavailable(
                        f"cannot open Milvus Lite file {config.uri} ({exc.message}): another process may have it open; "
                        "to share one store between processes, run `milvus-lite server --data-dir DIR` and set "
                        "RAG_MILVUS_URI=http://127.0.0.1:19530") from None
                raise RemoteUnavailable(f"Milvus at {config.uri} unreachable: {exc.message}") from None
        return _clients[key]


def int_id(*parts: str) -> int:
    """A stable positive int64 primary key from strings."""
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()[:8], "big") & (2**63 - 1)


class MilvusStore:
    remote = True  # rag.retrieval.stores.make_retriever searches in Milvus for such a store

    def __init__(self, config: MilvusConfig, client, manifest: Manifest, generation: int = 0):
        self.config = config
        self.client = client
        self.manifest = manifest
        self.generation = generation
        prefix = config.collection
        self.names = {part: f"{prefix}_{part}" for part in ("chunks", "sentences", "docs", "meta")}
        self.docs = MilvusDocs(self)
        self.chunks = MilvusChunks(self)
        self.sentences = MilvusSentences(self)
        self._pending: list[tuple] = []
        self._pending_deleted: set[str] = set()

    # ---- calls: a Milvus error is one line, answered 503 by the API ------------------------------------------------
    def call(self, method: str, *args, **kwargs):
        pymilvus = milvus_api()
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except pymilvus.MilvusException as exc:
            raise RemoteUnavailable(f"Milvus at {self.config.uri}: {method} failed: {exc.message}") from None

    def query(self, part: str, filter: str, fields: list[str], limit: int = QUERY_LIMIT) -> list[dict]:
        return list(self.call("query", self.names[part], filter=filter, output_fields=fields, limit=limit))

    def scan(self, part: str, filter: str, fields: list[str]) -> Iterator[dict]:
        """Every matching row, in batches (one query stops at 16,384 rows)."""
        iterator = self.call("query_iterator", self.names[part], batch_size=4096, filter=filter, output_fields=fields)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()

    def count(self, part: str, filter: str = "") -> int:
        rows = self.call("query", self.names[part], filter=filter, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # ---- opening -----------------------------------------------------------------------------------------------
    @staticmethod
    def exists(config: MilvusConfig) -> bool:
        client = client_for(config)
        try:
            return bool(client.has_collection(f"{config.collection}_meta"))
        except milvus_api().MilvusException as exc:
            raise RemoteUnavailable(f"Milvus at {config.uri} unreachable: {exc.message}") from None

    @classmethod
    def open(cls, config: MilvusConfig) -> "MilvusStore":
        if not cls.exists(config):
            raise IndexMissing(f"no index in Milvus at {config.uri} (collection {config.collection}_meta): run "
                               f"`rag index PATH` with RAG_STORE=milvus first, or serve with RAG_CREATE_INDEX=1")
        store = cls(config, client_for(config), Manifest("", 0, {}))
        for name in store.names.values():
            store.call("load_collection", name)
        store.manifest, store.generation = store._read_meta()
        return store

    @classmethod
    def open_or_create(cls, config: MilvusConfig, embedder: str, dimension: int, chunker: dict) -> "MilvusStore":
        if cls.exists(config):
            store = cls.open(config)
            store.manifest.check_compatible(embedder, dimension, chunker, config.uri)  # type: ignore[arg-type]
            return store
        manifest = Manifest(embedder=embedder, dimension=dimension, chunker=chunker, sentences=True)
        store = cls(config, client_for(config), manifest)
        store._create(dimension)
        return store

    def _read_meta(self) -> tuple[Manifest, int]:
        rows = self.call("get", self.names["meta"], ids=[0], output_fields=["manifest", "generation"])
        if not rows:
            raise IndexMissing(f"Milvus at {self.config.uri}: {self.names['meta']} holds no manifest")
        return Manifest(**json.loads(rows[0]["manifest"])), int(rows[0]["generation"])

    def _create(self, dimension: int) -> None:
        pymilvus = milvus_api()
        DataType, Function, FunctionType = pymilvus.DataType, pymilvus.Function, pymilvus.FunctionType
        client = self.client

        def schema(*fields, functions=()):
            s = client.create_schema(auto_id=False)
            for name, dtype, params in fields:
                s.add_field(name, dtype, **params)
            for f in functions:
                s.add_function(f)
            return s

        def indexes(*specs):
            params = client.prepare_index_params()
            for field, index_type, metric, extra in specs:
                params.add_index(field_name=field, index_type=index_type, metric_type=metric, params=extra)
            return params

        pk = ("id", DataType.INT64, {"is_primary": True})
        doc = ("doc_id", DataType.VARCHAR, {"max_length": 1024})
        sha = ("doc_sha", DataType.VARCHAR, {"max_length": 64})
        written = ("written", DataType.INT64, {})  # when its save began (ns): the newest version of a document wins
        span = [("start", DataType.INT64, {}), ("end", DataType.INT64, {})]
        vector = ("vector", DataType.FLOAT_VECTOR, {"dim": dimension})
        pad = ("pad", DataType.FLOAT_VECTOR, {"dim": len(PAD)})
        analysed = {"max_length": MAX_VARCHAR, "enable_analyzer": True, "enable_match": True,
                    "analyzer_params": {"tokenizer": "standard"}}
        bm25 = {"bm25_k1": 1.2, "bm25_b": 0.75}  # bm25s's defaults, as in rag.retrieval.retrieve.BM25Index
        dense = ("vector", self.config.index_type, "IP", {})
        by_doc = ("doc_id", "INVERTED", None, {})
        self._make(self.names["chunks"], schema(
            pk, ("chunk_id", DataType.VARCHAR, {"max_length": 64}), doc, sha, written, *span,
            ("text", DataType.VARCHAR, {"max_length": MAX_VARCHAR}), ("terms", DataType.VARCHAR, analysed),
            ("grams", DataType.VARCHAR, analysed), vector,
            ("terms_bm25", DataType.SPARSE_FLOAT_VECTOR, {}), ("grams_bm25", DataType.SPARSE_FLOAT_VECTOR, {}),
            functions=[Function(name="terms_bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                output_field_names=["terms_bm25"]),
                       Function(name="grams_bm25", function_type=FunctionType.BM25, input_field_names=["grams"],
                                output_field_names=["grams_bm25"])]),
            indexes(dense, by_doc, ("terms_bm25", "SPARSE_INVERTED_INDEX", "BM25", bm25),
                    ("grams_bm25", "SPARSE_INVERTED_INDEX", "BM25", bm25)))
        self._make(self.names["sentences"], schema(
            pk, doc, sha, written, *span, ("chunk_ids", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 64}),
            vector), indexes(dense, by_doc))
        self._make(self.names["docs"], schema(
            pk, doc, sha, written, ("part", DataType.INT64, {}), ("text", DataType.VARCHAR, {"max_length": MAX_VARCHAR}),
            ("source", DataType.VARCHAR, {"max_length": 4096}), ("chars", DataType.INT64, {}),
            ("chunks", DataType.INT64, {}), pad), indexes(("pad", "FLAT", "L2", {}), by_doc))
        self._make(self.names["meta"], schema(
            pk, ("manifest", DataType.VARCHAR, {"max_length": MAX_VARCHAR}), ("generation", DataType.INT64, {}), pad),
            indexes(("pad", "FLAT", "L2", {})))
        self._write_meta(0)  # last: its presence is what exists() checks

    def _make(self, name: str, schema, index_params) -> None:
        if not self.call("has_collection", name):
            # Milvus Lite's in-process gRPC server logs an ERROR for the timestamp call pymilvus makes while it
            # waits for the new indexes (not implemented there, and not needed): not an error of ours.
            grpc_log = logging.getLogger("grpc._server")
            level, grpc_log.level = grpc_log.level, logging.CRITICAL
            try:
                self.call("create_collection", name, schema=schema, index_params=index_params,
                          consistency_level="Strong")
            finally:
                grpc_log.setLevel(level)
        self.call("load_collection", name)

    def _write_meta(self, generation: int) -> None:
        row = {"id": 0, "manifest": json.dumps(asdict(self.manifest)), "generation": generation, "pad": PAD}
        self.call("upsert", self.names["meta"], [row])
        self.generation = generation

    def sync(self) -> bool:
        """Read the generation; when another writer changed the store, drop what this process cached of it."""
        _, generation = self._read_meta()
        if generation == self.generation:
            return False
        self.generation = generation
        self.chunks.clear()
        self.sentences.clear()
        return True

    # ---- reading ---------------------------------------------------------------------------------------------
    def text_of(self, doc_id: str) -> str:
        return self.docs[doc_id].text

    def chunk_rows(self) -> list[tuple[int, Chunk]]:
        """Every chunk, by id (a full scan: tools only; retrieval searches in Milvus)."""
        return sorted((int(r["id"]), chunk_from_row(r)) for r in self.scan("chunks", "", ["id", *CHUNK_FIELDS]))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.search_dense(query, k)

    def search_dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        hits = self._search("chunks", [query.astype(np.float32).tolist()], "vector", k, CHUNK_FIELDS)
        return [(int(h["id"]), float(h["distance"])) for h in hits]

    def search_text(self, field: str, text: str, k: int) -> list[tuple[int, float]]:
        """BM25 over `terms` or `grams` (the analysed text of the query). Milvus Lite reports BM25 distances negated
        (smaller is closer); a server reports the score: either way the score is the absolute value."""
        if not text.strip():
            return []
        hits = self._search("chunks", [text], f"{field}_bm25", k, CHUNK_FIELDS)
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits if h["distance"]]

    def search_sentences(self, query: np.ndarray, k: int) -> list[tuple[list[int], float]]:
        hits = self._search("sentences", [query.astype(np.float32).tolist()], "vector", k, ["chunk_ids"])
        return [([int(i) for i in h["entity"]["chunk_ids"]], float(h["distance"])) for h in hits]

    def _search(self, part: str, data: list, field: str, k: int, fields: list[str]) -> list[dict]:
        if k <= 0:
            return []
        # HNSW explores `ef` candidates (Milvus Lite: 64 by default); below k it cannot return the best k.
        params = {} if field.endswith("_bm25") else {"params": {"ef": max(64, 2 * k)}}
        hits = self.call("search", self.names[part], data=data, anns_field=field, limit=k, output_fields=fields,
                         search_params=params)[0]
        if part == "chunks":
            self.chunks.remember((int(h["id"]), chunk_from_row(h["entity"])) for h in hits)
        return list(hits)

    # ---- updating --------------------------------------------------------------------------------------------
    def is_unchanged(self, doc_id: str, sha256: str) -> bool:
        rec = self.docs.get(doc_id)
        return rec is not None and rec.sha256 == sha256

    def upsert(self, doc_id: str, sha256: str, text: str, source: str, chunks: list[Chunk], vectors: np.ndarray,
               sentence_spans: list[tuple[int, int]] = (), sentence_vectors: np.ndarray | None = None) -> None:
        """Add a document or replace it, at the next save()."""
        if len(chunks) != len(vectors) or sentence_vectors is None or len(sentence_spans) != len(sentence_vectors):
            raise ValueError("one vector per chunk and per sentence expected")
        self._pending.append(("upsert", doc_id, sha256, text, source, chunks, vectors, list(sentence_spans),
                              sentence_vectors))
        self._pending_deleted.discard(doc_id)

    def delete(self, doc_id: str) -> bool:
        """Remove a document at the next save(); whether it was there."""
        if doc_id in self._pending_deleted or doc_id not in self.docs:
            return False
        self._pending.append(("delete", doc_id))
        self._pending_deleted.add(doc_id)
        return True

    def save(self) -> None:
        """Apply the pending writes: rows of new versions first (inserted in batches across documents), then the
        rows of the versions they replace, then the generation bump that tells replicas. Rows carry the time their
        save began, and only older rows of other versions are deleted: when two replicas replace one document at
        once, the later save wins (clocks of different machines permitting) and the document never loses both."""
        pending, self._pending, self._pending_deleted = self._pending, [], set()
        self._written = time.time_ns()
        existing = self._existing([op[1] for op in pending if op[0] == "upsert"])
        rows: dict[str, list[dict]] = {"chunks": [], "sentences": [], "docs": []}
        replaced = []
        for op in pending:
            if op[0] == "delete":
                self._flush(rows)  # an earlier upsert of the same document must not come back after the delete
                for part in ("chunks", "sentences", "docs"):
                    self.call("delete", self.names[part], filter=f"doc_id == {literal(op[1])}")
                continue
            self._rows(rows, *op[1:])
            if op[1] in existing:
                replaced.append((op[1], op[2]))
            if len(rows["chunks"]) + len(rows["sentences"]) >= 4 * WRITE_BATCH:  # rows hold vectors as lists: flush
                self._flush(rows)
        self._flush(rows)
        for doc_id, sha in replaced:
            old = f"doc_id == {literal(doc_id)} and doc_sha != {literal(sha)} and written < {self._written}"
            for part in ("chunks", "sentences", "docs"):
                self.call("delete", self.names[part], filter=old)
        _, generation = self._read_meta()
        self._write_meta(generation + 1)
        self.chunks.clear()
        self.sentences.clear()

    def _existing(self, doc_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(doc_ids), 1000):
            batch = ", ".join(literal(d) for d in doc_ids[i:i + 1000])
            found |= {r["doc_id"] for r in self.query("docs", f"part == 0 and doc_id in [{batch}]", ["doc_id"])}
        return found

    def _rows(self, rows: dict[str, list[dict]], doc_id, sha, text, source, chunks, vectors, spans,
              sentence_vectors) -> None:
        """Add a document's rows to `rows` (every key holds the document's sha256: a new version never overwrites)."""
        written = self._written
        analyse = self.config.lexical or (lambda t: (t, t))
        ids = [int_id(doc_id, sha, c.chunk_id) for c in chunks]
        for i, chunk, vector in zip(ids, chunks, vectors):
            terms, grams = analyse(chunk.text)
            rows["chunks"].append({"id": i, "chunk_id": chunk.chunk_id, "doc_id": doc_id, "doc_sha": sha, "written": written,
                                   "start": chunk.start, "end": chunk.end, "text": chunk.text,
                                   "terms": terms[:MAX_VARCHAR // 4], "grams": grams[:MAX_VARCHAR // 4],
                                   "vector": vector.tolist()})
        rows["sentences"] += [{"id": int_id(doc_id, sha, str(s), str(e)), "doc_id": doc_id, "doc_sha": sha,
                               "written": written, "start": s,
                               "end": e, "chunk_ids": [i for i, c in zip(ids, chunks) if c.start <= s and e <= c.end][:64],
                               "vector": v.tolist()} for (s, e), v in zip(spans, sentence_vectors)]
        parts = [text[i:i + TEXT_PART_CHARS] for i in range(0, len(text), TEXT_PART_CHARS)] or [""]
        rows["docs"] += [{"id": int_id(doc_id, sha, str(n)), "doc_id": doc_id, "doc_sha": sha, "written": written,
                          "part": n, "text": part,
                          "source": source[:1024], "chars": len(text), "chunks": len(chunks), "pad": PAD}
                         for n, part in enumerate(parts)]

    def _flush(self, rows: dict[str, list[dict]]) -> None:
        for part in ("chunks", "sentences", "docs"):
            batch = rows[part]
            for i in range(0, len(batch), WRITE_BATCH):
                self.call("insert", self.names[part], batch[i:i + WRITE_BATCH])
            batch.clear()
