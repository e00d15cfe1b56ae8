"""The ``vram`` CLI's text output: estimates, vLLM's and llama.cpp's startup figures, recommendations and the
platform lines, worded as the frameworks' own logs where they have one. GB = 10^9 bytes, GiB = 2^30."""

from __future__ import annotations

from typing import Any

GB = 10**9
GiB = 2**30


def fmt_bytes(n: int) -> str:
    return f"{n / GB:,.2f} GB ({n / GiB:,.2f} GiB)"


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
    print(f"    system RAM needed: {fmt_bytes(info['ram_bytes'])}; ollama ps: {info['ollama']['processor']}")


def print_estimate(res: Any) -> None:
    print(
        f"{res.model.name} — {res.mode}, per device ({res.num_devices} device{'s' if res.num_devices > 1 else ''})"
    )
    print(f"  card must hold: {fmt_bytes(res.total_bytes)}")
    print(f"  tensor peak (max_memory_allocated): {fmt_bytes(res.peak_allocated_bytes)}")
    alloc = res.details.get("allocator")
    if alloc:
        # One line on why the two differ: the allocator's reserve and the memory outside it.
        extra = res.total_bytes - res.peak_allocated_bytes
        print(f"    why more: +{fmt_bytes(alloc['reserve_bytes'])} the caching allocator cannot reuse at the peak "
              f"({alloc['kind']}), +{fmt_bytes(alloc['outside_allocator_bytes'])} outside PyTorch's allocator "
              f"(CUDA context, NCCL) = +{fmt_bytes(extra)}")  # fmt: skip
        if alloc.get("cached_loss_bytes"):
            print(f"    nvidia-smi may show up to {fmt_bytes(res.total_bytes + alloc['cached_loss_bytes'])} "
                  "(cached loss buffers the allocator keeps without memory pressure)")  # fmt: skip
        if alloc["mode"] == "default":
            expandable = alloc["expandable_limit_bytes"] + alloc["outside_allocator_bytes"]
            print(f"    with {alloc['setting']}: {fmt_bytes(expandable)}")
    print(f"  peak phase: {res.details.get('peak_phase')}")
    for name, value in res.components.items():
        if value:
            print(f"    {name:<12} {fmt_bytes(value):>32}")
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


def print_recommendations(recs: list[Any]) -> None:
    print("  GPUs that fit:")
    for r in recs:
        price = f"${r.cloud_usd_per_hour:,.2f}/h" if r.cloud_usd_per_hour else ""
        buy = f"${r.launch_price_usd:,.0f}" if r.launch_price_usd else ""
        print(
            f"    {r.count} × {r.gpu_name:<28} {r.strategy.text:<28} headroom {r.headroom_fraction:6.1%} {price:>10} {buy:>9}"
        )


# --- Platforms (issue 11): a Mac's wired-memory limit, software the chosen card cannot run, cards left out ---
def print_platform_fit(f: Any) -> None:
    if f.wired_limit:
        w = f.wired_limit
        print(f"    {w.summary.text}: {w.rule.text}")
        for note in w.notes:
            print(f"    - {note.text}")
    for conflict in f.software:
        print(f"  warning: {f.gpu_name} cannot run this as set: {conflict.text}")


def print_left_out(items: list[Any]) -> None:
    from .planning import left_out_lines

    if items:
        print("  left out:")
        for line in left_out_lines(items):
            print(f"    - {line}")
