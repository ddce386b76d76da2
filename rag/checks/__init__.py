"""Everything that judges an answer. The entry point is `rag.checks.judge.judge`: it takes the model's draft and
returns a `Verdict` (the answer attributed to exact sentences, or an abstention with its reason), with the
answer's confidence.

Owns the entry point and the confidence gate (`judge`), citation and grounding (`cite.verify`), the question's
expected kind of answer (`question_type`), yes/no judgement (`polarity`, the one check that asks the model) and
giving answers back in the source's words (`wording`).

May import: `rag.schema`, `rag.stopwatch`, `rag.text`, `rag.prompt` (the answer styles), `rag.models` (the
generator interface, for the confidence and yes/no judgement), `index.sentences`.
"""
