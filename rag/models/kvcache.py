"""How llama.cpp prompt states are reused (llama-cpp backend): block-aligned evaluation, so that an answer depends only
on its own prompt, and a RAM cache of prompt states that does not keep llama-cpp-python's full logits buffer."""
from __future__ import annotations

from rag.stopwatch import stage

# Prompts are evaluated in blocks of positions 0-63, 64-127, ... (prefill was no slower than with 512).
BLOCK = 64


def block_aligned(llama_class):
    """A Llama that resumes a cached prefix only at a block boundary, and evaluates the rest block by block.

    llama.cpp resumes a new prompt from the longest prefix it shares with a cached state. Resuming at any position
    splits the rest of the prompt into other batches than a fresh evaluation would, which changes rounding and now
    and then a greedy choice: one question got another answer depending on the question asked before it (in an HTTP
    service, another user's). With block-aligned batches a prompt's values depend only on the prompt itself.

    Blocks count from 0, and again from the end of a registered fixed prefix (a primed prompt's instructions and
    examples) when the prompt starts with one: every question then resumes exactly where its fixed part ends, not up
    to 63 tokens earlier. The boundaries still depend only on the prompt."""

    class BlockAlignedLlama(llama_class):
        canonical_end = 0  # positions below this were evaluated in whole blocks
        anchor = 0  # the fixed-prefix length those blocks were counted from
        fixed_prefixes: tuple[tuple[int, ...], ...] = ()
        last_prompt: list[int] = []
        last_reused = 0
        # Only primed prompts' states go to the cache: a question's own state is almost never resumed, and saving it
        # after every answer cost 30-100 ms (eval.profile, generate.state_save).
        keep_states = False

        def add_fixed_prefix(self, tokens) -> None:
            self.fixed_prefixes = tuple(sorted({*self.fixed_prefixes, tuple(tokens)}, key=len, reverse=True))

        def _anchor_of(self, prompt: list[int]) -> int:
            return next((len(p) for p in self.fixed_prefixes if tuple(prompt[: len(p)]) == p), 0)

        def _boundaries(self, anchor: int, end: int) -> list[int]:
            """Block starts up to `end`: every n_batch below the fixed prefix's end, then every n_batch from it."""
            return [*range(0, min(anchor, end + 1), self.n_batch), *range(anchor, end + 1, self.n_batch)]

        def eval(self, tokens):
            if not self._requires_eval:  # one decoded token
                return super().eval(tokens)
            prompt = self.input_ids[: self.n_tokens].tolist() + list(tokens)
            anchor = self._anchor_of(prompt)
            ours = self._boundaries(anchor, len(prompt))
            cached = self._boundaries(self.anchor, min(self.n_tokens, self.canonical_end))
            start = 0  # the last boundary up to which both prompts were cut into the same blocks
            for mine, theirs in zip(ours, cached):
                if mine != theirs:
                    break
                start = mine
            self.n_tokens = start
            self.last_prompt, self.last_reused = prompt, start  # what this prompt cost (eval.profile reads it)
            for begin, end in zip(ours, [*ours[1:], len(prompt)]):
                if end > begin >= start:
                    super().eval(prompt[begin:end])
            self.anchor = anchor
            self.canonical_end = ours[-1]

        def save_state(self):
            if not self.keep_states:
                return None
            with stage("generate.state_save"):
                state = super().save_state()
            state.canonical_end, state.anchor = self.canonical_end, self.anchor
            return state

        def load_state(self, state):
            with stage("generate.state_load"):
                super().load_state(state)
            self.canonical_end = getattr(state, "canonical_end", 0)
            self.anchor = getattr(state, "anchor", 0)

    return BlockAlignedLlama


def prefix_cache(capacity_bytes: int):
    from llama_cpp import LlamaRAMCache

    class TrimmedRAMCache(LlamaRAMCache):
        """llama-cpp-python saves the whole n_batch x vocabulary logits buffer (about 300 MB for Qwen) with every
        state and does not count it against the capacity. Keep one row (broadcast back on restore): 0.6 MB a state."""

        def __setitem__(self, key, value):
            if value is None:  # a state the model chose not to save (BlockAlignedLlama.keep_states)
                return
            # llama.cpp always re-evaluates the prompt's last token after a restore, so no stored row is read.
            if value.scores is not None and len(value.scores) > 1:
                value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)

    return TrimmedRAMCache(capacity_bytes=capacity_bytes)


# Primed prompt states saved beside the model cache, so a restart loads them instead of evaluating every language's
# instructions and examples again (most of a cold start: 4 prompts, about 1,600 tokens).
STATE_FORMAT = 1


def state_file_key(model_path, prompt: list[int], **settings) -> str:
    """A name that changes with anything the saved values depend on: the model file, the engine, the prompt."""
    import hashlib
    import os

    import llama_cpp

    stat = os.stat(model_path)
    parts = [STATE_FORMAT, llama_cpp.__version__, os.path.abspath(model_path), stat.st_size, int(stat.st_mtime),
             BLOCK, sorted(settings.items()), prompt]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def write_state(state, path) -> None:
    """Writes a llama.cpp state atomically (a temporary file, then a rename); numpy's format, no pickle."""
    import os
    import tempfile
    from pathlib import Path

    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, input_ids=state.input_ids[: state.n_tokens], scores=state.scores[-1:],
                     llama_state=np.frombuffer(state.llama_state, dtype=np.uint8),
                     numbers=np.array([state.n_tokens, state.seed, getattr(state, "canonical_end", 0),
                                       getattr(state, "anchor", 0), len(state.input_ids)], dtype=np.int64))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path):
    """The state written by write_state, or None when the file is missing or unreadable (then the prompt is primed
    again and the file rewritten)."""
    import numpy as np
    from llama_cpp import LlamaState

    try:
        with np.load(path, allow_pickle=False) as data:
            n_tokens, seed, canonical_end, anchor, n_ids = (int(x) for x in data["numbers"])
            input_ids = np.zeros(n_ids, dtype=np.intc)
            input_ids[:n_tokens] = data["input_ids"]
            raw = data["llama_state"].tobytes()
            state = LlamaState(input_ids, data["scores"].astype(np.single), n_tokens, raw, len(raw), seed)
    except (OSError, KeyError, ValueError):
        return None
    state.canonical_end, state.anchor = canonical_end, anchor
    return state
