"""vLLM's engine arguments as vLLM resolves them: which accounting each version uses, the defaults it fills in
for ``max_num_seqs`` / ``max_num_batched_tokens`` / ``gpu_memory_utilization`` / ``block_size``, the CUDA graphs
it captures, and the startup checks it makes on them.

Read from the released wheels (``pip download vllm==X --no-deps``); file names are relative to the ``vllm/``
package. Versions 0.6–0.7 run the V0 engine (``worker/worker.py``), 0.8 onwards the V1 engine
(``v1/worker/gpu_worker.py``). The default version is 0.21, the last release whose default model runner for
dense models is the V1 runner modelled here (0.22 switched dense models to the V2 runner,
``config/vllm.py`` ``_is_default_v2_model_runner_model``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..errors import EstimateError
from ..messages import msg, shown

GiB = 1 << 30
DEFAULT_VERSION = "0.21"
_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")


@dataclass(frozen=True)
class Rules:
    """What one vLLM version does at startup (each field names the version that introduced it)."""

    version: str
    engine: Literal["V0", "V1"]
    # 0.6: worker.py determine_num_available_blocks counts every byte cudaMemGetInfo reports as used (CUDA context
    # included) against the budget; 0.7 (PR #12126) measures from a snapshot taken after the context exists.
    context_in_budget: bool
    # Sampler of the profile run: "sort" = PyTorch top-k/top-p (logits.sort over the vocabulary; V0 sampler.py
    # _apply_top_k_top_p, V1 ≤ 0.17 topk_topp_sampler.py apply_top_k_top_p); "triton" = 0.18+
    # apply_top_k_top_p_triton for ≥ 8 rows (in place, plus a per-SM row buffer); 0.21 adds FlashInfer's
    # sampler (VLLM_USE_FLASHINFER_SAMPLER default on) whose first warm-up call allocates no more.
    sampler: Literal["sort", "triton"]
    # ≥ 0.20: VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to 1 and gpu_worker.py subtracts the estimate
    # from the KV budget; before, graphs are captured after the KV cache and must fit beside the budget.
    graphs_in_budget: bool
    # Capture sizes: "v0" = worker/model_runner.py _BATCH_SIZES_TO_CAPTURE [1,2,4,8..256]; "step8" = 0.10
    # config/__init__.py [1,2,4]+range(8,N+1,8), PIECEWISE only; "full8" = 0.11 FULL_AND_PIECEWISE (FULL decode
    # graphs up to max_num_seqs) with step-8 sizes; "full16" = 0.13+ config/vllm.py step 16 above 256.
    graphs: Literal["v0", "step8", "full8", "full16"]
    default_utilization: float  # config/cache.py gpu_memory_utilization default
    default_block_size: int  # config/cache.py DEFAULT_BLOCK_SIZE
    rows_160: bool  # 0.30 engine/arg_utils.py get_batch_defaults: a ≥ 160 GiB row (16384 / 16384, 1024 seqs)
    # "GPU KV cache size: N tokens": 0.21 kv_cache_utils.py prints int(max concurrency × max_model_len); earlier
    # num_blocks // groups × block_size (V0: num_gpu_blocks × block_size).
    tokens_from_concurrency: bool = False
    # 0.34 config/cache.py enable_extensible_kv_cache (default on CUDA/ROCm): the KV cache is sized from the memory
    # actually free after warm-up, gpu_memory_utilization (default 1.0) only caps it, and request_memory skips the
    # "free memory < requested" startup check.
    extensible_kv: bool = False
    approximated_by: str | None = None  # set when a version is modelled with the rules of another


def parse_version(text: str) -> tuple[int, ...]:
    if not _VERSION.match(text.strip()):
        raise EstimateError(msg("error.vllm_version.format", got=shown(text)), "vllm_version")
    return tuple(int(p) for p in text.strip().split("."))


def rules_for(version: str) -> Rules:
    """The accounting of vLLM ``version`` (0.6 or later)."""
    v = parse_version(version)[:2]
    if v < (0, 6) or v[0] != 0:
        raise EstimateError(msg("error.vllm_version.unsupported", got=version), "vllm_version")
    if v < (0, 8):
        return Rules(version, "V0", v < (0, 7), "sort", False, "v0", 0.9, 16, False)
    approx = None
    if v < (0, 10):
        approx = "0.10"  # V1 became the default in 0.8; 0.8–0.9 are modelled with 0.10's rules
    elif v > (0, 21):
        approx = "0.21"  # V2 model runner (its own sampler warm-up) not modelled: 0.21's V1 runner is used
    graphs = "step8" if v < (0, 11) else "full8" if v < (0, 13) else "full16"
    utilization = 0.9 if v < (0, 20) else 1.0 if v >= (0, 34) else 0.92
    return Rules(
        version=version,
        engine="V1",
        context_in_budget=False,
        sampler="sort" if v < (0, 18) else "triton",
        graphs_in_budget=v >= (0, 20),
        graphs=graphs,
        default_utilization=utilization,  # 0.34: 1.0 with the extensible KV cache (default on CUDA/ROCm)
        default_block_size=64 if v >= (0, 34) else 16,
        rows_160=v >= (0, 30),
        tokens_from_concurrency=v >= (0, 21),
        extensible_kv=v >= (0, 34),
        approximated_by=approx,
    )


@dataclass(frozen=True)
class Scheduler:
    """The resolved batch limits and whether each came from vLLM's defaults."""

    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    defaulted: bool  # any of them filled in by vLLM's defaults


def batch_defaults(rules: Rules, device_bytes: int | None, gpu_name: str) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) defaults of ``vllm serve`` (the OpenAI API server usage context).

    V1 engine/arg_utils.py ``get_batch_defaults``: ≥ 70 GiB and not an A100 → 8192 / 1024 (LLM class 16384);
    0.30: ≥ 160 GiB → 16384 / 1024; otherwise 2048 / 256 (LLM class 8192). With no GPU known vLLM falls back to
    the small row (``device_memory = 0``). V0 config.py SchedulerConfig: 256 sequences; the token budget is
    set in :func:`resolve_scheduler`.
    """
    if rules.engine == "V0":
        return 2048, 256
    memory = device_bytes or 0
    if rules.rows_160 and memory >= 160 * GiB:
        return 16384, 1024
    if memory >= 70 * GiB and "a100" not in gpu_name.lower():
        return 8192, 1024
    return 2048, 256


def resolve_scheduler(
    rules: Rules,
    max_model_len: int,
    max_num_seqs: int | None,
    max_num_batched_tokens: int | None,
    enable_chunked_prefill: bool | None,
    device_bytes: int | None,
    gpu_name: str,
    sliding_window: bool,
) -> Scheduler:
    """The batch limits vLLM runs with, and its startup checks on them (errors name the field)."""
    default_tokens, default_seqs = batch_defaults(rules, device_bytes, gpu_name)
    if enable_chunked_prefill is None:
        # V0 arg_utils.py create_engine_config: on by default only for max_model_len > 32K (CUDA, no sliding
        # window); V1 config/scheduler.py: enable_chunked_prefill = True.
        chunked = max_model_len > 32768 and not sliding_window if rules.engine == "V0" else True
    else:
        chunked = enable_chunked_prefill
    seqs = max_num_seqs if max_num_seqs is not None else default_seqs
    if max_num_batched_tokens is not None:
        tokens = max_num_batched_tokens
    elif rules.engine == "V0":
        # V0 config.py SchedulerConfig: with chunked prefill 512 (0.6) or 2048 (0.7), else max(max_model_len, 2048).
        tokens = (512 if rules.context_in_budget else 2048) if chunked else max(max_model_len, 2048)
    else:
        # V1 arg_utils.py _set_default_max_num_seqs_and_batched_tokens_args.
        tokens = default_tokens if chunked else max(max_model_len, default_tokens)
        tokens = min(seqs * max_model_len, tokens)
    if max_num_seqs is None and rules.engine == "V1":
        seqs = min(seqs, tokens)
    if not chunked and tokens < max_model_len:
        # config/scheduler.py verify_args (same text in V0 config.py).
        raise EstimateError(
            msg("error.vllm.batched_below_model_len", tokens=tokens, model_len=max_model_len),
            "max_num_batched_tokens",
        )
    if tokens < seqs:
        raise EstimateError(
            msg("error.vllm.batched_below_seqs", tokens=tokens, seqs=seqs), "max_num_batched_tokens"
        )
    defaulted = max_num_seqs is None or max_num_batched_tokens is None
    return Scheduler(seqs, tokens, chunked, defaulted)


def capture_sizes(rules: Rules, max_num_seqs: int, max_num_batched_tokens: int) -> list[int]:
    """Batch sizes vLLM captures a (piecewise or V0 decode) CUDA graph for."""
    if rules.graphs == "v0":
        # worker/model_runner.py: _BATCH_SIZES_TO_CAPTURE = [1, 2, 4] + [8 * i for i in range(1, 1025)], up to
        # _get_max_graph_batch_size(max_num_seqs) = max_num_seqs padded to 1, 2, 4 or a multiple of 8.
        top = max_num_seqs if max_num_seqs <= 2 else 4 if max_num_seqs <= 4 else -(-max_num_seqs // 8) * 8
        return [s for s in (1, 2, 4, *range(8, 8193, 8)) if s <= min(top, 8192)]
    # max_cudagraph_capture_size = min(max_num_seqs * 2, 512), then ≤ max_num_batched_tokens.
    largest = min(max_num_seqs * 2, 512, max_num_batched_tokens)
    sizes = [s for s in (1, 2, 4) if s <= largest]
    if rules.graphs in ("step8", "full8"):
        sizes += list(range(8, largest + 1, 8))
    else:
        sizes += list(range(8, min(largest + 1, 256), 8))
        if largest >= 256:
            sizes += list(range(256, largest + 1, 16))
    return sizes


def graph_counts(rules: Rules, max_num_seqs: int, max_num_batched_tokens: int) -> tuple[int, int, int]:
    """(piecewise or V0 graphs, FULL decode graphs, largest capture size).

    FULL_AND_PIECEWISE (V1 default since 0.11, config/compilation.py): every size gets a piecewise graph and the
    sizes ≤ max_num_seqs a FULL decode graph as well (v1/cudagraph_dispatcher.py initialize_cudagraph_keys).
    """
    sizes = capture_sizes(rules, max_num_seqs, max_num_batched_tokens)
    full = sum(1 for s in sizes if s <= max_num_seqs) if rules.graphs in ("full8", "full16") else 0
    return len(sizes), full, max(sizes)
