"""VRAM Insight: architecture-exact GPU memory estimates for LLM inference, fine-tuning, training, GRPO and
multimodal models. Pure Python; pydantic v2 is the only runtime dependency (runs in Pyodide too).

    >>> from vram_insight import EstimateRequest, estimate
    >>> estimate(EstimateRequest(model="llama-3.1-8b", mode="inference")).total_bytes  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["EstimateRequest", "EstimateResult", "Report", "__version__", "estimate", "report"]

if TYPE_CHECKING:
    from .estimate import estimate
    from .planning import report
    from .schemas import EstimateRequest, EstimateResult, Report


def __getattr__(name: str) -> Any:
    # Lazy exports keep `import vram_insight` cheap (the CLI and the browser worker import submodules on demand).
    if name == "estimate":
        from .estimate import estimate

        return estimate
    if name == "report":
        from .planning import report

        return report
    if name in ("EstimateRequest", "EstimateResult", "Report"):
        from . import schemas

        return getattr(schemas, name)
    raise AttributeError(name)
