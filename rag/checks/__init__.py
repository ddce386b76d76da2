"""Everything that judges an answer. The entry point is `rag.checks.cite.verify`, which returns a `Verdict`: the
answer attributed to exact sentences, or an abstention with its reason.

Owns citation and grounding (`cite`), the question's expected kind of answer (`question_type`), yes/no judgement
(`polarity`, the one check that asks the model) and giving answers back in the source's words (`wording`).

May import: `rag.schema`, `rag.text`, `rag.prompt` and `rag.models` (the answer styles and the generator
interface, for `polarity`), `index.sentences`.
"""
