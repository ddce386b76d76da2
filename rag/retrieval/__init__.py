"""Finding the passages: the hybrid retriever over an index (`retrieve`: BM25 on words and character n-grams,
chunk and best-sentence cosines, fused), its Milvus twin (`milvus`), which store a setting opens (`stores`), and the
evidence sentences the model reads (`evidence`).

May import: `rag.config`, `rag.schema`, `rag.stopwatch`, `rag.text`, `rag.checks.question_type`, `index`.
"""
