"""User-facing messages as codes with parameters: the CLI prints English, the site translates.

Every assumption, warning and error the engine shows a user is a :class:`Message`: a stable ``code`` (dotted,
``<area>.<what>``, e.g. ``kv.sliding_window``), its ``params`` (numbers and short identifiers, never prose) and
``text``, the English rendering of :data:`TEMPLATES` ``[code]`` — what the CLI prints. The site renders the same
code in the user's language from ``site/i18n/<lang>.json`` (key ``msg.<code>``) with the same placeholders.

Placeholders are ``{name}`` or ``{name:spec}`` with ``spec`` one of ``,`` (thousands separators), ``.Nf`` or
``,.Nf`` (fixed decimals): the subset of Python's format mini-language that the site's renderer implements too.
A parameter may itself be a Message (a part of the sentence with its own wording, e.g. a weight format's
description inside "Weights: {format}"): it is rendered in the same language, so no English prose travels as a
parameter.

Each module registers the messages it emits next to the code that emits them (``register({...})`` at import), so a
contributor sees a message's code, English text and the formula it describes together. Workloads and runtimes emit
them through ``Ctx.note`` / ``Ctx.warn`` (:mod:`vram_insight.phases`).

Errors are :class:`InputError` (and its subclasses ``ConfigError``, ``EstimateError``, …): a Message plus the
``field`` at fault — a request field (``batch_size``) or ``config.<key path>`` for a config.json key. Their codes
are ``error.*`` (:mod:`.error_codes`).
"""

from __future__ import annotations

import re
import sys
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from .error_codes import ERROR_TEMPLATES

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(,|\.\d+f|,\.\d+f))?\}")

# code → English template, filled by register(). Keep codes stable once shipped (translations use them).
TEMPLATES: dict[str, str] = {}
TEMPLATES.update(ERROR_TEMPLATES)


class Message(BaseModel):
    """One user-facing message: ``code`` + ``params`` for translation, ``text`` in English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="Stable message code, e.g. 'kv.sliding_window'.")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    text: str = Field(description="English rendering (what the CLI prints).")

    def __str__(self) -> str:
        return self.text

    def key(self) -> str:
        """What identifies the message: its code and parameters (``text`` follows from them)."""
        return self.model_dump_json(include={"code", "params"})


# A parameter: a number, a short identifier, or a nested Message (rendered in the reader's language too).
ParamValue = str | int | float | bool | None | Message
Message.model_rebuild()


def unique(messages: list[Message]) -> list[Message]:
    """``messages`` without repeats (same code and parameters), first occurrence kept."""
    seen: set[str] = set()
    out: list[Message] = []
    for m in messages:
        k = m.key()
        if k not in seen:
            seen.add(k)
            out.append(m)
    return out


def render(template: str, params: dict[str, Any]) -> str:
    """Fill ``{name}`` / ``{name:spec}`` placeholders; an unknown name is left as written (never raises)."""

    def one(m: re.Match[str]) -> str:
        name, spec = m.group(1), m.group(2)
        if name not in params:
            return m.group(0)
        value = params[name]
        if value is None:
            return ""  # as the site's renderer shows it
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


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = 40) -> str:
    """A user's value as a short, one-line parameter (``got``): its repr, cut to ``limit`` characters."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # ints over 4,300 digits, deep nesting
        text = f"<{type(value).__name__}>"
    return one_line(text, limit)


class InputError(ValueError):
    """Bad or incompatible input: a :class:`Message` and the ``field`` at fault (or None).

    ``InputError(text)`` wraps English text under :attr:`default_code`; ``InputError(other_error, field)`` keeps
    the other error's code and its field when that is more precise; :meth:`of` builds a coded one. Raised with
    ``str(exc)`` while handling a coded ``exc``, it keeps ``exc``'s code (so layers that re-raise text lose
    nothing).
    """

    default_code = "error.input.rejected"
    default_field: str | None = None

    def __init__(self, message: str | Message | InputError, field: str | None = None) -> None:
        handling = sys.exc_info()[1]
        if isinstance(message, str) and isinstance(handling, InputError) and message == handling.message.text:
            message = handling  # ``raise XError(str(exc), field)`` inside ``except`` keeps exc's code
        if isinstance(message, InputError):
            self.message: Message = message.message
            inner = message.field
            # The wrapped error's field when it is the same or a more precise path (config → config.hidden_size).
            precise = inner and (not field or inner == field or inner.startswith(field + "."))
            self.field: str | None = inner if precise else field
        elif isinstance(message, Message):
            self.message, self.field = message, field
        else:
            self.message, self.field = msg(self.default_code, detail=one_line(str(message))), field
        self.field = self.field or self.default_field
        super().__init__(self.message.text)

    @classmethod
    def of(cls, code: str, at: str | None = None, /, **params: ParamValue) -> Self:
        """The error ``code`` with ``params``, at request field ``at`` (a template may use ``{field}`` too)."""
        return cls(msg(code, **params), at)


class ConfigError(InputError):
    """The config cannot describe a model: say which field and what to do."""

    default_code = "error.config.invalid"
    default_field = "config"
