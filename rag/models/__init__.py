"""Model backends: every generator behind one interface (`Generator`, made by `make_generator`).

Owns the llama.cpp and transformers generators (`generate`), the OpenAI-compatible remote one (`remote`), the
prompt-state cache (`kvcache`), the span grammar for extractive decoding (`grammar`) and the bundled weights
(`assets`). Embedders sit one layer down, in `index/embed.py` and `index/remote_embed.py`, because the index builds
its vectors with them and `index/` imports nothing from `rag/`.

May import: `rag.config`, `rag.schema`, `rag.stopwatch`, `rag.text`, `index`. Nothing here knows about retrieval,
checks or the pipeline.
"""
