"""VRAM Insight: architecture-exact GPU memory estimates for LLM inference, fine-tuning, training, GRPO and
multimodal models. Pure Python; pydantic v2 is the only runtime dependency (runs in Pyodide too).

    >>> from vram_insight import EstimateRequest, estimate
    >>> estimate(EstimateRequest(model="llama-3.1-8b", mode="inference")).total_bytes  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

# Bound eagerly: `estimate` is also the name of a submodule, and a lazy attribute would lose to the submodule
# once anything imported it (`from vram_insight import estimate` would then give the module).
from .estimate import estimate
from .planning import report
from .schemas import EstimateRequest, EstimateResult, Report

__all__ = ["EstimateRequest", "EstimateResult", "Report", "__version__", "estimate", "report"]
