"""Any failure as one coded error: pydantic's validation errors mapped to ``error.input.*`` codes with their
parameters, the engine's :class:`InputError`s as they are, and anything unexpected as ``error.internal``.

The web API and the CLI both report errors through :func:`as_input_error`, so a bad value reads the same in the
page, in a share link and on the command line.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from .messages import InputError, msg, one_line

# pydantic error type → (code, the ctx key holding the bound)
_BOUNDS = {
    "greater_than_equal": ("error.input.ge", "ge"),
    "greater_than": ("error.input.gt", "gt"),
    "less_than_equal": ("error.input.le", "le"),
    "less_than": ("error.input.lt", "lt"),
    "string_too_long": ("error.input.too_long", "max_length"),
}
_TYPES = {
    "missing": "error.input.missing",
    "extra_forbidden": "error.input.unknown_field",
    "int_type": "error.input.not_integer",
    "int_parsing": "error.input.not_integer",
    "int_parsing_size": "error.input.not_integer",
    "int_from_float": "error.input.not_integer",
    "float_type": "error.input.not_number",
    "float_parsing": "error.input.not_number",
    "finite_number": "error.input.not_finite",
    "bool_type": "error.input.not_boolean",
    "bool_parsing": "error.input.not_boolean",
    "string_type": "error.input.not_string",
    "string_unicode": "error.input.not_string",
    "dict_type": "error.input.not_object",
}
_QUOTED = re.compile(r"'([^']*)'|(-?\d+)")


def field_name(loc: tuple[Any, ...]) -> str | None:
    """The request field of a pydantic error location, as a short one-line name."""
    if not loc:
        return None
    text = " ".join(str(loc[0]).split())
    return text if len(text) <= 64 else text[:63] + "…"


def _expected(ctx: dict[str, Any]) -> str:
    """pydantic's literal ``expected`` ("'a', 'b' or 'c'") as a plain list: "a, b, c"."""
    raw = str(ctx.get("expected", ""))
    values = [a or b for a, b in _QUOTED.findall(raw)]
    return ", ".join(values) if values else raw


def from_validation(exc: ValidationError) -> InputError:
    """The first error of a request validation as a coded InputError naming the request field."""
    errors = exc.errors()
    if not errors:
        return InputError.of("error.input.invalid", None, field="request")
    first = errors[0]
    ctx = first.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, InputError):  # raised by a validator of ours (config bounds, cross-field checks)
        return InputError(cause, field_name(first["loc"]))
    field = field_name(first["loc"])
    kind = first["type"]
    shown_field = field or "request"
    if kind in _BOUNDS:
        code, key = _BOUNDS[kind]
        return InputError.of(code, field, field=shown_field, limit=ctx.get(key))
    if kind == "literal_error":
        return InputError.of("error.input.choice", field, field=shown_field, expected=_expected(ctx))
    if kind in _TYPES:
        return InputError.of(_TYPES[kind], field, field=shown_field)
    return InputError.of("error.input.invalid", field, field=shown_field)


def as_input_error(exc: BaseException) -> InputError:
    """Any exception as a coded, one-line InputError (unexpected ones as ``error.internal``)."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    return InputError(msg("error.internal", detail=one_line(f"{type(exc).__name__}: {exc}", 160)))


def error_payload(err: InputError) -> dict[str, Any]:
    """The ``error`` object of a web-API reply: code, field, params (for translation) and the English message."""
    return {
        "code": err.message.code,
        "field": err.field,
        "params": dict(err.message.params),
        "message": err.message.text,
    }


class EstimateError(InputError):
    """Invalid or incompatible input for an estimate; ``field`` names the request field at fault. The message may be
    a coded :class:`~vram_insight.messages.Message` (translatable) or English text (``error.input.rejected``)."""
