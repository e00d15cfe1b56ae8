"""User-facing messages as codes with parameters: the CLI prints English, the site translates.

Every assumption, warning and error the engine shows a user is a :class:`Message`: a stable ``code`` (dotted,
``<area>.<what>``, e.g. ``kv.sliding_window``), its ``params`` (numbers and short identifiers, never prose) and
``text``, the English rendering of :data:`TEMPLATES` ``[code]`` — what the CLI prints. The site renders the same
code in the user's language from ``site/i18n/<lang>.json`` (key ``msg.<code>``) with the same placeholders.

Placeholders are ``{name}`` or ``{name:spec}`` with ``spec`` one of ``,`` (thousands separators), ``.Nf`` or
``,.Nf`` (fixed decimals): the subset of Python's format mini-language that the site's renderer implements too.

Each module registers the messages it emits next to the code that emits them (``register({...})`` at import), so a
contributor sees a message's code, English text and the formula it describes together. Workloads and runtimes emit
them through ``Ctx.note`` / ``Ctx.warn`` (:mod:`vram_insight.phases`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ParamValue = str | int | float | bool | None

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(,|\.\d+f|,\.\d+f))?\}")

# code → English template, filled by register(). Keep codes stable once shipped (translations use them).
TEMPLATES: dict[str, str] = {}


class Message(BaseModel):
    """One user-facing message: ``code`` + ``params`` for translation, ``text`` in English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="Stable message code, e.g. 'kv.sliding_window'.")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    text: str = Field(description="English rendering (what the CLI prints).")

    def __str__(self) -> str:
        return self.text


def render(template: str, params: dict[str, Any]) -> str:
    """Fill ``{name}`` / ``{name:spec}`` placeholders; an unknown name is left as written (never raises)."""

    def one(m: re.Match[str]) -> str:
        name, spec = m.group(1), m.group(2)
        if name not in params:
            return m.group(0)
        value = params[name]
        if spec and isinstance(value, int | float) and not isinstance(value, bool):
            return format(value, spec)
        return str(value)

    return _PLACEHOLDER.sub(one, template)


def placeholders(template: str) -> set[str]:
    """The parameter names a template uses (tests check every translation uses the same ones)."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(template)}


def msg(code: str, **params: ParamValue) -> Message:
    """The message ``code`` with ``params``; an unregistered code is a programming error (KeyError)."""
    return Message(code=code, params=params, text=render(TEMPLATES[code], params))


def register(templates: dict[str, str]) -> dict[str, str]:
    """Add a module's message templates; a code registered twice with different text is a programming error."""
    for code, text in templates.items():
        if TEMPLATES.get(code, text) != text:
            raise ValueError(f"message code {code!r} registered twice with different text")
        TEMPLATES[code] = text
    return templates
