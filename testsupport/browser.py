"""Headless Chromium (Debian's /usr/bin/chromium under Playwright) and recording what a page does: every request URL
of a browser context, page errors, console errors."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Debian's chromium in a container or CI: no sandbox (no user namespaces there), no GPU, no QUIC; and nothing that
# phones home on its own (component updates, sync, background networking) to keep every request the page's.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path(env_var: str) -> str:
    """The browser binary: ``$env_var`` if set, else Debian's."""
    return os.environ.get(env_var, DEFAULT_CHROMIUM)


def launch_chromium(playwright: Any, executable: str) -> Any:
    """A headless Chromium from a started ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def record_requests(context: Any) -> list[str]:
    """Every request URL any page or worker of ``context`` makes from now on (the list fills as they happen)."""
    urls: list[str] = []
    context.on("request", lambda r: urls.append(r.url))
    return urls


def record_page_errors(page: Any, into: list[str] | None = None) -> list[str]:
    """Uncaught exceptions of ``page`` from now on, appended to ``into`` (a new list by default)."""
    errors: list[str] = [] if into is None else into
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def record_console_errors(page: Any, into: list[str] | None = None) -> list[str]:
    """console.error messages of ``page`` (CSP violations land here too), appended to ``into``."""
    errors: list[str] = [] if into is None else into
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def off_origin(urls: list[str], base_url: str) -> list[str]:
    """The URLs that left ``base_url``'s origin (data: and blob: URLs stay in the page)."""
    origin = urlsplit(base_url)[:2]
    return [u for u in urls if not u.startswith(("data:", "blob:")) and urlsplit(u)[:2] != origin]


class Session:
    """A browser context + page with every request URL, page error and console error recorded.

    ``with Session(browser, url) as s:`` closes the context at the end."""

    def __init__(
        self, browser: Any, base_url: str, *, default_timeout_ms: float | None = None, **context_args: Any
    ):
        self.base_url = base_url
        self.default_timeout_ms = default_timeout_ms
        self.context = browser.new_context(**context_args)
        self.requests = record_requests(self.context)
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        self.page = self.new_page()

    def new_page(self) -> Any:
        page = self.context.new_page()
        record_page_errors(page, self.errors)
        record_console_errors(page, self.console_errors)
        page.on("dialog", lambda d: d.accept())
        if self.default_timeout_ms is not None:
            page.set_default_timeout(self.default_timeout_ms)
        return page

    def off_origin(self) -> list[str]:
        return off_origin(self.requests, self.base_url)

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
