"""HTTP to OpenAI-compatible servers (a remote generator or embedder): timeouts, retries with backoff, one error type.

Retried: connection failures (refused, reset, connect timeout) and 429/502/503/504, with exponential backoff that
honours Retry-After. Not retried: a read timeout (the server may still be working on it) and anything after a
stream's first byte (its tokens are already out). What is left is raised as RemoteUnavailable, which the HTTP API
answers with 503.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

RETRY_STATUS = frozenset({429, 502, 503, 504})
MAX_BACKOFF_S = 10.0


class RemoteUnavailable(RuntimeError):
    """A remote server could not be reached, kept refusing, or broke off an answer; one readable line."""


@dataclass
class RemoteStatus:
    """What the last exchange with a server showed (read by /readyz; no request is made to produce it)."""

    url: str
    ok: bool | None = None  # None: not contacted yet
    error: str | None = None
    checked_at: float = 0.0


def _httpx():
    try:
        import httpx
    except ImportError:
        raise RuntimeError("install httpx to enable remote model servers") from None
    return httpx


class RemoteClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 60.0, retries: int = 3,
                 backoff_s: float = 0.5, what: str = "model server"):
        httpx = _httpx()
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # connect is short: a server that is down should be known in seconds, not after the read timeout.
        self._http = httpx.Client(base_url=self.base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)))
        self.status = RemoteStatus(self.base_url)
        self._probing = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # ---- status ------------------------------------------------------------------------------------------------------
    def _mark(self, ok: bool, error: str | None = None) -> None:
        self.status = RemoteStatus(self.base_url, ok, error, time.time())

    def probe_in_background(self, path: str = "/models") -> None:
        """Check the server again off the caller's thread (at most one probe at a time): /readyz never waits on it."""
        if not self._probing.acquire(blocking=False):
            return

        def probe() -> None:
            try:
                self.get_json(path, retries=0)
            except RemoteUnavailable:
                pass
            finally:
                self._probing.release()

        threading.Thread(target=probe, daemon=True, name=f"probe-{self.what}").start()

    # ---- requests ----------------------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, body: dict | None, stream: bool, retries: int | None = None):
        httpx = _httpx()
        retries = self.retries if retries is None else retries
        delay = self.backoff_s
        error = ""
        for attempt in range(retries + 1):
            wait = delay
            try:
                request = self._http.build_request(method, path, json=body)
                response = self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.PoolTimeout) as exc:
                error = f"{self.what} at {self.base_url} unreachable ({type(exc).__name__}: {exc})"
            except httpx.TimeoutException as exc:
                error = f"{self.what} at {self.base_url} did not answer in time ({type(exc).__name__})"
                break
            except httpx.HTTPError as exc:
                error = f"{self.what} at {self.base_url}: {type(exc).__name__}: {exc}"
                break
            else:
                if response.status_code < 400:
                    self._mark(True)
                    return response
                detail = _error_message(response)
                response.close()
                error = f"{self.what} at {self.base_url} answered {response.status_code}: {detail}"
                if response.status_code not in RETRY_STATUS:
                    break
                wait = _retry_after(response) or delay
            if attempt < retries:
                time.sleep(min(wait, MAX_BACKOFF_S))
                delay *= 2
        self._mark(False, error)
        raise RemoteUnavailable(error)

    def get_json(self, path: str, retries: int | None = None) -> dict:
        response = self._send("GET", path, None, stream=False, retries=retries)
        return _json_body(response, self)

    def post_json(self, path: str, body: dict) -> dict:
        response = self._send("POST", path, body, stream=False)
        return _json_body(response, self)

    @contextmanager
    def events(self, path: str, body: dict) -> Iterator[Iterator[dict]]:
        """POST a streaming request and yield its server-sent events' JSON payloads until `[DONE]`. A connection
        lost after the first byte raises RemoteUnavailable (never retried: part of the answer is already out)."""
        httpx = _httpx()
        response = self._send("POST", path, body, stream=True)

        def payloads() -> Iterator[dict]:
            try:
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise RemoteUnavailable(f"{self.what} at {self.base_url} sent an unreadable event") from None
                    if isinstance(payload, dict) and payload.get("error"):
                        raise RemoteUnavailable(f"{self.what} at {self.base_url} failed: {_message(payload['error'])}")
                    yield payload
            except httpx.HTTPError as exc:
                error = f"{self.what} at {self.base_url} broke off the answer ({type(exc).__name__}: {exc})"
                self._mark(False, error)
                raise RemoteUnavailable(error) from None

        try:
            yield payloads()
        finally:
            response.close()


def _retry_after(response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _message(error) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _error_message(response) -> str:
    try:
        body = response.read()
        payload = json.loads(body)
    except Exception:  # not JSON: say what it was, briefly
        return response.reason_phrase or "error"
    if isinstance(payload, dict):
        return _message(payload.get("error") or payload.get("detail") or payload)[:300]
    return str(payload)[:300]


def _json_body(response, client: RemoteClient) -> dict:
    try:
        return response.json()
    except ValueError:
        raise RemoteUnavailable(f"{client.what} at {client.base_url} sent a body that is not JSON") from None
    finally:
        response.close()
