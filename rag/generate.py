"""Generator backends behind one interface: llama-cpp-python (default), transformers (bf16), and an OpenAI-compatible
server over HTTP (rag/remote_generate.py).

Components follow Haystack: a cheap __init__, weights loaded once in warm_up(). A lock serialises calls, so
concurrent requests never interleave on one model's state (llama.cpp's KV cache is per model).
"""
from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from rag.assets import resolve_gguf
from rag.config import Settings
from rag.kvcache import BLOCK, block_aligned, prefix_cache, read_state, state_file_key, write_state
from rag.stopwatch import stage

Message = dict[str, str]


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first (prefill excluded)."""
        decode = self.seconds - self.first_token_seconds
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 else 0.0


def default_threads() -> int:
    # llama.cpp gains nothing from hyper-threads; on the 2-core target this is 2.
    return max(1, min(os.cpu_count() or 1, 8))


class Generator:
    name = "base"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lock = threading.Lock()
        self.model_id = settings.generator
        # What the last call on this thread measured (prompt tokens, first-step logprobs): read after the stream ends,
        # when another thread may already hold the model, so it must not be shared state.
        self._last = threading.local()

    def warm_up(self) -> None:
        raise NotImplementedError

    # Whether stream() honours a GBNF `grammar` (constrained decoding); other backends generate freely.
    supports_grammar = False

    def stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
               grammar: str | None = None) -> Iterator[str]:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def first_token_logprob(self, text: str) -> float | None:
        """Log-probability the model gave, before any grammar, to `text`'s first token as the first token of its
        last answer; None where the backend does not record it."""
        return None

    def prime(self, messages: list[Message]) -> None:
        """Evaluate a prompt once so that its fixed prefix is cached (a no-op where the backend keeps no cache)."""

    def timed_stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None,
                     stats: "GenerationStats", grammar: str | None = None) -> Iterator[str]:
        """stream(), recording time to first token, duration and token counts into `stats` as it goes."""
        start = time.perf_counter()
        for piece in self.stream(messages, max_tokens, stop, grammar):
            stats.first = stats.first or time.perf_counter() - start
            stats.pieces.append(piece)
            yield piece
        stats.seconds = time.perf_counter() - start
        stats.prompt_tokens = getattr(self._last, "prompt_tokens", 0)
        stats.cached_tokens = getattr(self._last, "cached_tokens", 0)
        stats.token_ids = getattr(self._last, "token_ids", None)

    def generate(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
                 grammar: str | None = None) -> Generation:
        stats = GenerationStats()
        for _ in self.timed_stream(messages, max_tokens, stop, stats, grammar):
            pass
        return stats.result()


@dataclass
class GenerationStats:
    pieces: list[str] = field(default_factory=list)
    first: float = 0.0
    seconds: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, those resumed from a cached state rather than evaluated
    token_ids: list[int] | None = None  # prompt and answer tokens, where the backend tells them (eval.profile)

    def result(self) -> Generation | None:
        if not self.pieces and not self.seconds:
            return None
        return Generation("".join(self.pieces), self.prompt_tokens, len(self.pieces), self.seconds, self.first or self.seconds)


class LlamaCppGenerator(Generator):
    name = "llama-cpp"
    supports_grammar = True

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._llm = None

    def warm_up(self) -> None:
        if self._llm is not None:
            return
        try:
            from llama_cpp import Llama
        except ImportError:
            raise RuntimeError("install llama-cpp-python to enable the llama-cpp backend") from None
        path = resolve_gguf(self.settings.generator, self.settings.cache_dir)
        self._llm = block_aligned(Llama)(
            model_path=str(path),
            n_ctx=self.settings.n_ctx,
            n_threads=self.settings.n_threads or default_threads(),
            n_batch=BLOCK,
            seed=0,
            verbose=False,
        )
        # Keeps the KV state of recent prompts; a new prompt resumes from the longest cached prefix, so the fixed
        # instructions and examples of each language are evaluated once, not per question.
        self._llm.set_cache(prefix_cache(capacity_bytes=128 << 20))
        self.model_id = f"{self.settings.generator} ({path.name})"

    def prime(self, messages: list[Message]) -> None:
        self.warm_up()
        llm = self._llm
        llm.add_fixed_prefix(self.fixed_prefix(messages))
        path = state = None
        if llm.metadata.get("tokenizer.chat_template"):
            prompt = self._prompt_tokens(messages)
            path = self._state_dir / f"{state_file_key(llm.model_path, prompt, n_ctx=self.settings.n_ctx)}.npz"
            state = read_state(path)
        llm.keep_states = True
        try:
            if state is not None and state.input_ids[: state.n_tokens].tolist() == prompt[: state.n_tokens]:
                llm.load_state(state)
                llm.cache[state.input_ids[: state.n_tokens].tolist()] = state
                return
            for _ in self.stream(messages, max_tokens=1):
                pass
            try:
                if path is not None:
                    write_state(llm.save_state(), path)
            except OSError:  # a read-only cache: the next start primes again
                pass
        finally:
            llm.keep_states = False

    @property
    def _state_dir(self) -> Path:
        return Path(self.settings.cache_dir) / "states"

    def fixed_prefix(self, messages: list[Message]) -> list[int]:
        """The tokens every prompt shaped like `messages` starts with: all but the last message's content."""
        if not self._llm.metadata.get("tokenizer.chat_template") or not messages:
            return []
        variants = [self._prompt_tokens([*messages[:-1], {**messages[-1], "content": content}]) for content in "AB"]
        shared = next((i for i, (a, b) in enumerate(zip(*variants)) if a != b), 0)
        return variants[0][:shared]

    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The tokens of `messages` in the model's own chat template, as create_chat_completion reads them."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llm.metadata.get("tokenizer.chat_template")
        eos = self._llm.detokenize([self._llm.token_eos()], special=True).decode("utf-8", "replace")
        prompt = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")(messages=messages).prompt
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def first_token_logprob(self, text: str) -> float | None:
        logprobs = getattr(self._last, "first_logprobs", None)
        if logprobs is None or not text:
            return None
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return float(logprobs[tokens[0]]) if tokens else None

    def _record_first_step(self, input_ids, logits):
        """Logits processor: keeps the unconstrained first-token distribution (the grammar applies after it)."""
        if self._last.first_logprobs is None:
            x = np.asarray(logits, dtype=np.float64)
            top = x.max()
            self._last.first_logprobs = (x - top - np.log(np.exp(x - top).sum())).astype(np.float32)
        return logits

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
               grammar: str | None = None) -> Iterator[str]:
        self.warm_up()
        from llama_cpp import LlamaGrammar, LogitsProcessorList

        if grammar is not None:
            with stage("generate.grammar"):
                grammar = LlamaGrammar.from_string(grammar, verbose=False)
        processors = LogitsProcessorList([self._record_first_step])
        with self.lock:
            self._last.first_logprobs = None
            chunks = self._llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=self.settings.temperature,
                top_k=1 if self.settings.temperature == 0 else 40,
                stop=stop or [],
                stream=True,
                grammar=grammar,
                logits_processor=processors,
            )
            self._last.prompt_tokens = self._last.cached_tokens = 0
            try:
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            finally:
                chunks.close()
                self._last.prompt_tokens = len(self._llm.last_prompt)
                self._last.cached_tokens = self._llm.last_reused
                self._last.token_ids = self._llm.input_ids[: self._llm.n_tokens].tolist()


class TransformersGenerator(Generator):
    """bf16 on CPU. The GGUF is dequantized once and cached as safetensors, so later loads take seconds."""

    name = "transformers"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._model = None
        self._tokenizer = None

    def _cached_dir(self) -> Path:
        name = re.sub(r"[^\w.-]", "_", Path(self.settings.generator).name.removesuffix(".gguf"))
        return Path(self.settings.cache_dir) / "models" / f"{name}-hf-bf16"

    def warm_up(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise RuntimeError("install torch and transformers to enable the transformers backend") from None
        source = self.settings.hf_model or str(self._cached_dir())
        if not self.settings.hf_model and not (Path(source) / "config.json").is_file():
            self._dequantize_to(Path(source))
        self._tokenizer = AutoTokenizer.from_pretrained(source)
        self._model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16)
        self._model.eval()
        torch.set_num_threads(self.settings.n_threads or default_threads())
        self.model_id = f"{self.settings.hf_model or self.settings.generator} (transformers bf16)"

    def _dequantize_to(self, target: Path) -> None:
        import shutil
        import tempfile

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = resolve_gguf(self.settings.generator, self.settings.cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(prefix=".hf-", dir=target.parent))
        try:
            # save_pretrained refuses GGUF-quantized models; the weights are plain bf16 tensors by now.
            from safetensors.torch import save_model

            save_model(model, str(tmp / "model.safetensors"))
            model.config.save_pretrained(tmp)
            if model.generation_config is not None:
                model.generation_config.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if target.exists():
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
               grammar: str | None = None) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        self.warm_up()
        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return cancelled.is_set()

        with self.lock:
            inputs = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            self._last.prompt_tokens = int(inputs["input_ids"].shape[1])
            streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs = dict(
                **inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_Cancel()]),
            )
            if stop:
                kwargs.update(stop_strings=stop, tokenizer=self._tokenizer)
            worker = threading.Thread(target=lambda: _no_grad(torch, self._model.generate, kwargs), daemon=True)
            worker.start()
            text = ""
            try:
                for piece in streamer:
                    if not piece:
                        continue
                    text += piece
                    hit = next((s for s in stop or [] if s in text), None)
                    if hit:
                        before = text[: text.index(hit)]
                        emitted = len(text) - len(piece)
                        if len(before) > emitted:
                            yield before[emitted:]
                        break
                    yield piece
            finally:
                cancelled.set()
                worker.join()


def _no_grad(torch, fn, kwargs):
    with torch.inference_mode():
        fn(**kwargs)


def _openai_generator(settings: Settings) -> Generator:
    from rag.remote_generate import OpenAIGenerator  # it subclasses Generator: imported once this module is loaded

    return OpenAIGenerator(settings)


def make_generator(settings: Settings) -> Generator:
    backends = {"llama-cpp": LlamaCppGenerator, "transformers": TransformersGenerator, "openai": _openai_generator}
    if settings.backend not in backends:
        raise ValueError(f"unknown backend {settings.backend!r}; choose one of {', '.join(backends)}")
    return backends[settings.backend](settings)
