"""Conversations: follow-up questions made standalone before they are asked.

`session` holds the turns and asks through the pipeline (used by `rag chat`, `POST /v1/ask` with history and
`/v1/chat/completions`); `refer` detects what a follow-up refers to; `rewrite` chooses the referent and splices it in.

May import: `rag.pipeline`, `rag.schema`, `rag.text`.
"""
