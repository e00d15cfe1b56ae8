"""Inputs and outputs of the engine: one flat request for all five modes, and the result shapes.

The CLI, the site's Web Worker and share links validate the same models, so a bad value is reported the same way
everywhere. Fields a mode does not use are ignored by that mode (a share link keeps them, switching tabs keeps
the user's choices).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .limits import MAX_LAYERS, check_config
from .messages import InputError, Message

Mode = Literal["inference", "finetune", "training", "grpo", "multimodal"]
Precision = Literal["fp32", "bf16", "fp16", "amp-bf16", "amp-fp16"]
Optimizer = Literal[
    "adamw", "adamw-fused", "adamw-8bit", "adamw-8bit-torchao", "paged-adamw-32bit", "paged-adamw-8bit", "sgd",
    "sgd-momentum", "adafactor",
    "lion",
]  # fmt: skip
Attention = Literal["sdpa", "eager", "flash"]
Checkpointing = Literal["none", "selective", "full"]
Method = Literal["full", "lora", "qlora", "freeze", "prefix"]
Runtime = Literal["transformers", "vllm", "llama.cpp"]
GenerationBackend = Literal["transformers", "vllm"]
Offload = Literal["none", "optimizer", "optimizer+params"]
Task = Literal["inference", "finetune", "training"]

# Upper bounds keep "absurd" inputs from turning into meaningless numbers (and from slow loops); each is several
# times what real deployments use. Config.json bounds are in limits.py.
MAX_BATCH = 1 << 16  # vLLM's default max_num_seqs is 256 (vllm/config/scheduler.py)
MAX_TOKENS = 1 << 24  # 16M tokens per sequence; the longest context released is Llama 4 Scout's 10M
MAX_GPUS = 1 << 16  # the largest published training runs use 16,384 (Llama 3) to ~100k GPUs
MAX_NAME = 200  # catalog ids are under 40 characters
# MFU of well-tuned training is 35–55% (PaLM 46.2%, arXiv:2204.02311 Table 3; Llama 3 38–43%, arXiv:2407.21783
# §3.3.4); below 1% the throughput figure means nothing. Memory fractions below 1% leave vLLM no room at all.
MIN_FRACTION = 0.01
# The other bounds below are as generous: grad_accum 4,096; lora_rank 4,096 (PEFT ranks are 8–256); prefix_tokens
# 4,096 (PEFT's examples use 20–30); num_generations 1,024 (TRL's default is 8, DeepSeekMath's GRPO sampled 64,
# arXiv:2402.03300 §4.2); images 4,096; image sides 65,536 px; video_frames 100,000 (~1 h at 30 fps);
# audio_seconds 86,400 (a day); tp and pp 1,024.


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EstimateRequest(_Model):
    """Everything a user can set. Defaults are what a demanding user would pick first."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Mode = "inference"
    model: str | None = Field(default="llama-3.1-8b", max_length=MAX_NAME, description="Catalog model id.")
    config: dict[str, Any] | None = Field(
        default=None, description="A Hugging Face config.json (custom model); overrides `model`."
    )
    num_layers: int | None = Field(
        default=None, ge=1, le=MAX_LAYERS, description="Override num_hidden_layers."
    )

    # Shape of the work.
    batch_size: int = Field(
        default=1,
        ge=1,
        le=MAX_BATCH,
        description=(
            "Sequences per device per step. GRPO: completions, as TRL's per_device_train_batch_size counts them; "
            "DPO: chosen/rejected pairs."
        ),
    )
    seq_len: int = Field(
        default=4096, ge=1, le=MAX_TOKENS, description="Tokens per sequence (inference: prompt + generated)."
    )
    gen_len: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Inference: tokens generated.")
    grad_accum: int = Field(default=1, ge=1, le=4096, description="Gradient accumulation steps.")

    # Weights and caches.
    weights: str = Field(
        default="bf16", max_length=64, description="Weight format: bf16, fp8, int8, nf4, int4, q4_k_m, ..."
    )
    kv_cache_dtype: str = Field(default="bf16", max_length=64, description="bf16, fp16, fp8, q8_0, q4_0")
    attention: Attention = "sdpa"
    platform: Literal["cuda", "cpu"] = Field(
        default="cuda",
        description="Where the kernels run: cuda (NVIDIA GPU) or cpu (PyTorch's CPU kernels, as in validation/).",
    )
    runtime: Runtime = "transformers"
    logits_all_tokens: bool = Field(
        default=False, description="Inference: keep logits for every prompt token."
    )

    # vLLM serving (runtime = vllm): vLLM's engine arguments, named as vLLM names them. None = vLLM's default for
    # the version, the GPU and `vllm serve` (runtimes/vllm_config.py); seq_len is vLLM's max_model_len.
    vllm_version: str = Field(
        default="0.21",
        max_length=16,
        description="vLLM release whose memory accounting and defaults apply (0.6 to 0.34; V0 engine before 0.8).",
    )
    gpu_memory_utilization: float | None = Field(
        default=None,
        ge=MIN_FRACTION,
        le=1.0,
        description="vLLM: share of the GPU it reserves (None: 0.9, 0.92 from 0.20).",
    )
    max_num_seqs: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BATCH,
        description="vLLM: sequences per step (None: 256, 1024 on ≥ 70 GiB GPUs).",
    )
    max_num_batched_tokens: int | None = Field(
        default=None, ge=1, le=MAX_TOKENS, description="vLLM: tokens per step (None: vllm serve's default)."
    )
    enable_chunked_prefill: bool | None = Field(
        default=None, description="vLLM: chunked prefill (None: on in V1; V0 only above 32K context)."
    )
    enforce_eager: bool = Field(default=False, description="vLLM: no CUDA graphs.")
    block_size: int | None = Field(
        default=None, ge=1, le=1024, description="vLLM: tokens per KV block (None: 16; 64 from 0.34)."
    )

    # --- llama.cpp / Ollama / LM Studio (runtime "llama.cpp"): llama.cpp's own option names ---------------------
    # seq_len is -c/--ctx-size (all slots together); batch_size stays 1 (slots are `parallel`).
    gpu_layers: int | None = Field(
        default=None,
        ge=0,
        le=1025,
        description="llama.cpp -ngl/--gpu-layers: layers on the GPU, counting the output layer (None = all).",
    )
    # llama.cpp's defaults: n_ubatch 512 (common/common.h); at most 256 sequences (src/llama-cparams.h LLAMA_MAX_SEQ).
    ubatch_size: int = Field(default=512, ge=1, le=1 << 16, description="llama.cpp -ub/--ubatch-size.")
    parallel: int = Field(
        default=1, ge=1, le=256, description="llama.cpp -np/--parallel: slots sharing the context (seq_len)."
    )
    kv_unified: bool = Field(
        default=False, description="llama.cpp -kvu/--kv-unified: one KV stream for all slots."
    )
    no_kv_offload: bool = Field(
        default=False, description="llama.cpp -nkvo/--no-kv-offload: KV cache in RAM."
    )
    llama_cpp_build: Literal["current", "pre-dec-2025"] = Field(
        default="current",
        description=(
            "Which -ngl rule: 'current' (builds since PR #18148, Dec 2025: output layer first) or 'pre-dec-2025' "
            "(last repeating layers first; the output layer only when -ngl > the layer count)."
        ),
    )
    # Dual-channel DDR5-5600: 2 channels × 8 B × 5600 MT/s = 89.6 GB/s (JEDEC JESD79-5 data rate on a 64-bit
    # channel; Intel ARK lists "Max Memory Bandwidth 89.6 GB/s" for its dual-channel DDR5-5600 desktop CPUs).
    cpu_bandwidth_gbps: float = Field(
        default=89.6,
        gt=0.0,
        le=10_000.0,
        description="System RAM bandwidth, GB/s, for decode speed with CPU layers (default: dual-channel DDR5-5600).",
    )
    ollama_gpu_overhead: int = Field(
        default=0, ge=0, le=1 << 50, description="OLLAMA_GPU_OVERHEAD: bytes Ollama keeps free on each GPU."
    )
    # --- end llama.cpp / Ollama -----------------------------------------------------------------------------------

    # Training knobs.
    precision: Precision = "amp-bf16"
    optimizer: Optimizer = "adamw"
    grad_checkpointing: Checkpointing = "none"
    chunked_ce: bool = Field(default=False, description="Chunked / fused linear cross-entropy (Liger).")
    method: Method = "lora"
    lora_rank: int = Field(default=16, ge=1, le=4096)
    lora_alpha: int = Field(default=32, ge=1, le=1 << 16)
    lora_targets: str = Field(
        default="default",
        max_length=1024,
        description="'default' (PEFT's per model type), 'all-linear', or names.",
    )
    adapter_dtype: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="LoRA adapter dtype. auto: what the framework does (peft fp32; TRL sharded QLoRA and torchtune: "
        "the model dtype).",
    )
    freeze_trainable_layers: int = Field(
        default=2, ge=0, le=MAX_LAYERS, description="Freeze: last N layers trainable."
    )
    prefix_tokens: int = Field(default=20, ge=1, le=4096, description="Prefix tuning: num_virtual_tokens.")

    # Training stacks and memory knobs (issues 10–11): what the framework allocates beyond the formulas.
    framework: Literal["hf", "torchtune"] = Field(
        default="hf",
        description=(
            "Training stack. hf: transformers Trainer/TRL + peft (+ bitsandbytes for QLoRA: "
            "prepare_model_for_kbit_training upcasts, fp32 adapters, autocast). torchtune: pure bf16 modules, "
            "bf16 adapters, torchao NF4 for QLoRA, CEWithChunkedOutputLoss for chunked_ce."
        ),
    )
    optimizer_in_bwd: bool = Field(
        default=False,
        description="torchtune optimizer_in_bwd: each parameter steps as soon as its gradient is ready (grads freed).",
    )
    activation_offloading: bool = Field(
        default=False,
        description="torchtune enable_activation_offloading / TRL activation_offloading: saved activations to CPU.",
    )
    compile: bool = Field(
        default=False,
        description="torch.compile of the decoder layers and the loss (torchtune compile, HF torch_compile).",
    )
    transformers_version: str = Field(
        default="5.0",
        pattern=r"^[0-9]{1,2}\.[0-9]{1,3}$",
        description="transformers major.minor of an hf run: before 4.50 ForCausalLMLoss shifted the fp32 logits "
        "with .contiguous() (one more [tokens × vocab] fp32 copy).",
    )
    fsdp_shard_embeddings: bool = Field(
        default=False,
        description="FSDP: embeddings and lm_head wrapped as their own units (torchtune custom_sharded_layers: "
        "['tok_embeddings', 'output']) instead of staying gathered in the root unit.",
    )

    # GRPO / DPO.
    rl_algorithm: Literal["grpo", "dpo"] = "grpo"
    policy: Literal["full", "lora"] = "lora"
    num_generations: int = Field(default=8, ge=1, le=1024)
    prompt_len: int = Field(default=512, ge=1, le=MAX_TOKENS)
    completion_len: int = Field(default=256, ge=1, le=MAX_TOKENS)
    beta: float = Field(
        default=0.0, ge=0.0, le=100.0, description="KL coefficient; 0 loads no reference model."
    )
    generation_backend: GenerationBackend = "transformers"
    vllm_gpu_memory_utilization: float = Field(
        default=0.3, ge=MIN_FRACTION, le=1.0, description="TRL colocate vLLM."
    )

    # Multimodal.
    task: Task = Field(default="inference", description="Multimodal mode: which workload runs on the model.")
    images: int = Field(default=1, ge=0, le=4096, description="Images per sequence.")
    image_width: int = Field(default=1024, ge=1, le=65536)
    image_height: int = Field(default=1024, ge=1, le=65536)
    video_frames: int = Field(default=0, ge=0, le=100_000)
    audio_seconds: float = Field(default=0.0, ge=0.0, le=86_400.0)
    train_vision_tower: bool = Field(default=False, description="Unfreeze the vision/audio tower.")

    # Parallelism and placement.
    gpus: int = Field(default=1, ge=1, le=MAX_GPUS)
    zero: Literal[0, 1, 2, 3] = 0
    fsdp: Literal["none", "full_shard", "shard_grad_op", "hybrid_shard"] = "none"
    tp: int = Field(default=1, ge=1, le=1024)
    pp: int = Field(default=1, ge=1, le=1024)
    sequence_parallel: bool = False
    offload: Offload = "none"

    # Device-level memory (outside the tensors).
    allocator: Literal["default", "expandable"] = Field(
        default="default",
        description="PyTorch's CUDA caching allocator: default, or PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True.",
    )
    cuda_context_mib: int | None = Field(
        default=None, ge=0, le=16384, description="Override the CUDA context size per process (MiB)."
    )
    nccl_mib: int | None = Field(
        default=None, ge=0, le=65536, description="Override NCCL buffers per process in multi-GPU runs (MiB)."
    )

    # --- Apple Silicon (issue 11): how much unified memory the GPU may wire (platforms.py) ---
    macos_version: Literal[11, 12, 13, 14, 15, 26, 27] = Field(
        default=26,
        description=(
            "Mac: macOS major version; it sets the GPU's default working set (≤ 15: 2/3 of the RAM up to 32 GiB, "
            "3/4 above; 26 and later: more, by RAM size). Default 26, the release after 15 (September 2025)."
        ),
    )
    iogpu_wired_limit_mb: int | None = Field(
        default=None,
        ge=0,
        le=1 << 20,
        description="Mac: the sysctl iogpu.wired_limit_mb in MiB, if you set it (None or 0: macOS's default).",
    )

    # Planning.
    gpu: str | None = Field(
        default="rtx-4090", max_length=MAX_NAME, description="GPU id for fit, inverse and throughput."
    )
    mfu: float = Field(
        default=0.4, ge=MIN_FRACTION, le=1.0, description="Model FLOPs utilisation for training speed."
    )

    @field_validator("config")
    @classmethod
    def _check_config(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        # Bounds and types of every config value the engine reads (limits.py), before any work on the model.
        if config is not None:
            check_config(config)
        return config

    @model_validator(mode="after")
    def _check_consistency(self) -> EstimateRequest:
        # The InputError's field names the input at fault, so the site can show the message next to it.
        if self.model is None and self.config is None:
            raise InputError.of("error.request.no_model", "model")
        if self.mode == "inference" and self.gen_len >= self.seq_len:
            raise InputError.of("error.request.gen_len_vs_seq_len", "gen_len", gen_len=self.gen_len,
                                seq_len=self.seq_len)  # fmt: skip
        tp_pp = self.tp * self.pp
        if tp_pp > self.gpus:
            raise InputError.of("error.request.tp_pp_vs_gpus", "tp", tp_pp=tp_pp, gpus=self.gpus)
        if self.gpus % tp_pp:
            raise InputError.of("error.request.gpus_not_multiple", "gpus", tp_pp=tp_pp, gpus=self.gpus)
        if self.zero and self.fsdp != "none":
            raise InputError.of("error.request.zero_and_fsdp", "fsdp")
        if self.offload != "none" and not self.zero and self.fsdp == "none":
            raise InputError.of("error.request.offload_needs_sharding", "offload")
        if self.offload == "optimizer" and self.fsdp != "none":
            raise InputError.of("error.request.fsdp_offload_all", "offload")
        if self.offload == "optimizer+params" and self.zero and self.zero != 3:
            raise InputError.of("error.request.param_offload_zero3", "offload")
        if self.offload == "optimizer+params" and self.fsdp == "shard_grad_op":
            raise InputError.of("error.request.param_offload_full_shard", "offload")
        # Training stacks and memory knobs (issues 10–11).
        if self.optimizer_in_bwd and self.grad_accum > 1:
            # torchtune recipes: "Gradient accumulation is not supported with optimizer in bwd".
            raise InputError.of("error.request.optimizer_in_bwd_accum", "optimizer_in_bwd")
        if self.framework == "torchtune" and self.precision in ("fp16", "amp-fp16"):
            raise InputError.of("error.request.torchtune_fp16", "precision")
        if self.framework == "torchtune" and self.zero:
            raise InputError.of("error.request.torchtune_zero", "zero")
        if self.zero >= 2 and self.pp > 1 and self.mode != "inference":
            # DeepSpeed runtime/pipe/engine.py PipelineEngine.__init__ asserts ZeRO stage < 2.
            raise InputError.of("error.request.zero_pp", "zero", zero=self.zero, pp=self.pp)
        if self.mode == "grpo" and self.rl_algorithm == "grpo" and self.num_generations < 2:
            raise InputError.of("error.request.grpo_generations", "num_generations")
        return self


class Params(_Model):
    total: int = Field(description="Parameters held in memory (tied weights once).")
    active: int = Field(description="Parameters used per token (MoE: routed top-k + shared).")
    trainable: int = Field(description="Parameters that get gradients in this workload.")
    breakdown: dict[str, int] = Field(default_factory=dict, description="Per component.")


class ModelInfo(_Model):
    id: str | None
    name: str
    model_type: str
    source: Literal["catalog", "custom"]
    num_layers: int
    context_length: int | None = None


class EstimateResult(_Model):
    """Memory per device. ``peak_allocated_bytes`` is what ``torch.cuda.max_memory_allocated`` would report;
    ``total_bytes`` adds the runtime overhead (CUDA context, allocator, engine reservations)."""

    mode: Mode
    model: ModelInfo
    total_bytes: int
    peak_allocated_bytes: int
    components: dict[str, int] = Field(description="Name → bytes per device; sums to total_bytes.")
    params: Params
    num_devices: int
    assumptions: list[Message] = Field(
        description="What the estimate assumes (message codes with parameters)."
    )
    warnings: list[Message] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


# --- Platforms (issue 11): a Mac's wired-memory limit, software a card cannot run, cards left out ---
class WiredLimitInfo(_Model):
    """How much of a Mac's unified memory its GPU may wire (Metal's recommendedMaxWorkingSetSize)."""

    limit_bytes: int
    ram_bytes: int
    macos_version: int
    set_by: Literal["macos", "iogpu.wired_limit_mb"]
    estimated: bool = Field(
        description="No log of this RAM size under this macOS: the macOS 15 rule stands in."
    )
    rule: Message
    summary: Message = Field(description="'GPU may wire X of Y GB (macOS limit)'.")
    notes: list[Message] = Field(default_factory=list, description="What else holds on a Mac (PyTorch MPS).")


class LeftOut(_Model):
    """Cards the recommendations leave out for one reason (the software the request uses does not run there)."""

    gpus: list[str]
    gpu_names: list[str]
    reason: Message


class Fit(_Model):
    gpu: str
    gpu_name: str
    capacity_bytes: int
    required_bytes: int
    fits: bool
    headroom_bytes: int
    utilization: float
    wired_limit: WiredLimitInfo | None = Field(default=None, description="Macs: the GPU's share of the RAM.")
    software: list[Message] = Field(
        default_factory=list, description="What the request uses that this card's platform cannot run."
    )


class Recommendation(_Model):
    gpu: str
    gpu_name: str
    count: int
    strategy: Message = Field(description="How the workload is spread: single GPU, tensor parallel × n, …")
    per_device_bytes: int
    capacity_bytes: int
    headroom_fraction: float
    launch_price_usd: float | None
    cloud_usd_per_hour: float | None
    reason: Message | None = Field(
        default=None, description="Why it is listed: cheapest to buy, cheapest to rent, …"
    )


class Inverse(_Model):
    gpu: str
    count: int
    max_batch_size: int | None
    max_seq_len: int | None
    max_concurrent_sequences: int | None
    max_gpu_layers: int | None = Field(
        default=None, description="llama.cpp: the largest -ngl whose allocation fits the card."
    )
    notes: list[Message] = Field(default_factory=list)


class Throughput(_Model):
    gpu: str
    decode_tokens_per_s: float | None = None
    prefill_seconds: float | None = None
    train_tokens_per_s: float | None = None
    step_seconds: float | None = None
    notes: list[Message] = Field(default_factory=list)


class Report(_Model):
    estimate: EstimateResult
    fit: Fit | None
    recommendations: list[Recommendation]
    inverse: Inverse | None
    throughput: Throughput | None
    left_out: list[LeftOut] = Field(
        default_factory=list,
        description="Cards not recommended because the request's software does not run there.",
    )
