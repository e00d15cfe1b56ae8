"""Which platform a card is, how much of it a workload may use, and which software runs there.

* **Apple Silicon (unified memory).** The GPU may wire only part of the RAM: Metal's
  ``MTLDevice.recommendedMaxWorkingSetSize``, which llama.cpp (``ggml-metal-device.m``: it is the device's
  "total" memory), Ollama (``discover/gpu_darwin.go``: ``TotalMemory = getRecommendedMaxVRAM()``) and PyTorch MPS
  size against. macOS sets it from the installed RAM, differently before and after macOS 26
  (:func:`macos_wired_limit`); ``sudo sysctl iogpu.wired_limit_mb=N`` replaces it with N MiB (Metal then reports
  exactly N MiB: AlexsJones/llmfit PR #754, antirez/ds4 PR #893).
* **Software by platform.** vLLM, bitsandbytes, flash-attn and the FP8/MXFP4 kernels run on some cards only
  (:func:`software_conflicts`); planning leaves the others out of its recommendations with these reasons.
* **Memory outside the allocator off NVIDIA** (:func:`device_allowance`): what device.py should count instead of
  the CUDA context and cuBLAS workspace on ROCm, Metal, TPU and Gaudi.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from .catalog import GpuEntry
from .errors import EstimateError
from .messages import Message, msg, register
from .schemas import EstimateRequest

MiB = 1 << 20
GiB = 1 << 30

Platform = Literal["cuda", "rocm", "metal", "gaudi", "tpu"]
PLATFORM_NAMES: dict[str, str] = {
    "cuda": "NVIDIA CUDA",
    "rocm": "AMD ROCm",
    "metal": "Apple Metal",
    "gaudi": "Intel Gaudi",
    "tpu": "Google TPU",
}

register({
    # Apple Silicon: the wired-memory limit.
    "platform.apple_limit": "GPU may wire {limit_gb:,.2f} of {ram_gb:,.2f} GB ({limit_gib:,.2f} of "
    "{ram_gib:,.0f} GiB; macOS {macos} limit)",
    "platform.apple_limit_sysctl": "GPU may wire {limit_gb:,.2f} of {ram_gb:,.2f} GB ({limit_gib:,.2f} of "
    "{ram_gib:,.0f} GiB; iogpu.wired_limit_mb = {mb:,} MiB)",
    "platform.apple_rule_legacy": "macOS {macos}'s default working set (recommendedMaxWorkingSetSize): {fraction} "
    "of the {ram_gib:,.0f} GiB RAM",
    "platform.apple_rule_logged": "macOS {macos}'s default working set (recommendedMaxWorkingSetSize) as logged "
    "on {ram_gib:,.0f} GiB Macs: {limit_gib:,.2f} GiB",
    "platform.apple_rule_unobserved": "macOS {macos}: no log of a {ram_gib:,.0f} GiB Mac was found, so macOS 15's "
    "{fraction} of the RAM is assumed (newer macOS releases allow more; set iogpu_wired_limit_mb if you know it)",
    "platform.apple_rule_sysctl": "set by sudo sysctl iogpu.wired_limit_mb={mb} (Metal then reports exactly this)",
    "platform.apple_mps": "PyTorch MPS raises out-of-memory only at {ratio} × this limit "
    "(PYTORCH_MPS_HIGH_WATERMARK_RATIO); between the two macOS pages memory out and the run slows down",
    # Software the card's platform cannot run: why a card is left out (and a warning on the chosen card).
    "platform.llama_cpp": "llama.cpp has no {platform} backend",
    "platform.vllm_metal": "vLLM has no Apple GPU backend: on macOS it runs on the CPU (GPU only through the "
    "community vllm-metal plugin, which runs MLX)",
    "platform.vllm_plugin": "vLLM runs on {platform} only through the {plugin} plugin, whose memory accounting is "
    "not the one modelled here",
    "platform.vllm_cc": "vLLM {version} needs compute capability {need} or higher",
    "platform.vllm_quant_cc": "vLLM's {method} kernels need compute capability {need} or higher",
    "platform.fp8_hw": "{runtime} keeps FP8 weights only on GPUs with FP8 support (compute capability {need}+ on "
    "NVIDIA, MI300 or newer on AMD)",
    "platform.fp8_platform": "transformers loads FP8 checkpoints only on CUDA/ROCm or Intel XPU GPUs, not on "
    "{platform}",
    "platform.mxfp4_dequant": "transformers has no MXFP4 kernels on {platform}: it dequantizes the experts to bf16",
    "platform.mxfp4_dequant_cc": "transformers keeps MXFP4 only on compute capability 7.5 or higher: it "
    "dequantizes the experts to bf16 here",
    "platform.bnb": "bitsandbytes {feature} does not run on {platform}",
    "platform.bnb_cc": "bitsandbytes {feature} needs compute capability {need} or higher",
    "platform.bnb_4bit": "4-bit (NF4/FP4)",
    "platform.bnb_int8": "LLM.int8()",
    "platform.bnb_8bit_optim": "8-bit optimizers",
    "platform.bnb_paged_optim": "paged optimizers",
    "platform.flash_attn_cc": "flash-attn (FlashAttention-2) needs an Ampere or newer NVIDIA GPU (compute "
    "capability 8.0+); choose sdpa",
    "platform.flash_attn_platform": "flash-attn (FlashAttention-2) has no {platform} build; choose sdpa",
    "platform.mxfp4_loaded_bf16": "{gpu}: transformers dequantizes MXFP4 to bf16 here (it keeps MXFP4 only on "
    "compute capability 7.5+ or Intel XPU); weights counted in bf16",
    "platform.left_out": "{names}: {reason}",
    # Memory outside the allocator off NVIDIA.
    "platform.metal_overhead": "Apple Metal: no CUDA context or cuBLAS workspace; {mib:,} MiB reserved for the "
    "Metal runtime, as Ollama reserves (discover/gpu_darwin.go metalMinimumMemory)",
})  # fmt: skip


def platform_of(gpu: GpuEntry) -> Platform:
    """The software platform of a catalog accelerator."""
    if gpu.vendor == "amd":
        return "rocm"
    if gpu.vendor == "apple":
        return "metal"
    if gpu.vendor == "google":
        return "tpu"
    if gpu.architecture == "gaudi":
        return "gaudi"
    return "cuda"


def compute_capability(gpu: GpuEntry) -> tuple[int, int] | None:
    """NVIDIA compute capability as (major, minor), or None off NVIDIA."""
    if gpu.compute_capability is None:
        return None
    major, minor = gpu.compute_capability.split(".")
    return int(major), int(minor)


def _cc_below(gpu: GpuEntry, need: tuple[int, int]) -> bool:
    cc = compute_capability(gpu)
    return cc is not None and cc < need


# ---------------------------------------------------------------------------------------------------------------
# Apple Silicon: how much of the unified memory the GPU may wire

# macOS versions: Apple Silicon shipped with macOS 11; after macOS 15 (Sequoia) Apple numbered by year (26 Tahoe,
# released 2025-09; 27). The default is 26, the release that succeeded 15; macOS 27 logs show 26's figures
# (a 64 GB M4 Pro on macOS 27.0, build 26A428, logged 55662.79 MB, the macOS 26 value below).
MACOS_VERSIONS = (11, 12, 13, 14, 15, 26, 27)
DEFAULT_MACOS = 26

# macOS ≤ 15: recommendedMaxWorkingSetSize = 2/3 of the RAM up to 32 GiB, 3/4 from 36 GiB. Logged: 8 GB 5.3 GB
# (SceneWorks PR #1552); 16 GB M4 on macOS 15.1 '11453.25 MB' (ggml-org/ci ggml-100-mac-m4 log, darwin24.1.0) and
# 16 GB M1 '10922.67 MB' (= MiB, abetlen/llama-cpp-python #687); 24 GB M2 '17179.89 MB' (ggml examples); 32 GB M2
# Max '21845.34' (MiB, ollama/ollama #434); 64 GB M1 Max '49152.00 MiB' (ggml-org/llama.cpp #1870); 96 GB M2 Max
# '73728' (MiB, #3213); 192 GB M2 Ultra total_global_memory 154618822656 (apache/tvm PR #16398). "75% of total
# RAM" on large Macs: gpustack/gpustack #1375.
LEGACY_SMALL_MAX_RAM = 32 * GiB
LEGACY_SMALL = Fraction(2, 3)
LEGACY_LARGE = Fraction(3, 4)

# macOS 26 and later: a larger share that grows with the RAM, as llama.cpp logs it ('recommendedMaxWorkingSetSize
# = X MB', bytes / 10^6 since ggml-metal-device.m prints / 1e6), by installed RAM in GiB. Only sizes with a log;
# other sizes fall back to the macOS 15 rule and say so.
MACOS26_WORKING_SET: dict[int, tuple[int, str]] = {
    16: (12_713_115_648, "16 GB M1/M3/M4 on macOS 26: 'recommendedMaxWorkingSetSize = 12713.12 MB', "
         "mem_total=12713115648 (llama.cpp b10566 log); Apple M3 16 GB '11.84 GB GPU-available of 16.00 GB' "
         "(AlexsJones/llmfit PR #754)"),
    32: (26_800_600_000, "32 GB M4: 'recommendedMaxWorkingSetSize = 26800.60 MB' (llama.cpp / Ollama log, "
         "ggml 0.11.0)"),
    36: (30_150_670_000, "36 GB M3 Max: 'recommendedMaxWorkingSetSize = 30150.67 MB', 'MTL0: Apple M3 Max "
         "(28753 MiB ...)' (llama.cpp b8981 log)"),
    48: (40_200_900_000, "48 GB M4 Pro: 'recommendedMaxWorkingSetSize = 40200.90 MB' (llama.cpp log)"),
    64: (55_662_790_000, "64 GB M3 Max / M4 Pro / M1 Max: 'recommendedMaxWorkingSetSize = 55662.79 MB', memory "
         "breakdown 'MTL0 (Apple M3 Max) | 53084' MiB (llama.cpp logs, 2026; also on macOS 27.0)"),
    128: (115_448_720_916, "128 GB M5 Max on macOS 26.x, before any sysctl: 'recommendedMaxWorkingSetSize: "
          "107.52 GiB # stock', the same on a second machine (antirez/ds4 PR #893, issue #890); 'macOS 26 "
          "advertising ~84% of RAM as the working set' (osaurus-ai/osaurus PR #1958)"),
    512: (498_216_210_000, "512 GB M3 Ultra: 'recommendedMaxWorkingSetSize = 498216.21 MB' (= 464 GiB, llama.cpp "
          "log)"),
}  # fmt: skip


@dataclass(frozen=True)
class WiredLimit:
    """The bytes the GPU of a Mac may wire and where the figure comes from."""

    limit_bytes: int
    ram_bytes: int
    macos_version: int
    set_by: Literal["macos", "iogpu.wired_limit_mb"]
    estimated: bool  # no log of this RAM size under this macOS: the macOS 15 rule stands in
    rule: Message


# The 2/3 share lands between pages; macOS rounds it up to its 16 KiB page (arm64 vm_page_size = 16384): 32 GB
# logs 21845.34 'MB' (MiB), which 2/3 × 32 GiB = 21845.333 MiB only reaches rounded up to a page.
PAGE_BYTES = 16384


def legacy_wired_limit(ram_bytes: int) -> tuple[int, Fraction]:
    """macOS ≤ 15's default working set: 2/3 of the RAM up to 32 GiB, 3/4 above, rounded up to a 16 KiB page."""
    fraction = LEGACY_SMALL if ram_bytes <= LEGACY_SMALL_MAX_RAM else LEGACY_LARGE
    pages = -(-ram_bytes * fraction // PAGE_BYTES)
    return int(pages) * PAGE_BYTES, fraction


def macos_wired_limit(
    ram_bytes: int, macos_version: int = DEFAULT_MACOS, wired_limit_mb: int | None = None
) -> WiredLimit:
    """How much of ``ram_bytes`` the GPU may wire on ``macos_version``, or the ``iogpu.wired_limit_mb`` override
    (MiB; 0 means the macOS default, as for the sysctl)."""
    if macos_version not in MACOS_VERSIONS:
        raise ValueError(f"macos_version {macos_version}: use one of {', '.join(map(str, MACOS_VERSIONS))}")
    if wired_limit_mb:
        return WiredLimit(wired_limit_mb * MiB, ram_bytes, macos_version, "iogpu.wired_limit_mb", False,
                          msg("platform.apple_rule_sysctl", mb=wired_limit_mb))  # fmt: skip
    ram_gib = ram_bytes / GiB
    legacy, fraction = legacy_wired_limit(ram_bytes)
    if macos_version <= 15:
        rule = msg("platform.apple_rule_legacy", macos=macos_version, fraction=str(fraction), ram_gib=ram_gib)
        return WiredLimit(legacy, ram_bytes, macos_version, "macos", False, rule)
    logged = MACOS26_WORKING_SET.get(round(ram_gib)) if ram_bytes % GiB == 0 else None
    if logged is not None:
        rule = msg(
            "platform.apple_rule_logged", macos=macos_version, ram_gib=ram_gib, limit_gib=logged[0] / GiB
        )
        return WiredLimit(logged[0], ram_bytes, macos_version, "macos", False, rule)
    rule = msg("platform.apple_rule_unobserved", macos=macos_version, ram_gib=ram_gib, fraction=str(fraction))
    return WiredLimit(legacy, ram_bytes, macos_version, "macos", True, rule)


def apple_ram_bytes(gpu: GpuEntry) -> int:
    """Installed unified memory of a catalog Mac (device_total_mib), else its marketed GB read as GiB."""
    return gpu.device_total_mib * MiB if gpu.device_total_mib else int(gpu.memory_gb * GiB)


def wired_limit(req: EstimateRequest, gpu: GpuEntry) -> WiredLimit | None:
    """The wired-memory limit of ``gpu`` when it is a Mac. ``iogpu_wired_limit_mb`` describes the user's own Mac,
    so it applies to the chosen GPU only; other Macs (recommendations) get the macOS default."""
    if gpu.vendor != "apple":
        return None
    ram = apple_ram_bytes(gpu)
    override = req.iogpu_wired_limit_mb if req.gpu and req.gpu.lower() == gpu.id else None
    if override and override * MiB > ram:
        raise EstimateError(
            msg("error.iogpu_wired_limit.above_ram", mb=override, ram_mib=ram // MiB, gpu=gpu.name),
            "iogpu_wired_limit_mb",
        )
    return macos_wired_limit(ram, req.macos_version, override)


def device_capacity(req: EstimateRequest, gpu: GpuEntry) -> int:
    """Bytes one device gives a workload: the wired-memory limit on a Mac, the driver-reported total elsewhere."""
    limit = wired_limit(req, gpu)
    return limit.limit_bytes if limit else gpu.memory_bytes


def apple_limit_message(limit: WiredLimit) -> Message:
    """'GPU may wire X of Y GB (macOS limit)' for the fit line and the result (GB = 10^9 bytes)."""
    sizes = {"limit_gb": limit.limit_bytes / 1e9, "ram_gb": limit.ram_bytes / 1e9,
             "limit_gib": limit.limit_bytes / GiB, "ram_gib": limit.ram_bytes / GiB}  # fmt: skip
    if limit.set_by == "iogpu.wired_limit_mb":
        return msg("platform.apple_limit_sysctl", **sizes, mb=limit.limit_bytes // MiB)
    return msg("platform.apple_limit", **sizes, macos=limit.macos_version)


def apple_notes(req: EstimateRequest) -> list[Message]:
    """What else holds on a Mac for this request: PyTorch MPS (transformers, training) lets allocations pass the
    limit up to its high watermark, so a run over the limit pages rather than failing at once."""
    return [msg("platform.apple_mps", ratio=MPS_HIGH_WATERMARK_RATIO)] if runs_transformers(req) else []


# PyTorch docs, MPS environment variables: "PYTORCH_MPS_HIGH_WATERMARK_RATIO: High watermark ratio for MPS
# allocator. By default, it is set to 1.7." (aten/src/ATen/mps/MPSAllocator.mm: limit = ratio ×
# max_device_size(), the recommendedMaxWorkingSetSize).
MPS_HIGH_WATERMARK_RATIO = "1.7"


# ---------------------------------------------------------------------------------------------------------------
# Software by platform

# vLLM's documented GPU floor: "compute capability 7.0 or higher (e.g., V100, T4, RTX20xx, A100, L4, H100, etc.)"
# (docs.vllm.ai v0.3.3 … v0.14.0 installation/gpu); "compute capability 7.5 or higher (e.g., T4, RTX20xx, A100,
# L4, H100, B200 ...)" from v0.31.0. Versions between are taken as 7.0 (not documented either way here).
VLLM_CC_75_FROM = (0, 31)
# QuantizationConfig.get_min_capability in vLLM model_executor/layers/quantization/ (0.10.1): fp8.py 80 (Marlin
# runs FP8 weight-only below 8.9: 'For GPUs that lack FP8 hardware support, we can leverage the Marlin kernel'),
# mxfp4.py 80, bitsandbytes.py 70, gptq.py 60.
VLLM_QUANT_MIN_CC: dict[str, tuple[str, tuple[int, int]]] = {
    "fp8": ("FP8", (8, 0)),
    "mxfp4": ("MXFP4", (8, 0)),
    "nf4": ("bitsandbytes", (7, 0)),
    "nf4-nodq": ("bitsandbytes", (7, 0)),
    "int8": ("bitsandbytes", (7, 0)),
    "gptq-int8": ("GPTQ", (6, 0)),
    "int4": ("GPTQ/AWQ", (6, 0)),
}
# transformers quantizers/quantizer_finegrained_fp8.py validate_environment: "FP8 quantized models is only
# supported on GPUs with compute capability >= 8.9 (e.g 4090/H100)"; 'No GPU or XPU found' elsewhere.
TRANSFORMERS_FP8_MIN_CC = (8, 9)
# transformers quantizers/quantizer_mxfp4.py validate_environment: pre-quantized MXFP4 is kept on CUDA with
# compute_capability >= (7, 5) or on XPU, "we will default to dequantizing the model to bf16" otherwise (no
# CUDA/XPU device: MPS, TPU, HPU). ROCm's torch.cuda reports gfx9 as major 9, so MI GPUs pass the check.
TRANSFORMERS_MXFP4_MIN_CC = (7, 5)
# flash-attn README: "FlashAttention-2 with CUDA currently supports: Ampere, Ada, or Hopper GPUs ... Support for
# Turing GPUs (T4, RTX 2080) is coming soon, please use FlashAttention 1.x for Turing"; ROCm: composable_kernel
# backend for MI200/MI300 and the Triton backend for "AMD's CDNA (MI200, MI300) and RDNA GPU's"
# (flash_attn/flash_attn_triton_amd/README.md). No Metal, TPU or Gaudi build.
FLASH_ATTN_MIN_CC = (8, 0)
# bitsandbytes 0.50.2 installation guide: "We provide official support for NVIDIA GPUs, AMD GPUs, Intel XPUs, Apple
# Silicon, and Intel Gaudi"; NVIDIA "Compute Capability 6.0+", LLM.int8() 7.5+ (Turing). Per backend
# (bitsandbytes/backends/*/ops.py kernel registrations): mps registers the 4-bit ops only (no int8 matmul, no
# 8-bit optimizer update); hpu registers dequantize_4bit only (no quantize_4bit, so no QLoRA); no TPU backend.
BNB_INT8_MIN_CC = (7, 5)
# Paged optimizers allocate their states with cudaMallocManaged (get_paged → lib.cget_managed_ptr); the HIP build
# maps it to managed memory; the CPU backend "falls back to non-paged optimizer behavior", MPS has no managed memory.
BNB_RUNS: dict[str, tuple[str, ...]] = {
    "4-bit (NF4/FP4)": ("cuda", "rocm", "metal"),
    "LLM.int8()": ("cuda", "rocm"),
    "8-bit optimizers": ("cuda", "rocm"),
    "paged optimizers": ("cuda", "rocm"),
}
# Each feature's name as a message (translated with the sentence it appears in).
BNB_FEATURE_CODES = {
    "4-bit (NF4/FP4)": "platform.bnb_4bit",
    "LLM.int8()": "platform.bnb_int8",
    "8-bit optimizers": "platform.bnb_8bit_optim",
    "paged optimizers": "platform.bnb_paged_optim",
}
BNB_4BIT_FORMATS = (
    "nf4",
    "nf4-nodq",
    "fp4",
    "fp4-nodq",
)  # fp4: BitsAndBytesConfig(bnb_4bit_quant_type="fp4")
BNB_8BIT_OPTIMIZERS = ("adamw-8bit", "paged-adamw-8bit")
BNB_PAGED_OPTIMIZERS = ("paged-adamw-8bit", "paged-adamw-32bit")


def _cc_text(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def _has_fp8(gpu: GpuEntry) -> bool:
    """FP8 tensor math: the catalog lists dense FP8 throughput (Ada/Hopper/Blackwell, MI300+, Gaudi 3)."""
    return gpu.fp8_tflops is not None


def _inference(req: EstimateRequest) -> bool:
    return req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")


def runs_vllm(req: EstimateRequest) -> bool:
    """vLLM serves the request, or generates GRPO rollouts (TRL use_vllm)."""
    serving = _inference(req) and req.runtime == "vllm"
    rollouts = req.mode == "grpo" and req.rl_algorithm == "grpo" and req.generation_backend == "vllm"
    return serving or rollouts


def runs_transformers(req: EstimateRequest) -> bool:
    """PyTorch + transformers hold the model: inference with runtime transformers and every training workload."""
    return not _inference(req) or req.runtime == "transformers"


def _bnb_features(req: EstimateRequest) -> list[str]:
    """The bitsandbytes features a request uses (weights loaded by transformers or vLLM, QLoRA, 8-bit Adam)."""
    features = []
    fmt = req.weights.strip().lower().replace("_", "-")
    hf_loader = runs_transformers(req) or runs_vllm(req)
    finetune = req.mode == "finetune" or (req.mode == "multimodal" and req.task == "finetune")
    qlora = finetune and req.method == "qlora"
    if (hf_loader and fmt in BNB_4BIT_FORMATS) or qlora:
        features.append("4-bit (NF4/FP4)")
    if hf_loader and fmt == "int8":
        features.append("LLM.int8()")
    if not _inference(req) and req.optimizer in BNB_8BIT_OPTIMIZERS:
        features.append("8-bit optimizers")
    if not _inference(req) and req.optimizer in BNB_PAGED_OPTIMIZERS:
        features.append("paged optimizers")
    return features


def _vllm_conflicts(req: EstimateRequest, gpu: GpuEntry, plat: Platform, fmt: str) -> list[Message]:
    if plat == "metal":
        return [msg("platform.vllm_metal")]
    if plat in ("tpu", "gaudi"):
        plugin = "tpu-inference" if plat == "tpu" else "vllm-gaudi"
        return [msg("platform.vllm_plugin", platform=PLATFORM_NAMES[plat], plugin=plugin)]
    out = []
    version = tuple(int(p) for p in req.vllm_version.split(".")[:2] if p.isdigit())
    need = (7, 5) if version >= VLLM_CC_75_FROM else (7, 0)
    if _cc_below(gpu, need):
        out.append(msg("platform.vllm_cc", version=req.vllm_version, need=_cc_text(need)))
    if fmt in VLLM_QUANT_MIN_CC:
        method, floor = VLLM_QUANT_MIN_CC[fmt]
        if _cc_below(gpu, floor):
            out.append(msg("platform.vllm_quant_cc", method=method, need=_cc_text(floor)))
    if fmt == "fp8" and plat == "rocm" and not _has_fp8(gpu):
        # fp8.py: "Disable marlin for rocm" — ROCm needs FP8 hardware (MI300's fnuz format).
        out.append(msg("platform.fp8_hw", runtime="vLLM", need="8.0"))
    return out


def _transformers_conflicts(req: EstimateRequest, gpu: GpuEntry, plat: Platform, fmt: str) -> list[Message]:
    out = []
    if req.attention == "flash":
        if plat in ("metal", "tpu", "gaudi"):
            out.append(msg("platform.flash_attn_platform", platform=PLATFORM_NAMES[plat]))
        elif _cc_below(gpu, FLASH_ATTN_MIN_CC):
            out.append(msg("platform.flash_attn_cc"))
    if fmt == "fp8":
        if plat in ("metal", "tpu", "gaudi"):
            out.append(msg("platform.fp8_platform", platform=PLATFORM_NAMES[plat]))
        elif _cc_below(gpu, TRANSFORMERS_FP8_MIN_CC) or (plat == "rocm" and not _has_fp8(gpu)):
            out.append(msg("platform.fp8_hw", runtime="transformers", need=_cc_text(TRANSFORMERS_FP8_MIN_CC)))
    if fmt == "mxfp4" and not keeps_mxfp4(gpu):
        if plat in ("cuda", "rocm"):
            out.append(msg("platform.mxfp4_dequant_cc"))
        else:
            out.append(msg("platform.mxfp4_dequant", platform=PLATFORM_NAMES[plat]))
    return out


def keeps_mxfp4(gpu: GpuEntry) -> bool:
    """Whether transformers keeps a pre-quantized MXFP4 checkpoint in MXFP4 on ``gpu`` (else it loads bf16)."""
    plat = platform_of(gpu)
    return plat in ("cuda", "rocm") and not _cc_below(gpu, TRANSFORMERS_MXFP4_MIN_CC)


def software_conflicts(req: EstimateRequest, gpu: GpuEntry) -> list[Message]:
    """Why ``gpu`` cannot run ``req`` as set (empty when it can): the runtime, kernels and libraries the request
    uses against the card's platform and compute capability."""
    plat = platform_of(gpu)
    fmt = req.weights.strip().lower().replace("_", "-")
    out: list[Message] = []
    if _inference(req) and req.runtime == "llama.cpp" and plat in ("tpu", "gaudi"):
        out.append(msg("platform.llama_cpp", platform=PLATFORM_NAMES[plat]))
    if runs_vllm(req):
        out += _vllm_conflicts(req, gpu, plat, fmt)
    if runs_transformers(req):
        out += _transformers_conflicts(req, gpu, plat, fmt)
    for feature in _bnb_features(req):
        if plat not in BNB_RUNS[feature]:
            out.append(
                msg("platform.bnb", feature=msg(BNB_FEATURE_CODES[feature]), platform=PLATFORM_NAMES[plat])
            )
        elif feature == "LLM.int8()" and _cc_below(gpu, BNB_INT8_MIN_CC):
            out.append(
                msg(
                    "platform.bnb_cc", feature=msg(BNB_FEATURE_CODES[feature]), need=_cc_text(BNB_INT8_MIN_CC)
                )
            )
    return out


def loaded_weight_format(req: EstimateRequest, fmt: str, gpu: GpuEntry | None) -> tuple[str, Message | None]:
    """The format the weights occupy once loaded on the chosen GPU: transformers dequantizes MXFP4 to bf16 where
    it has no MXFP4 kernels (quantizer_mxfp4.py); every other format loads as stored."""
    if fmt == "mxfp4" and gpu is not None and req.runtime == "transformers" and not keeps_mxfp4(gpu):
        return "bf16", msg("platform.mxfp4_loaded_bf16", gpu=gpu.name)
    return fmt, None


# ---------------------------------------------------------------------------------------------------------------
# Memory outside the allocator off NVIDIA (for device.py)

# Ollama discover/gpu_darwin.go: "metalMinimumMemory = 512 * format.MebiByte", reserved on top of the model on
# every Mac (info.MinimumMemory), the only published allowance for the Metal runtime itself.
METAL_RUNTIME_BYTES = 512 * MiB


@dataclass(frozen=True)
class DeviceAllowance:
    """What a device holds besides the model's tensors. ``cuda_rules``: count what device.py counts today (the CUDA
    context table of data/runtime_overheads.json and the cuBLAS/hipBLAS workspace); otherwise ``outside_bytes``."""

    cuda_rules: bool
    outside_bytes: int = 0
    note: Message | None = None


def device_allowance(gpu: GpuEntry | None) -> DeviceAllowance:
    """What is assumed per platform. NVIDIA: the CUDA context + cuBLAS workspace. AMD ROCm: the same rules — HIP's
    context and rocBLAS/hipBLASLt workspaces play the same part, Ollama reserves the same 457 MiB minimum for CUDA
    and ROCm (discover/gpu.go) and no ROCm measurement was found, so the CUDA table's figure stands in (as
    runtime_overheads.json states). Apple Metal: no CUDA context and no cuBLAS workspace; Ollama's 512 MiB Metal
    reserve is counted instead. TPU and Gaudi: the CUDA table's figure stays as the runtime allowance (as
    runtime_overheads.json states); their own runtimes were not measured."""
    if gpu is not None and gpu.vendor == "apple":
        return DeviceAllowance(
            False, METAL_RUNTIME_BYTES, msg("platform.metal_overhead", mib=METAL_RUNTIME_BYTES // MiB)
        )
    return DeviceAllowance(cuda_rules=True)
