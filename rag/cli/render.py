"""Terminal rendering of answers (rich): the answer, then numbered footnotes with exact quotes."""
from __future__ import annotations

from rich.console import Console

from rag.schema import Answer


def print_answer(answer: Answer, debug: bool = False, console: Console | None = None) -> None:
    console = console or Console()
    style = "yellow" if answer.abstained else "bold"
    console.print(answer.answer, style=style, highlight=False)
    for c in answer.citations:
        console.print(f"  [{c.n}] {c.doc_id} [{c.start}:{c.end}] “{c.quote}”", style="dim", highlight=False, markup=False)
    t = answer.timings_ms
    console.print(f"retrieve {t.retrieve:.0f} ms · generate {t.generate:.0f} ms · total {t.total:.0f} ms", style="dim")
    if debug:
        console.print(f"raw: {answer.raw_answer!r}", style="dim", markup=False)
        if answer.abstain_reason:
            console.print(f"abstained because: {answer.abstain_reason}", style="dim", markup=False)
