"""Inputs and outputs of the engine: one flat request for all five modes, and the result shapes.

The CLI, the site's Web Worker and share links validate the same models, so a bad value is reported the same way
everywhere. Fields a mode does not use are ignored by that mode (a share link keeps them, switching tabs keeps
the user's choices).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .limits import MAX_LAYERS, check_config
from .messages import InputError

Mode = Literal["inference", "finetune", "training", "grpo", "multimodal"]
Precision = Literal["fp32", "bf16", "fp16", "amp-bf16", "amp-fp16"]
Optimizer = Literal["adamw", "adamw-8bit", "sgd", "sgd-momentum", "adafactor", "lion"]
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
    batch_size: int = Field(default=1, ge=1, le=MAX_BATCH, description="Sequences per device per step.")
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
    runtime: Runtime = "transformers"
    gpu_memory_utilization: float = Field(
        default=0.9, ge=MIN_FRACTION, le=1.0, description="vLLM memory fraction."
    )
    logits_all_tokens: bool = Field(
        default=False, description="Inference: keep logits for every prompt token."
    )

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
    adapter_dtype: Literal["fp32", "bf16"] = "fp32"
    freeze_trainable_layers: int = Field(
        default=2, ge=0, le=MAX_LAYERS, description="Freeze: last N layers trainable."
    )
    prefix_tokens: int = Field(default=20, ge=1, le=4096, description="Prefix tuning: num_virtual_tokens.")

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
    assumptions: list[str]
    warnings: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class Fit(_Model):
    gpu: str
    gpu_name: str
    capacity_bytes: int
    required_bytes: int
    fits: bool
    headroom_bytes: int
    utilization: float


class Recommendation(_Model):
    gpu: str
    gpu_name: str
    count: int
    strategy: str
    per_device_bytes: int
    capacity_bytes: int
    headroom_fraction: float
    launch_price_usd: float | None
    cloud_usd_per_hour: float | None
    reason: str = Field(default="", description="Why it is listed: cheapest to buy, cheapest to rent, …")


class Inverse(_Model):
    gpu: str
    count: int
    max_batch_size: int | None
    max_seq_len: int | None
    max_concurrent_sequences: int | None
    notes: list[str] = Field(default_factory=list)


class Throughput(_Model):
    gpu: str
    decode_tokens_per_s: float | None = None
    prefill_seconds: float | None = None
    train_tokens_per_s: float | None = None
    step_seconds: float | None = None
    notes: list[str] = Field(default_factory=list)


class Report(_Model):
    estimate: EstimateResult
    fit: Fit | None
    recommendations: list[Recommendation]
    inverse: Inverse | None
    throughput: Throughput | None
