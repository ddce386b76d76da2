"""`rag chat`: a conversation with the documents in the terminal.

Interactive when stdin and stdout are terminals (prompt_toolkit for input and its history, rich for output): the
answer streams token by token and is then replaced by the verified answer with numbered footnotes. Otherwise one
question per line, answers printed (or JSONL with --json); the lines form one conversation either way.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from rich.console import Console
from rich.text import Text

from rag.cli.options import settings_from_args
from rag.conversation.session import Conversation, Turn
from rag.pipeline import Event, QuestionError, RagPipeline
from rag.conversation.rewrite import Rewrite
from rag.schema import Answer

HELP = """\
Ask a question in French or English; follow-ups ("Et quand doit-il débuter ?") are rewritten using the conversation.
  /sources   the passages behind the last answer
  /history   the conversation so far (the last {turns} turns are kept)
  /reset     forget the conversation
  /k N       passages to retrieve per question (now {k})
  /help      this help
  /quit      leave (or Ctrl-D); Ctrl-C cancels an answer being written"""


# ---- rendering -------------------------------------------------------------------------------------------------------
def status_line(turn: Turn) -> str:
    t, usage = turn.answer.timings_ms, turn.answer.usage
    parts = []
    if turn.rewrite.rewritten:
        parts.append(f"rewrite {turn.rewrite.seconds * 1000:.0f} ms")
    parts += [f"retrieve {t.retrieve:.0f} ms", f"generate {t.generate:.0f} ms", f"total {t.total + turn.rewrite.seconds * 1000:.0f} ms"]
    if usage and usage.tokens_per_second:
        parts.append(f"{usage.tokens_per_second:.1f} tok/s")
    return " · ".join(parts)


def print_rewrite(rewrite: Rewrite, console: Console) -> None:
    if rewrite.rewritten:
        console.print(Text("↳ " + rewrite.standalone, style="cyan"))


def print_turn(turn: Turn, console: Console) -> None:
    answer = turn.answer
    console.print(Text(answer.answer, style="yellow" if answer.abstained else "bold"))
    for c in answer.citations:
        console.print(Text(f"  [{c.n}] {c.doc_id} [{c.start}:{c.end}] “{c.quote}”", style="dim"))
    console.print(Text(status_line(turn), style="dim"))


def answer_json(turn: Turn) -> str:
    data = turn.answer.model_dump(mode="json", exclude={"raw_answer"})
    data["question"] = turn.rewrite.question
    data["rewritten_question"] = turn.rewrite.standalone if turn.rewrite.rewritten else None
    data["rewrite_ms"] = round(turn.rewrite.seconds * 1000, 1)
    return json.dumps(data, ensure_ascii=False)


# ---- commands --------------------------------------------------------------------------------------------------------
QUIT = object()


def run_command(line: str, conv: Conversation, console: Console):
    """Handles a /command; returns QUIT to leave."""
    name, _, arg = line.strip().partition(" ")
    name, arg = name.lower(), arg.strip()
    if name in {"/quit", "/exit", "/q"}:
        return QUIT
    if name in {"/help", "/?"}:
        console.print(HELP.format(turns=conv.turns.maxlen, k=conv.top_k), highlight=False, markup=False)
    elif name == "/reset":
        conv.reset()
        console.print("conversation cleared", style="dim")
    elif name == "/k":
        try:
            console.print(conv.set_k(arg) if arg else f"k = {conv.top_k}", style="dim")
        except QuestionError as exc:
            console.print(f"error: {exc}", style="red", markup=False)
    elif name == "/sources":
        if not conv.last:
            console.print("no answer yet", style="dim")
        elif not conv.last.answer.passages:
            console.print("no passages were found", style="dim")
        for p in conv.last.answer.passages if conv.last else []:
            console.print(Text(f"[{p.n}] {p.doc_id} [{p.start}:{p.end}] score {p.score:.4f}", style="bold"))
            console.print(Text("    " + " ".join(p.text.split()), style="dim"))
    elif name == "/history":
        if not conv.turns:
            console.print("no conversation yet", style="dim")
        for n, turn in enumerate(conv.turns, start=1):
            console.print(Text(f"{n}. {turn.rewrite.question}", style="bold"))
            if turn.rewrite.rewritten:
                console.print(Text(f"   ↳ {turn.rewrite.standalone}", style="cyan"))
            console.print(Text(f"   {turn.answer.answer}", style="yellow" if turn.answer.abstained else ""))
    else:
        console.print(f"unknown command {name}; /help lists the commands", style="red", markup=False, highlight=False)
    return None


# ---- interactive -------------------------------------------------------------------------------------------------
class _Worker:
    """Runs one turn in a thread. Python delivers Ctrl-C to the main thread only, so the KeyboardInterrupt never
    lands inside llama-cpp-python (whose state it can corrupt); cancelling closes the stream at the next token,
    the same clean stop as a client disconnecting from the API."""

    def __init__(self, events: Iterator[Event]):
        self.queue: queue.Queue = queue.Queue()
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(events,), name="rag-chat-turn", daemon=True)
        self.thread.start()

    def _run(self, events: Iterator[Event]) -> None:
        try:
            for event in events:
                if self.cancel.is_set():
                    break
                self.queue.put(event)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            self.queue.put(Event("error", exc))
        finally:
            events.close()
            self.queue.put(None)

    def __iter__(self) -> Iterator[Event]:
        while True:
            try:
                event = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if event is None:
                return
            if event.kind == "error":
                raise event.data
            yield event

    def stop(self) -> None:
        self.cancel.set()
        while self.thread.is_alive():
            try:
                self.thread.join(0.1)
            except KeyboardInterrupt:
                pass  # already stopping


def _answer_live(conv: Conversation, question: str, console: Console) -> None:
    from rich.console import Group
    from rich.live import Live
    from rich.spinner import Spinner

    before = conv.last
    worker = _Worker(conv.stream(question))
    streamed = Text()
    started = time.perf_counter()
    done: Answer | None = None
    try:
        with Live(Spinner("dots", text=Text("thinking…", style="dim")), console=console, transient=True,
                  refresh_per_second=10) as live:
            for event in worker:
                if event.kind == "rewrite":
                    print_rewrite(event.data, console)
                    live.update(Spinner("dots", text=Text("searching…", style="dim")))
                elif event.kind == "passages":
                    live.update(Spinner("dots", text=Text(f"{len(event.data)} passages · writing…", style="dim")))
                elif event.kind == "token":
                    streamed.append(event.data)
                    live.update(Group(streamed, Text("▌ Ctrl-C cancels", style="dim")))
                elif event.kind == "done":
                    done = event.data
    except KeyboardInterrupt:
        worker.stop()  # the model stops at its next token; the turn is not kept
        if conv.last is not before:  # it had just finished
            conv.turns.pop()
        console.print(Text(f"(cancelled after {time.perf_counter() - started:.1f} s)", style="yellow"))
        return
    if done is not None and conv.last is not None:
        print_turn(conv.last, console)


def interactive(conv: Conversation, console: Console) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import HTML
    from prompt_toolkit.history import FileHistory

    path = Path(conv.pipeline.settings.chat_history_file).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    session = PromptSession(history=FileHistory(str(path)))
    # Ctrl-C is how a user stops an answer here. A process started from a background job or `nohup bash -c` inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt: take it back for this terminal session.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    store = conv.pipeline.store
    console.print(
        f"rag chat · {conv.pipeline.settings.index_dir}: {len(store.docs)} documents, {len(store.chunks)} chunks · "
        f"k={conv.top_k} · /help for commands · Ctrl-D to quit",
        style="dim", highlight=False, markup=False,
    )
    while True:
        try:
            line = session.prompt(HTML("<b>› </b>"))
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if run_command(line, conv, console) is QUIT:
                break
            continue
        try:
            _answer_live(conv, line, console)
        except QuestionError as exc:
            console.print(f"error: {exc}", style="red", markup=False, highlight=False)
        except Exception as exc:  # noqa: BLE001 - one failed answer should not end the session
            if os.environ.get("RAG_DEBUG"):
                raise
            console.print(f"error: {type(exc).__name__}: {exc}", style="red", markup=False, highlight=False)
    console.print("bye", style="dim")
    return 0


# ---- piped -----------------------------------------------------------------------------------------------------------
def piped(conv: Conversation, lines, as_json: bool, out: Console, err: Console) -> int:
    status = 0
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("/"):
            if run_command(line, conv, err if as_json else out) is QUIT:
                break
            continue
        try:
            turn = conv.ask(line)
        except QuestionError as exc:
            err.print(f"rag chat: error: line {number}: {exc}", markup=False, highlight=False)
            status = 2
            continue
        if as_json:
            out.file.write(answer_json(turn) + "\n")
            out.file.flush()
            continue
        out.print(Text(f"> {turn.rewrite.question}", style="bold"))
        print_rewrite(turn.rewrite, out)
        print_turn(turn, out)
        out.print()
        out.file.flush()
    return status


def run(args) -> int:
    """Entry point of `rag chat` (args from rag.cli.commands)."""
    settings = settings_from_args(args)
    if getattr(args, "history_file", None):
        settings.chat_history_file = Path(args.history_file)
    pipeline = RagPipeline(settings)
    tty = sys.stdin.isatty() and sys.stdout.isatty() and not args.json
    console = Console(highlight=False) if tty else Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    conv = Conversation(pipeline, args.k, rewrite_model=args.model_rewrite)
    pipeline.check_question("k", conv.top_k)  # a bad -k fails before the models load
    if tty:
        with console.status("loading the index and models…"):
            pipeline.warm_up()
    else:
        pipeline.warm_up(generator=False)  # opens the index (or fails) now; the generator loads with the first line
    if tty:
        return interactive(conv, console)
    return piped(conv, iter(sys.stdin.readline, ""), args.json, console, err)
