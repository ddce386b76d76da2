"""Document text on its way into a prompt: the model must read it as text, never as structure.

Only the prompt's copy is changed; passages, citations and their spans keep the stored text exactly.

- Special tokens (`<|im_start|>`, `<|endoftext|>`, `</s>`, `<tool_call>`…): llama-cpp-python tokenizes the whole
  formatted prompt with special=True, so that text in a document would become the real control token and could end
  the prompt's structure (a fake system turn). Their angle brackets become ‹ ›, which no tokenizer treats as special.
  The pattern covers every special token of the bundled GGUFs (tests/test_sanitize.py reads them from the model's
  vocabulary) and the usual shapes of other chat models (`<|eot_id|>`, `<start_of_turn>`, `[INST]`, `<<SYS>>`).
- Invisible characters (zero-width, bidi controls, tag characters, variation selectors, other format and control
  characters) are dropped: they hide text from a reader, and could split a special token that a later step rejoins.
- Fake passage markers `[n]` become `(n)`: a document cannot open a passage of its own or pre-cite one.
- Whitespace is collapsed, so a passage is one line: no document line can start with "Question :" or "Réponse :".
- Length: a "word" over 64 characters (a base64 blob, a 100,000-character line without spaces) keeps its first 64,
  and a passage its first 1,500 characters, each followed by "…". No sentence of the seed or PIAF documents comes
  near either (at most 24 and 700 characters); a 100,000-character word made a 50,528-token prompt, past the
  model's 2,048-token context.
"""
from __future__ import annotations

import re
import unicodedata

_SPECIAL = re.compile(r"<[|｜][^<>\n]{0,64}?[|｜]>|</?[A-Za-z_][\w.\-]{0,40}>|\[/?INST\]|<</?SYS>>")
_MARKER = re.compile(r"\[(\d{1,4})\]")
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
MAX_WORD_CHARS = 64
MAX_PASSAGE_CHARS = 1500
_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_WORD_CHARS + 1))


def _visible(char: str) -> bool:
    return unicodedata.category(char) not in ("Cf", "Cc") or char in "\t\n\r"


def _neutral(match: re.Match) -> str:
    token = match.group()
    if token.startswith("["):
        return "(" + token[1:-1] + ")"
    if token.startswith("<<"):
        return "‹‹" + token[2:-2] + "››"
    return "‹" + token[1:-1] + "›"


def for_prompt(text: str) -> str:
    """`text` as one prompt line that reads the same but carries no structure: see the module's docstring."""
    text = " ".join(_VARIATION_SELECTORS.sub("", "".join(c for c in text if _visible(c))).split())
    text = _MARKER.sub(r"(\1)", _SPECIAL.sub(_neutral, text))
    text = _LONG_WORD.sub(lambda m: m.group()[:MAX_WORD_CHARS] + "…", text)
    return text if len(text) <= MAX_PASSAGE_CHARS else text[:MAX_PASSAGE_CHARS] + "…"
