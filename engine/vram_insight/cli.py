"""``vram`` command line: the same engine as the site, printing tables or JSON.

Every bad input — argparse's own errors included — prints exactly one line, ``vram: error: …``, on stderr and
exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, NoReturn

GB = 10**9
GiB = 2**30
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KB; the site takes at most 1 MiB too


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exit status 2; sub-commands inherit it."""

    def error(self, message: str) -> NoReturn:
        from .messages import one_line

        print(f"vram: error: {one_line(message, 300)}", file=sys.stderr)
        raise SystemExit(2)


def _fmt_bytes(n: int) -> str:
    return f"{n / GB:,.2f} GB ({n / GiB:,.2f} GiB)"


def _shown_path(value: str) -> str:
    from .messages import one_line

    return one_line(value, 80)


def _read_regular_file(value: str) -> str | None:
    """The text of ``value`` if it names a regular file under the size limit; None if nothing is there.

    FIFOs, devices and directories are refused before opening (reading a FIFO would block forever), and the
    opened file is checked again (non-blocking open, fstat) in case it was swapped in between.
    """
    try:
        st = os.stat(value)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):  # name too long, embedded NUL, permission: not something we can read
        if value.endswith(".json"):
            raise CliError(f"{_shown_path(value)}: cannot read this file") from None
        return None
    if not stat.S_ISREG(st.st_mode):
        raise CliError(f"{_shown_path(value)}: not a regular file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise CliError(
            f"{_shown_path(value)}: larger than {MAX_CONFIG_BYTES:,} bytes; a config.json is a few KB"
        )
    try:
        fd = os.open(value, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CliError(f"{_shown_path(value)}: not a regular file")
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise CliError(f"{_shown_path(value)}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise CliError(f"{_shown_path(value)}: larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{_shown_path(value)}: not UTF-8 text") from None


def _load_model_arg(value: str) -> dict[str, Any]:
    """A catalog id, or a path to a config.json (read only when it is a regular file under the size limit)."""
    from .messages import InputError
    from .web_api import parse_request

    text = _read_regular_file(value)
    if text is None:
        if value.endswith(".json"):
            raise CliError(f"{_shown_path(value)}: no such file")
        return {"model": value}
    try:
        data = parse_request(
            text
        )  # the web API's strict JSON rules: no NaN, no 5,000-digit ints, bounded depth
    except InputError as exc:
        if exc.message.code == "error.json.invalid":
            p = exc.message.params
            raise CliError(
                f"{_shown_path(value)}: not valid JSON (line {p['line']}, column {p['column']})"
            ) from None
        if exc.message.code == "error.json.not_object":
            raise CliError(f"{_shown_path(value)}: config.json must be a JSON object") from None
        raise CliError(f"{_shown_path(value)}: {exc}") from None
    if not data.get("_name_or_path"):
        # Name a custom model after its file: the folder of a config.json, else the file's own name.
        path = Path(value)
        data = {
            **data,
            "_name_or_path": path.parent.name
            if path.name == "config.json" and path.parent.name
            else path.stem,
        }
    return {"config": data, "model": None}


def _add_workload_args(p: argparse.ArgumentParser) -> None:
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
    _add_llama_cpp_args(p)
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


def _add_llama_cpp_args(p: argparse.ArgumentParser) -> None:
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


def _mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def _print_llama_cpp(info: dict[str, Any]) -> None:
    """The allocation as llama.cpp's load log shows it (buffer sizes in MiB), plus RAM and Ollama's view."""
    rule = (
        "output layer first" if info["build"] == "current" else "repeating layers first, pre-Dec-2025 build"
    )
    slots = f"{info['n_seq_max']} slot{'s' if info['n_seq_max'] > 1 else ''}"
    print(f"  llama.cpp: offloaded {info['offloaded']} layers to GPU ({rule}); n_ctx {info['n_ctx']:,} "
          f"({slots}, {info['n_ctx_seq']:,} per slot), n_ubatch {info['n_ubatch']}, "
          f"flash_attn {'on' if info['flash_attn'] else 'off'}")  # fmt: skip
    for name, d in info["devices"].items():
        layers = f"layers {d['layers']}" if d["layers"] else "no repeating layer"
        out = " + output" if d["output_layer"] else ""
        print(f"    {name:<6} {layers}{out}: model {_mib(d['weights_bytes'])}, KV {_mib(d['kv_bytes'])}, "
              f"compute {_mib(d['compute_bytes'])} ({d['compute_phase'] or '-'}), outside buffers "
              f"{_mib(d['overhead_bytes'])} = {_mib(d['total_bytes'])}")  # fmt: skip
    h = info["host"]
    print(f"    host   CPU weights {_mib(h['weights_bytes'])} (CPU_Mapped span {_mib(h['cpu_mapped_bytes'])}), "
          f"KV {_mib(h['kv_bytes'])}, compute {_mib(h['compute_bytes'])}, output {_mib(h['output_bytes'])}")  # fmt: skip
    print(f"    system RAM needed: {_fmt_bytes(info['ram_bytes'])}; ollama ps: {info['ollama']['processor']}")


_SKIP = {"json", "command", "func", "model", "optim"}

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


def _request(args: argparse.Namespace) -> Any:
    from .schemas import EstimateRequest

    data: dict[str, Any] = _load_model_arg(args.model)
    for key, value in vars(args).items():
        if key in _SKIP or value is None:
            continue
        data[key] = value
    if getattr(args, "optim", None):
        if args.optimizer and args.optimizer != HF_OPTIM_NAMES[args.optim]:
            raise CliError(f"--optim {args.optim} and --optimizer {args.optimizer} disagree: give one")
        data["optimizer"] = HF_OPTIM_NAMES[args.optim]
    if data.get("mode") == "grpo" and "method" in data:
        # GRPO's adapter choice is --policy; --method (the fine-tuning flag) is accepted as its other spelling.
        method = data.pop("method")
        if method not in ("full", "lora"):
            raise CliError(
                f"--mode grpo trains a full or LoRA policy: use --policy full|lora, not --method {method}"
            )
        if data.get("policy", method) != method:
            raise CliError(f"--method {method} and --policy {data['policy']} disagree: give one")
        data["policy"] = method
    data.setdefault("gpu", None)
    return EstimateRequest.model_validate(data)


def _print_estimate(res: Any) -> None:
    print(
        f"{res.model.name} — {res.mode}, per device ({res.num_devices} device{'s' if res.num_devices > 1 else ''})"
    )
    print(f"  card must hold: {_fmt_bytes(res.total_bytes)}")
    print(f"  tensor peak (max_memory_allocated): {_fmt_bytes(res.peak_allocated_bytes)}")
    alloc = res.details.get("allocator")
    if alloc:
        # One line on why the two differ: the allocator's reserve and the memory outside it.
        extra = res.total_bytes - res.peak_allocated_bytes
        print(f"    why more: +{_fmt_bytes(alloc['reserve_bytes'])} the caching allocator cannot reuse at the peak "
              f"({alloc['kind']}), +{_fmt_bytes(alloc['outside_allocator_bytes'])} outside PyTorch's allocator "
              f"(CUDA context, NCCL) = +{_fmt_bytes(extra)}")  # fmt: skip
        if alloc.get("cached_loss_bytes"):
            print(f"    nvidia-smi may show up to {_fmt_bytes(res.total_bytes + alloc['cached_loss_bytes'])} "
                  "(cached loss buffers the allocator keeps without memory pressure)")  # fmt: skip
        if alloc["mode"] == "default":
            expandable = alloc["expandable_limit_bytes"] + alloc["outside_allocator_bytes"]
            print(f"    with {alloc['setting']}: {_fmt_bytes(expandable)}")
    print(f"  peak phase: {res.details.get('peak_phase')}")
    for name, value in res.components.items():
        if value:
            print(f"    {name:<12} {_fmt_bytes(value):>32}")
    if res.details.get("vllm"):
        _print_vllm(res.details["vllm"])
    p = res.params
    print(f"  parameters: total {p.total:,} · active {p.active:,} · trainable {p.trainable:,}")
    print("  assumptions:")
    for line in res.assumptions:
        print(f"    - {line.text}")
    for line in res.warnings:
        print(f"  warning: {line.text}")
    if "llama_cpp" in res.details:
        _print_llama_cpp(res.details["llama_cpp"])


def _gib(n: float) -> str:
    return f"{n / GiB:.2f}"


def _print_vllm(v: dict[str, Any]) -> None:
    """vLLM's startup numbers per GPU, worded as its log lines (GiB = 2^30 bytes, two decimals as vLLM prints)."""
    rules = "" if v["rules"] == v["version"] else f", modelled with {v['rules']}'s rules"
    print(f"  vLLM {v['version']} ({v['engine']} engine{rules}) at startup, per GPU, as vLLM logs it:")
    if "requested_memory_bytes" in v:
        print(f"    total_gpu_memory ({_gib(v['total_gpu_memory_bytes'])}GiB) x gpu_memory_utilization "
              f"({v['gpu_memory_utilization']:.2f}) = {_gib(v['requested_memory_bytes'])}GiB")  # fmt: skip
    graphs = "" if v["enforce_eager"] else (
        f"; CUDA graph memory (estimated, {'in' if v['cuda_graphs_in_budget'] else 'outside'} the budget) takes "
        f"{_gib(v['cuda_graph_bytes'])}GiB"
    )  # fmt: skip
    print(f"    model weights take {_gib(v['weights_bytes'])}GiB; non_torch_memory takes {_gib(v['non_torch_bytes'])}GiB; "
          f"PyTorch activation peak memory takes {_gib(v['activation_peak_bytes'])}GiB{graphs}")  # fmt: skip
    print(f"    max_num_seqs {v['max_num_seqs']:,} · max_num_batched_tokens {v['max_num_batched_tokens']:,} · "
          f"chunked prefill {'on' if v['chunked_prefill'] else 'off'} · block_size {v['block_size']} · "
          f"{'enforce_eager' if v['enforce_eager'] else str(v['cuda_graphs']) + ' CUDA graphs'}")  # fmt: skip
    if "requested_memory_bytes" not in v:
        print(f"    no GPU chosen: the requested sequences need {_gib(v['required_bytes'])} GiB of vLLM's budget "
              "(choose a GPU for the KV pool and concurrency)")  # fmt: skip
        return
    print(f"    Available KV cache memory: {_gib(v['kv_cache_bytes'])} GiB")
    print(f"    # GPU blocks: {v['num_gpu_blocks']:,}")
    print(f"    GPU KV cache size: {v['kv_cache_tokens']:,} tokens")
    print(
        f"    Maximum concurrency for {v['max_model_len']:,} tokens per request: {v['max_concurrency']:.2f}x"
    )
    outside = v["reserved_total_bytes"] - v["requested_memory_bytes"]
    print(f"    the card holds {_gib(v['reserved_total_bytes'])} GiB: the {_gib(v['requested_memory_bytes'])} GiB "
          f"vLLM reserves + {_gib(outside)} GiB outside its budget (CUDA context"
          f"{'' if v['cuda_graphs_in_budget'] or v['enforce_eager'] else ', CUDA graphs'})")  # fmt: skip


def cmd_estimate(args: argparse.Namespace) -> int:
    from .estimate import estimate

    res = estimate(_request(args))
    if args.json:
        print(res.model_dump_json(indent=2))
    else:
        _print_estimate(res)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .planning import report

    rep = report(_request(args))
    if args.json:
        print(rep.model_dump_json(indent=2))
        return 0
    _print_estimate(rep.estimate)
    if rep.fit:
        f = rep.fit
        budget = " vLLM's budget," if rep.estimate.details.get("vllm") else ""
        print(
            f"  fit on {f.gpu_name}: {'fits' if f.fits else 'does NOT fit'} ({f.utilization:.0%} of{budget} {_fmt_bytes(f.capacity_bytes)})"
        )
        _print_platform_fit(f)
    _print_recommendations(rep.recommendations)
    _print_left_out(rep.left_out)
    if rep.inverse:
        i = rep.inverse
        print(f"  on {i.count} × {i.gpu}: max batch {i.max_batch_size}, max seq_len {i.max_seq_len}"
              + (f", max -ngl {i.max_gpu_layers}" if i.max_gpu_layers is not None else ""))  # fmt: skip
        for n in i.notes:
            print(f"    - {n.text}")
    if rep.throughput:
        t = rep.throughput
        for k in ("decode_tokens_per_s", "prefill_seconds", "train_tokens_per_s", "step_seconds"):
            if getattr(t, k) is not None:
                print(f"  {k} (estimate): {getattr(t, k):,}")
    return 0


def _print_recommendations(recs: list[Any]) -> None:
    print("  GPUs that fit:")
    for r in recs:
        price = f"${r.cloud_usd_per_hour:,.2f}/h" if r.cloud_usd_per_hour else ""
        buy = f"${r.launch_price_usd:,.0f}" if r.launch_price_usd else ""
        print(
            f"    {r.count} × {r.gpu_name:<28} {r.strategy.text:<28} headroom {r.headroom_fraction:6.1%} {price:>10} {buy:>9}"
        )


# --- Platforms (issue 11): a Mac's wired-memory limit, software the chosen card cannot run, cards left out ---
def _print_platform_fit(f: Any) -> None:
    if f.wired_limit:
        w = f.wired_limit
        print(f"    {w.summary.text}: {w.rule.text}")
        for note in w.notes:
            print(f"    - {note.text}")
    for conflict in f.software:
        print(f"  warning: {f.gpu_name} cannot run this as set: {conflict.text}")


def _print_left_out(items: list[Any]) -> None:
    from .planning import left_out_lines

    if items:
        print("  left out:")
        for line in left_out_lines(items):
            print(f"    - {line}")


def cmd_recommend(args: argparse.Namespace) -> int:
    from .planning import left_out, recommend

    req = _request(args)
    recs = recommend(req, limit=12)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in recs], indent=2))
    else:
        _print_recommendations(recs)
        _print_left_out(left_out(req))
    return 0


def cmd_inverse(args: argparse.Namespace) -> int:
    from .catalog import load_catalog
    from .planning import inverse

    req = _request(args)
    if not req.gpu:
        raise CliError("--gpu is required for the inverse question")
    gpu = load_catalog().gpu(req.gpu)
    inv = inverse(req, gpu)
    if args.json:
        print(inv.model_dump_json(indent=2))
    else:
        print(f"On {inv.count} × {inv.gpu}: max batch {inv.max_batch_size}, max seq_len {inv.max_seq_len}, "
              f"max concurrent sequences {inv.max_concurrent_sequences}"
              + (f", max -ngl {inv.max_gpu_layers}" if inv.max_gpu_layers is not None else ""))  # fmt: skip
        for n in inv.notes:
            print(f"  - {n.text}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from .estimate import resolve_model
    from .params import count_params
    from .schemas import EstimateRequest

    req = EstimateRequest.model_validate({**_load_model_arg(args.model), "gpu": None})
    model = resolve_model(req)
    pc = count_params(model.arch)
    breakdown = dict(pc.components)
    extra = 0
    if model.multimodal is not None:
        mm = model.multimodal
        breakdown.update({f"tower:{t.name}": t.params for t in mm.towers})
        breakdown["projector"] = mm.projector_params
        breakdown.update({f"other:{k}": v for k, v in mm.other_params.items()})
        extra = mm.non_lm_params
    out = {
        "model": model.info.name,
        "total": pc.total + extra,
        "active": pc.active,
        "breakdown": breakdown,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['model']}: total {out['total']:,} · active {out['active']:,}")
        for k, v in breakdown.items():
            print(f"  {k:<20} {v:>18,}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .web_api import catalog_summary

    models = catalog_summary()["models"]
    if args.json:
        print(json.dumps(models, indent=2))
    else:
        for m in models:
            total = f"{m['params_total'] / 1e9:,.2f}B" if m["params_total"] else "?"
            print(f"{m['id']:<32} {m['kind']:<10} {total:>10}  {m['name']}")
    return 0


def cmd_gpus(args: argparse.Namespace) -> int:
    from .catalog import load_catalog

    gpus = [g.model_dump(mode="json") for g in load_catalog().gpus.values()]
    if args.json:
        print(json.dumps(gpus, indent=2))
    else:
        for g in gpus:
            print(
                f"{g['id']:<24} {g['memory_gb']:>6g} GB {g['bandwidth_gbps']:>7g} GB/s {g['bf16_tflops']:>7g} TFLOPS  {g['name']}"
            )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schemas import EstimateRequest

    print(json.dumps(EstimateRequest.model_json_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vram", description="GPU memory estimates for LLM workloads")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"vram-insight {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("estimate", cmd_estimate, "memory per device for one workload"),
        ("report", cmd_report, "estimate + fit + recommended GPUs + inverse + throughput"),
        ("recommend", cmd_recommend, "GPUs (single and multi-card) that fit, ranked by price"),
        ("inverse", cmd_inverse, "largest batch / context that fits --gpu"),
    ):
        p = sub.add_parser(name, help=help_text)
        _add_workload_args(p)
        p.set_defaults(func=func)
    p = sub.add_parser("params", help="exact parameter counts")
    p.add_argument("--model", "-m", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_params)
    for name, func, help_text in (("models", cmd_models, "the model catalog"), ("gpus", cmd_gpus, "the GPU catalog"),
                                  ("schema", cmd_schema, "JSON Schema of the request")):  # fmt: skip
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    return parser


def _cli_text(err: Any) -> str:
    """An engine error as the CLI says it: request fields by their flag (``--batch-size``), config keys as is."""
    from .messages import TEMPLATES, render

    message = err.message
    field = message.params.get("field")
    if isinstance(field, str) and field == err.field and field.isidentifier():
        return render(TEMPLATES[message.code], {**message.params, "field": "--" + field.replace("_", "-")})
    return message.text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0), or _Parser.error already printed its one line (2)
        return 0 if exc.code in (0, None) else 2
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"vram: error: {exc}", file=sys.stderr)
    except Exception as exc:  # every failure is one line, never a traceback
        from .errors import as_input_error

        print(f"vram: error: {_cli_text(as_input_error(exc))}", file=sys.stderr)
    return 2
