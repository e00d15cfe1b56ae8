"""The engine's input error: raised by any layer, reported by the interfaces with the field at fault."""

from __future__ import annotations

from .messages import Message


class EstimateError(ValueError):
    """Invalid or incompatible input; ``field`` names the request field when one is at fault. ``message`` may be a
    coded :class:`~vram_insight.messages.Message` (kept as ``coded``, so the site can translate it) or plain text."""

    def __init__(self, message: str | Message, field: str | None = None) -> None:
        self.coded: Message | None = message if isinstance(message, Message) else None
        super().__init__(message.text if isinstance(message, Message) else message)
        self.field = field
