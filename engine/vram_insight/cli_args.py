"""The ``vram`` CLI's workload arguments, named as the frameworks name them (llama.cpp's -ngl/-c/-ub…, vLLM's
--max-num-seqs…, TRL's --per-device-train-batch-size, HF's --optim names)."""

from __future__ import annotations

import argparse


def add_workload_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", "-m", required=True, help="catalog id (see `vram models`) or path to a config.json"
    )
    p.add_argument(
        "--mode", default="inference", choices=["inference", "finetune", "training", "grpo", "multimodal"]
    )
    p.add_argument("--task", choices=["inference", "finetune", "training"], help="multimodal: workload")
    p.add_argument(
        "--batch-size",
        "--per-device-train-batch-size",
        "-b",
        type=int,
        dest="batch_size",
        help="sequences per device per step (GRPO: completions, as TRL's per_device_train_batch_size)",
    )
    p.add_argument(
        "--seq-len",
        "--max-model-len",
        "--ctx-size",
        "-s",
        "-c",
        type=int,
        dest="seq_len",
        help=(
            "tokens per sequence (inference: prompt + generated); vLLM: --max-model-len; llama.cpp: -c/--ctx-size, "
            "all slots together"
        ),
    )
    p.add_argument("--gen-len", type=int, help="inference: generated tokens (default 0)")
    p.add_argument("--grad-accum", type=int)
    p.add_argument(
        "--weights",
        "-w",
        help="fp32, bf16, fp16, fp8, mxfp4, int8, gptq-int8, nf4, int4, q4_k_m, q8_0, iq4_xs, …",
    )
    p.add_argument("--kv-cache-dtype", help="bf16, fp16, fp8, q8_0, q4_0")
    p.add_argument("--attention", choices=["sdpa", "eager", "flash"])
    p.add_argument("--runtime", choices=["transformers", "vllm", "llama.cpp"])
    # vLLM serving (runtime vllm): vLLM's own flag names; unset = vLLM's default for the version and GPU.
    p.add_argument(
        "--gpu-memory-utilization", type=float, help="vLLM: share of the GPU reserved (0.9; 0.92 ≥ 0.20)"
    )
    p.add_argument("--vllm-version", help="vLLM release modelled (default 0.21; 0.6 to 0.34)")
    p.add_argument("--max-num-seqs", type=int, help="vLLM: sequences per step (256; 1024 on ≥ 70 GiB GPUs)")
    p.add_argument("--max-num-batched-tokens", type=int, help="vLLM: tokens per step (vllm serve default)")
    p.add_argument("--enable-chunked-prefill", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--enforce-eager", action="store_true", default=None, help="vLLM: no CUDA graphs")
    p.add_argument("--block-size", type=int, help="vLLM: tokens per KV block (16; 64 from 0.34)")
    p.add_argument("--logits-all-tokens", action="store_true", default=None)
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "amp-bf16", "amp-fp16"])
    p.add_argument("--optimizer", choices=list(OPTIMIZER_CHOICES))
    p.add_argument("--grad-checkpointing", nargs="?", const="full", choices=["none", "selective", "full"])
    p.add_argument("--chunked-ce", action="store_true", default=None)
    p.add_argument("--method", choices=["full", "lora", "qlora", "freeze", "prefix"])
    p.add_argument("--lora-rank", type=int)
    p.add_argument("--lora-alpha", type=int)
    p.add_argument("--lora-targets", help="default | all-linear | q_proj,v_proj,…")
    p.add_argument("--adapter-dtype", choices=["auto", "fp32", "bf16"])
    p.add_argument("--freeze-trainable-layers", type=int)
    p.add_argument("--prefix-tokens", type=int)
    p.add_argument("--rl-algorithm", choices=["grpo", "dpo"])
    p.add_argument("--policy", choices=["full", "lora"])
    p.add_argument("--num-generations", "-k", type=int)
    p.add_argument("--prompt-len", type=int)
    p.add_argument("--completion-len", type=int)
    p.add_argument("--beta", type=float)
    p.add_argument("--generation-backend", choices=["transformers", "vllm"])
    p.add_argument("--vllm-gpu-memory-utilization", type=float)
    p.add_argument("--images", type=int)
    p.add_argument("--image-width", type=int)
    p.add_argument("--image-height", type=int)
    p.add_argument("--video-frames", type=int)
    p.add_argument("--audio-seconds", type=float)
    p.add_argument("--train-vision-tower", action="store_true", default=None)
    p.add_argument("--gpus", type=int)
    p.add_argument("--zero", type=int, choices=[0, 1, 2, 3])
    p.add_argument("--fsdp", choices=["none", "full_shard", "shard_grad_op", "hybrid_shard"])
    p.add_argument("--tp", type=int)
    p.add_argument("--pp", type=int)
    p.add_argument("--sequence-parallel", action="store_true", default=None)
    p.add_argument("--offload", choices=["none", "optimizer", "optimizer+params"])
    add_llama_cpp_args(p)
    # Training stacks and memory knobs (issues 10–11), named as the frameworks name them.
    p.add_argument("--framework", choices=["hf", "torchtune"], help="training stack (default hf)")
    p.add_argument(
        "--optim",
        choices=sorted(HF_OPTIM_NAMES),
        help="the optimizer by its HF TrainingArguments.optim name (adamw_torch_fused, paged_adamw_8bit, …)",
    )
    p.add_argument("--optimizer-in-bwd", action="store_true", default=None, help="torchtune optimizer_in_bwd")
    p.add_argument(
        "--enable-activation-offloading",
        "--activation-offloading",
        action="store_true",
        default=None,
        dest="activation_offloading",
        help="torchtune enable_activation_offloading / TRL activation_offloading",
    )
    p.add_argument(
        "--compile", "--torch-compile", action="store_true", default=None, dest="compile",
        help="torchtune compile / HF torch_compile",
    )  # fmt: skip
    p.add_argument(
        "--custom-sharded-layers",
        action="store_true",
        default=None,
        dest="fsdp_shard_embeddings",
        help="FSDP: embeddings and output as their own units (torchtune custom_sharded_layers)",
    )
    p.add_argument("--transformers-version", help="major.minor of transformers (hf runs; default 5.0)")
    p.add_argument("--num-layers", type=int, help="override num_hidden_layers")
    p.add_argument(
        "--allocator",
        choices=["default", "expandable"],
        help="PyTorch's CUDA caching allocator: default, or expandable (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True)",
    )
    p.add_argument(
        "--cuda-context-mib", type=int, help="CUDA context per process, MiB (default: measured per GPU)"
    )
    p.add_argument("--nccl-mib", type=int, help="NCCL buffers per process in multi-GPU runs, MiB")
    # --- Apple Silicon (issue 11): the GPU's share of unified memory; the sysctl's own name is accepted too ---
    p.add_argument(
        "--macos-version",
        type=int,
        choices=[11, 12, 13, 14, 15, 26, 27],
        help="Mac: macOS major version, sets the GPU's default working set (default 26)",
    )
    p.add_argument(
        "--iogpu-wired-limit-mb",
        "--iogpu.wired_limit_mb",
        type=int,
        dest="iogpu_wired_limit_mb",
        help="Mac: the value of `sysctl iogpu.wired_limit_mb` if you raised it (MiB; 0 = macOS default)",
    )
    p.add_argument("--gpu", help="GPU id for fit/inverse/throughput (see `vram gpus`)")
    p.add_argument("--mfu", type=float)
    p.add_argument("--json", action="store_true", help="print JSON")


# --- llama.cpp / Ollama options (llama.cpp's own names; -b/--batch-size stays our sequences per step: llama.cpp's
# logical batch only caps -ub, so give --ubatch-size directly) ---------------------------------------------------
def _gpu_layers(value: str) -> int | None:
    """-ngl N, or 'all' (every layer, the default)."""
    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a layer count or 'all', got {value!r}") from None


_FLASH = {"on": "flash", "off": "eager", "auto": "sdpa"}


def _flash_attn(value: str) -> str:
    if value not in _FLASH:
        raise argparse.ArgumentTypeError(f"expected on, off or auto, got {value!r}")
    return _FLASH[value]


def add_llama_cpp_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("llama.cpp / Ollama (--runtime llama.cpp)")
    g.add_argument("--gpu-layers", "--n-gpu-layers", "-ngl", type=_gpu_layers, dest="gpu_layers",
                   help="layers on the GPU, counting the output layer (default: all)")  # fmt: skip
    g.add_argument("--ubatch-size", "-ub", type=int, dest="ubatch_size", help="physical batch (default 512)")
    g.add_argument("--parallel", "-np", type=int, help="slots sharing the context (default 1)")
    g.add_argument(
        "--kv-unified", "-kvu", action="store_true", default=None, help="one KV stream for all slots"
    )
    g.add_argument(
        "--no-kv-offload", "-nkvo", action="store_true", default=None, help="keep the KV cache in RAM"
    )
    g.add_argument("--flash-attn", "-fa", type=_flash_attn, dest="attention", help="on | off | auto")
    g.add_argument("--llama-cpp-build", choices=["current", "pre-dec-2025"],
                   help="-ngl rule: current (output layer first, Dec 2025+) or pre-dec-2025")  # fmt: skip
    g.add_argument("--cpu-bandwidth", type=float, dest="cpu_bandwidth_gbps",
                   help="system RAM bandwidth in GB/s for decode speed (default 89.6: dual-channel DDR5-5600)")  # fmt: skip
    g.add_argument("--ollama-gpu-overhead", type=int, help="OLLAMA_GPU_OVERHEAD in bytes (default 0)")


# Training stacks (issues 10–11): the request's optimizer values, and HF TrainingArguments.optim names for them
# (transformers training_args.py OptimizerNames).
OPTIMIZER_CHOICES = (
    "adamw", "adamw-fused", "adamw-8bit", "adamw-8bit-torchao", "paged-adamw-32bit", "paged-adamw-8bit", "sgd",
    "sgd-momentum", "adafactor", "lion",
)  # fmt: skip


HF_OPTIM_NAMES = {
    "adamw_torch": "adamw",
    "adamw_torch_fused": "adamw-fused",
    "adamw_bnb_8bit": "adamw-8bit",
    "adamw_8bit": "adamw-8bit",
    "adamw_torch_8bit": "adamw-8bit-torchao",
    "paged_adamw_32bit": "paged-adamw-32bit",
    "paged_adamw_8bit": "paged-adamw-8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}
