"""The checks' one entry point: `judge` takes what the model drafted and returns the `Verdict` every later step
uses. In order: the confidence read from the answer's first step, citation and grounding (`rag.checks.cite.verify`),
the confidence gate, the kind of answer a translated question asked for, and a yes/no answer re-judged on its
cited sentence alone (the one check that asks the model)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rag.checks.cite import OFF_QUESTION, UNSURE, Verdict, is_abstention, is_yes_no, parse_markers, unsure, verify
from rag.checks.polarity import is_yes_no_question, judge_yes_no
from rag.checks.question_type import WRONG_KIND, fits_question_type
from rag.models.base import Generator
from rag.prompt import style_for
from rag.schema import Passage
from rag.stopwatch import stage
from rag.text.textnorm import fold


@dataclass(frozen=True)
class Draft:
    """What the model wrote for one question, and what it was asked."""

    raw: str  # the model's text, markers included
    question: str  # the user's words
    asked: str  # the question the model read (its French translation under the English pivot)
    language: str  # the question's language
    answer_language: str  # the language the model wrote in
    documents_language: str | None  # the passages' language

    @property
    def pivot(self) -> bool:
        """Written in another language than the question's: the answer is translated back afterwards."""
        return self.answer_language != self.language


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    confidence: float | None  # None where the backend gives no first-step logprobs, or nothing was answered
    yes_no: bool  # a yes/no answer (translated back by word, not by the model)


# (question, [(doc_id, start, end, text)]) -> the best cosine of the question and those sentences
Similarity = Callable[[str, list[tuple[str, int, int, str]]], float]


def judge(draft: Draft, passages: list[Passage], source_text: dict[str, str], generator: Generator,
          min_confidence: float, similarity: Similarity | None = None, min_similarity: float = 0.0) -> Judgement:
    """`similarity` and `min_similarity`: an answer to a question in another language than the documents is refused
    when its cited sentences are further than that from the user's own question (no words to compare)."""
    asked, question, language = draft.asked, draft.question, draft.answer_language
    yes_no_question = is_yes_no_question(asked) or is_yes_no_question(question)
    with stage("confidence"):
        confidence = answer_confidence(generator, draft.raw, language, yes_no_question)
    with stage("verify"):
        verdict = verify(as_yes_no(draft.raw, language) if yes_no_question else draft.raw, asked, passages,
                         source_text, asked_as=question if asked != question else None,
                         same_language=(language if asked != question else draft.language) == draft.documents_language,
                         answer_in_source_language=language == draft.documents_language)
    if not verdict.abstained and similarity and min_similarity > 0 and verdict.citations \
            and draft.documents_language and draft.language != draft.documents_language:
        with stage("similarity"):
            closeness = similarity(question, [(c.doc_id, c.start, c.end, c.quote) for c in verdict.citations])
        if closeness < min_similarity:
            verdict = Verdict("", abstained=True, reason=f"{OFF_QUESTION} (similarity {closeness:.2f})")
    if not verdict.abstained and unsure(confidence, min_confidence):
        verdict = Verdict("", abstained=True, reason=f"{UNSURE} (confidence {confidence:.2f})")
    if draft.pivot and not verdict.abstained and not fits_question_type(parse_markers(verdict.answer)[0], question):
        verdict = Verdict("", abstained=True, reason=WRONG_KIND)
    yes_no_answer = not verdict.abstained and is_yes_no(parse_markers(verdict.answer)[0])
    if yes_no_answer and verdict.citations:
        with stage("call.judge_yes_no"):
            verdict = rejudge_yes_no(generator, asked, verdict, language)
    return Judgement(verdict, confidence, yes_no_answer)


def answer_confidence(generator: Generator, raw: str, language: str, yes_no_question: bool = False) -> float | None:
    """P(answer's first token) / (that + P("don't know"'s first token)), from the unconstrained first step.
    For a yes/no question the answer's side is P(yes) + P(no): which of the two is judged apart (rag.checks.polarity)."""
    style = style_for(language)
    if not raw or is_abstention(raw):
        return None
    answers = [raw]
    if yes_no_question:
        answers = list(style.yes_no) + ([] if is_yes_no(parse_markers(raw)[0]) else [raw])
    logprobs = [generator.first_token_logprob(text) for text in answers]
    unknown_lp = generator.first_token_logprob(style.unknown_short)
    if None in logprobs or unknown_lp is None:
        return None
    answer_lp = float(np.logaddexp.reduce(logprobs))
    return round(1.0 / (1.0 + math.exp(unknown_lp - answer_lp)), 4)


def as_yes_no(raw: str, language: str) -> str:
    """A yes/no question answered with something else ("Moscou [1]") becomes a yes/no answer citing the same
    passages: which of yes/no is then judged on the cited sentence."""
    claim, cited = parse_markers(raw)
    if not claim or is_abstention(raw) or is_yes_no(claim):
        return raw
    return f"{style_for(language).yes_no[0]} " + "".join(f"[{n}]" for n in cited)


def rejudge_yes_no(generator: Generator, question: str, verdict: Verdict, language: str) -> Verdict:
    """The yes/no answer as the model reads it from the cited sentence alone (see rag.checks.polarity)."""
    claim, _ = parse_markers(verdict.answer)
    judged = judge_yes_no(generator, question, verdict.citations[0].quote, language)
    if not judged or fold(judged) == fold(claim.rstrip(".!")):
        return verdict
    return Verdict(verdict.answer.replace(claim.rstrip(".!"), judged, 1), verdict.citations, reason=verdict.reason)
