"""The web page: GET / serves api/static/index.html, and /web/* its script, style sheet and icon (package data, no
CDN, no build step). The page talks only to this server's /v1 API, under a strict Content-Security-Policy: no
inline script, no eval, nothing from another origin, so a document holding markup can never run anything even if
it were ever rendered as HTML (the page renders every text with text nodes only).

Neither the page nor its assets need an API key; the page asks for one when /v1 answers 401.
"""
from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidate, so an upgraded server serves its own page
}

def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


class PageAssets(StaticFiles):
    """The page's files, with the page's headers."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def assets() -> PageAssets:
    return PageAssets(directory=STATIC_DIR)
