"""Optional API keys: with RAG_API_KEYS set, /v1/* needs `Authorization: Bearer KEY` (401 otherwise).

Keys are compared with hmac.compare_digest against every configured key, so the time taken says nothing about
how much of a key was right, nor which key matched.
"""
from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.config import Settings, get_settings

bearer = HTTPBearer(auto_error=False, description="an API key from RAG_API_KEYS (only when that is set)")


def key_matches(given: str, keys: list[str]) -> bool:
    given_bytes = given.encode("utf-8", "surrogateescape")
    matched = False
    for key in keys:  # no early exit: every key is compared
        matched |= hmac.compare_digest(given_bytes, key.encode("utf-8", "surrogateescape"))
    return matched


def require_api_key(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    settings: Settings = Depends(get_settings),
) -> None:
    if not settings.api_keys:
        return
    if credentials is None or credentials.scheme.lower() != "bearer" or not key_matches(credentials.credentials, settings.api_keys):
        raise HTTPException(401, detail="missing or invalid API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
