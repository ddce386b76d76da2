"""Generator backends behind one interface: llama-cpp-python (default), transformers (bf16), and an OpenAI-compatible
server over HTTP (rag/models/remote.py).

Components follow Haystack: a cheap __init__, weights loaded once in warm_up(). A lock serialises calls, so
concurrent requests never interleave on one model's state (llama.cpp's KV cache is per model).
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from index.openmp import set_openmp_wait
from rag.config import Settings
from rag.models.assets import resolve_gguf
from rag.models.base import Generator, Message, default_threads
from rag.models.kvcache import BLOCK, block_aligned, prefix_cache, read_state, state_file_key, write_state
from rag.stopwatch import stage


class LlamaCppGenerator(Generator):
    name = "llama-cpp"
    supports_grammar = True

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._llm = None

    def warm_up(self) -> None:
        if self._llm is not None:
            return
        set_openmp_wait()  # read when llama.cpp loads
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
    from rag.models.remote import OpenAIGenerator  # it subclasses Generator: imported once this module is loaded

    return OpenAIGenerator(settings)


def make_generator(settings: Settings) -> Generator:
    backends = {"llama-cpp": LlamaCppGenerator, "transformers": TransformersGenerator, "openai": _openai_generator}
    if settings.backend not in backends:
        raise ValueError(f"unknown backend {settings.backend!r}; choose one of {', '.join(backends)}")
    return backends[settings.backend](settings)
