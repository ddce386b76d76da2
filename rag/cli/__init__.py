"""The `rag` command line: `commands` (index, ask, chat, serve, models, eval), `chat` (the terminal chat),
`render` (answers printed with footnotes) and `options` (settings from the arguments).

The only part of `rag` that may import `api` and `eval`: it sits above them and starts them.
"""
from rag.cli.commands import main

__all__ = ["main"]
