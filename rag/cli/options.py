"""Settings for a command: the `RAG_*` environment, overridden by the options given on the command line."""
from __future__ import annotations

import argparse
from pathlib import Path


def settings_from_args(args: argparse.Namespace):
    """`--index-dir`, `--backend` and `--generator` over the `RAG_*` settings."""
    from rag.config import Settings

    overrides = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    for name in ("backend", "generator"):
        if getattr(args, name, None):
            overrides[name] = getattr(args, name)
    return Settings(**overrides)
