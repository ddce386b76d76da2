"""The `openai` generator backend: any OpenAI-compatible chat completions server (vLLM, llama.cpp's server, Ollama,
TGI) over HTTP, streamed. Registered in rag.models.generate.make_generator.

The confidence gate and yes/no judging need the model's first-token probabilities. This backend asks for them with
`logprobs` / `top_logprobs`: on the answer's own request (RAG_OPENAI_LOGPROBS=stream), or in a separate one-token
request made only when a confidence is needed (probe: for servers where logprobs slow every token down, such as
llama-cpp-python's, 1.8 s a token instead of 0.13 s on 2 cores). Where the server sends none (or with "off"),
`first_token_logprob` returns None and the pipeline works as with the transformers backend: no gate.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterator

from index.remote import RemoteClient, RemoteUnavailable
from rag.config import Settings
from rag.models.base import Generator, Message

log = logging.getLogger("rag.generate")

NO_LOGPROBS = "no confidence gate: the model server gives no logprobs"


class OpenAIGenerator(Generator):
    name = "openai"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.client: RemoteClient | None = None
        self.model = settings.openai_model
        # None until an answer shows whether the server sends logprobs.
        self.logprobs: bool | None = None if settings.openai_logprobs != "off" else False
        self.model_id = f"{self.model or '?'} at {settings.openai_base_url}"

    def warm_up(self) -> None:
        """Connect and name the model. A server that is down is not a start-up failure: /readyz says so, questions
        get 503 until it answers. A model name the server does not serve is one (a setting to fix)."""
        if self.client is not None:
            return
        s = self.settings
        self.client = RemoteClient(s.openai_base_url, s.openai_api_key, s.remote_timeout_s, s.remote_retries,
                                   what="model server")
        try:
            self._resolve_model()
        except RemoteUnavailable as exc:
            log.warning("%s; questions get 503 until it answers", exc)

    def _resolve_model(self) -> None:
        served = [m.get("id") for m in self.client.get_json("/models", retries=0).get("data", []) if m.get("id")]
        if not self.model:
            if not served:
                raise RuntimeError(f"the model server at {self.client.base_url} lists no model; set RAG_OPENAI_MODEL")
            self.model = served[0]
        elif served and self.model not in served:
            raise RuntimeError(f"the model server at {self.client.base_url} serves {', '.join(served)}, "
                               f"not RAG_OPENAI_MODEL={self.model!r}")
        self.model_id = f"{self.model} at {self.client.base_url}"

    # ---- status (read by /readyz and the pipeline; no request is made) ------------------------------------------------
    @property
    def confidence_note(self) -> str | None:
        """Why answers carry no confidence, for abstain_reason; None when the gate works (or is not known yet)."""
        return NO_LOGPROBS if self.logprobs is False else None

    def readiness(self) -> tuple[bool, str]:
        """(usable, one line): whether questions can be answered now, and what /readyz reports about the server."""
        status = self.client.status if self.client else None
        if status is not None and status.ok is False:
            self.client.probe_in_background()  # so that a server that came back is seen without a question
            return False, status.error
        gate = {True: "logprobs: yes (confidence gate on)", False: NO_LOGPROBS, None: "logprobs: not known yet"}
        return True, f"generator {self.model_id}; {gate[self.logprobs]}"

    # ---- generation ----------------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """An estimate (about four bytes a token): OpenAI-compatible servers share no tokenize route."""
        return len(text.encode("utf-8")) // 4 + 1

    def _body(self, messages: list[Message], max_tokens: int, stream: bool, logprobs: bool) -> dict:
        s = self.settings
        body = {**s.openai_extra_body, "model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": s.temperature, "seed": 0, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        if logprobs:
            body.update(logprobs=True, top_logprobs=s.openai_top_logprobs)
        return body

    def stream(self, messages: list[Message], max_tokens: int, stop: list[str] | None = None,
               grammar: str | None = None) -> Iterator[str]:
        self.warm_up()
        if not self.model:  # the server was down at start-up
            self._resolve_model()
        mode = self.settings.openai_logprobs
        in_stream = mode == "stream" or (mode == "probe" and max_tokens == 1)
        body = self._body(messages, max_tokens, stream=True, logprobs=in_stream)
        if stop:
            body["stop"] = stop
        self._last.first_logprobs = None
        self._last.probe_messages = messages if mode == "probe" and not in_stream else None
        self._last.prompt_tokens = 0
        self._last.text = ""
        with self.client.events("/chat/completions", body) as events:
            for event in events:
                if event.get("usage"):
                    self._last.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                for choice in event.get("choices") or []:
                    if in_stream and self._last.first_logprobs is None:
                        self._last.first_logprobs = first_step(choice.get("logprobs"))
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        self._last.text += piece
                        yield piece
        if self._last.text and in_stream:
            self.logprobs = self._last.first_logprobs is not None

    def _probe(self, messages: list[Message]) -> "FirstStep | None":
        """The first step's logprobs for `messages` from a one-token request (the server has the prompt cached)."""
        response = self.client.post_json("/chat/completions", self._body(messages, 1, stream=False, logprobs=True))
        step = first_step(((response.get("choices") or [{}])[0]).get("logprobs"))
        self.logprobs = step is not None
        return step

    def first_token_logprob(self, text: str) -> float | None:
        """The log-probability the server gave to `text`'s first token at the first step of the last answer.

        The server names tokens as strings, not ids, and no tokenizer is at hand. For the answer itself, the first
        token is the one the model wrote. For another text ("Je ne sais pas", "Oui"), it is taken to be the longest
        listed token string that the text starts with (what a BPE tokenizer usually picks). A token not listed was not
        among the top_logprobs: it gets an upper bound on its probability, the smaller of the lowest listed one and
        the mass the list leaves out."""
        step = getattr(self._last, "first_logprobs", None)
        messages = getattr(self._last, "probe_messages", None)
        if step is None and messages:
            self._last.probe_messages = None
            step = self._last.first_logprobs = self._probe(messages)
        if step is None or not text:
            return None
        if text == getattr(self._last, "text", None) and step.sampled and text.startswith(step.sampled):
            return step.listed[step.sampled]
        matches = [token for token in step.listed if token and text.startswith(token)]
        return step.listed[max(matches, key=len)] if matches else step.floor


@dataclass
class FirstStep:
    listed: dict[str, float]  # token string -> logprob: the top_logprobs and the token written
    floor: float  # the bound for a token not listed
    sampled: str | None  # the token the model wrote


def first_step(logprobs: dict | None) -> FirstStep | None:
    """The first generated step's logprobs, from a chunk's or a completion's `logprobs`."""
    content = (logprobs or {}).get("content") or []
    if not content:
        return None
    first = content[0]
    listed: dict[str, float] = {}
    for entry in [*(first.get("top_logprobs") or []), first]:
        token, logprob = entry.get("token"), entry.get("logprob")
        if token is None or logprob is None or not math.isfinite(logprob):
            continue
        listed[token] = max(logprob, listed.get(token, -math.inf))
    if not listed:
        return None
    left = 1.0 - sum(math.exp(lp) for lp in listed.values())
    floor = min(min(listed.values()), math.log(left) if left > 1e-12 else -30.0)
    sampled = first.get("token") if first.get("token") in listed else None
    return FirstStep(listed, floor, sampled)
