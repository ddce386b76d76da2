"""Extractive decoding: the grammar admits exactly runs of consecutive passage words plus the right marker."""
import re

import pytest

from rag.models.grammar import span_grammar
from rag.schema import Passage


def _passage(n: int, text: str) -> Passage:
    return Passage(n=n, doc_id="d.txt", chunk_id=f"c{n}", start=0, end=len(text), text=text, score=1.0)


PASSAGES = [
    _passage(1, "Le 21 janvier, Vladimir Poutine a parlé « longuement » avec Xi Jinping."),
    _passage(2, 'Le gazoduc livrera 10 milliards de m³ à partir de 2027, selon "Gazprom".'),
]


def test_grammar_lists_every_passage_and_the_unknown_phrase():
    grammar = span_grammar(PASSAGES, "Je ne sais pas.")
    root = grammar.splitlines()[0]
    assert root == 'root ::= p1 | p2 | "Je ne sais pas."'
    assert 'p1 ::= (' in grammar and '" [1]"' in grammar and '" [2]"' in grammar
    assert '\\"' not in grammar.replace('"Gazprom"', "")  # quotes stripped from word edges, none left unescaped


def test_lone_punctuation_is_not_a_word_and_first_letters_take_either_case():
    grammar = span_grammar(PASSAGES[:1], "Je ne sais pas.")
    assert '"«"' not in grammar and '"»"' not in grammar
    assert 'p1-s3 ::= [vV] "ladimir"' in grammar
    assert re.search(r'p1-w2 ::= "janvier" \(" " p1-w3\)\?', grammar)  # the comma after janvier is dropped


def test_yes_no_alternative_carries_a_marker():
    grammar = span_grammar(PASSAGES, "Je ne sais pas.", ("Oui", "Non"))
    assert '("Oui" | "Non") " " ("[1]" | "[2]")' in grammar


def test_grammar_parses_and_constrains_llama_cpp_output():
    """The real llama.cpp grammar parser accepts it, and the bundled model's output is a passage span."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from rag.config import Settings
    from rag.models.generate import make_generator
    from rag.prompt import build_messages

    llama_cpp.LlamaGrammar.from_string(span_grammar(PASSAGES, "Je ne sais pas.", ("Oui", "Non")), verbose=False)
    generator = make_generator(Settings())
    question = "En quelle année le gazoduc livrera-t-il du gaz ?"
    messages = build_messages(question, PASSAGES, "fr")
    text = generator.generate(messages, 24, grammar=span_grammar(PASSAGES, "Je ne sais pas.")).text
    # The unconstrained first-step distribution is recorded: the chosen answer's first token has a probability.
    chosen, unknown = generator.first_token_logprob(text), generator.first_token_logprob("Je ne sais pas.")
    assert chosen is not None and unknown is not None and chosen <= 0 and unknown <= 0
    assert generator.first_token_logprob("") is None
    match = re.fullmatch(r"(.+) \[(\d)\]", text)
    assert match or text == "Je ne sais pas.", text
    if match:
        words = match.group(1).lower()
        source = " ".join(w.strip(",.«»\"") for w in PASSAGES[int(match.group(2)) - 1].text.lower().split() if w not in "«»")
        assert words in source
