"""The engine's input error: raised by any layer, reported by the interfaces with the field at fault."""

from __future__ import annotations


class EstimateError(ValueError):
    """Invalid or incompatible input; ``field`` names the request field when one is at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
