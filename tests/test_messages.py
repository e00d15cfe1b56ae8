"""The message-code scheme: rendering, placeholders and registration."""

import pytest

from vram_insight.messages import Message, msg, placeholders, register, render


def test_render_supports_the_shared_placeholder_subset() -> None:
    text = render(
        "{n:,} tokens, {gb:.1f} GB, {x:,.2f}, {name}", {"n": 1234567, "gb": 17.456, "x": 1234.5, "name": "kv"}
    )
    assert text == "1,234,567 tokens, 17.5 GB, 1,234.50, kv"


def test_render_never_raises_on_missing_or_odd_params() -> None:
    assert render("{missing} and {n:,}", {"n": "not a number"}) == "{missing} and not a number"


def test_placeholders_lists_names() -> None:
    assert placeholders("{a} {b:,} {c:.2f}") == {"a", "b", "c"}


def test_register_and_emit() -> None:
    register({"test.example": "{count:,} layers on the GPU"})
    m = msg("test.example", count=4096)
    assert isinstance(m, Message) and m.text == "4,096 layers on the GPU" and m.params == {"count": 4096}
    with pytest.raises(ValueError):
        register({"test.example": "different text"})
    with pytest.raises(KeyError):
        msg("test.unregistered")
