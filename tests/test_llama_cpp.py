"""llama.cpp runtime: placement by -ngl, buffers per device, RAM, the inverse search and the decode estimate.

Expected values are hand-derived from llama.cpp's rules (src/llama-model.cpp load_tensors, llama-context.cpp,
ggml block sizes) or read from published llama.cpp logs (the same logs validation/published/llama_cpp.jsonl holds).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vram_insight import EstimateRequest, estimate, report
from vram_insight.catalog import load_catalog
from vram_insight.errors import EstimateError
from vram_insight.planning import decode_seconds_per_token, inverse
from vram_insight.runtimes.llama_cpp import ollama_processor
from vram_insight.runtimes.llama_cpp_layout import CPU, place_layers

MiB = 2**20
PYTHIA = {"model_type": "gpt_neox", "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 32,
          "num_attention_heads": 32, "vocab_size": 50304, "max_position_embeddings": 2048, "rotary_pct": 0.25,
          "use_parallel_residual": True, "tie_word_embeddings": False, "hidden_act": "gelu"}  # fmt: skip


def run(**kw: object) -> dict:
    req = {"runtime": "llama.cpp", "gpu": None, **kw}
    return estimate(EstimateRequest.model_validate(req)).details["llama_cpp"]


def mib(n: int) -> float:
    return round(n / MiB, 2)


# ------------------------------------------------------------------------------------------------ placement
def test_current_rule_offloads_the_output_layer_first() -> None:
    # PR #18148: i_gpu_start = max(n_layer + 1 - ngl, 0); slot n_layer is the output layer.
    p = place_layers(32, 1, 1, "current")
    assert p.output_device == 0 and all(d == CPU for d in p.layer_device)
    p = place_layers(32, 20, 1, "current")
    assert p.output_device == 0 and p.layer_device.index(0) == 13 and p.gpu_layers == 20
    assert place_layers(32, 0, 1, "current").gpu_layers == 0


def test_pre_dec_2025_rule_offloads_the_last_repeating_layers_first() -> None:
    # Mistral log (arXiv 2509.11947): "layer 12 assigned to device CUDA0 ... layer 32 assigned to device CPU".
    p = place_layers(32, 20, 1, "pre-dec-2025")
    assert p.layer_device.index(0) == 12 and p.output_device == CPU
    p = place_layers(32, 33, 1, "pre-dec-2025")
    assert p.output_device == 0 and CPU not in p.layer_device


def test_layer_split_over_two_gpus_follows_llama_cpp() -> None:
    # LlamaEdge #104: 41 slots over two equal GPUs -> KV 210/190 MiB = 21/19 layers; output on the last GPU.
    p = place_layers(40, 41, 2, "pre-dec-2025")
    assert p.layer_device.count(0) == 21 and p.layer_device.count(1) == 19 and p.output_device == 1


# ------------------------------------------------------------------------------------------------ weights and KV
def test_mistral_q4_k_m_ngl20_split_matches_the_published_log() -> None:
    d = run(model="mistral-7b-v0.1", weights="q4_k_m", seq_len=768, gpu_layers=20, ubatch_size=256,
            attention="flash", llama_cpp_build="pre-dec-2025")  # fmt: skip
    cuda = d["devices"]["CUDA0"]
    assert mib(cuda["weights_bytes"]) == 2495.31  # "CUDA0 model buffer size = 2495.31 MiB"
    assert mib(d["host"]["cpu_mapped_bytes"]) == 4165.37  # "CPU_Mapped model buffer size = 4165.37 MiB"
    assert cuda["kv_bytes"] == 20 * 768 * 2 * 1024 * 2  # 60.00 MiB: 20 layers × 768 cells × K+V × 1024 × f16
    assert d["host"]["kv_bytes"] == 12 * 768 * 2 * 1024 * 2  # 36.00 MiB
    # Op offload of output.weight (Q6_K: 32000 × 4096 × 210/256 B) + its input and the logits, 256-token batch.
    assert cuda["compute_bytes"] == 32000 * 4096 * 210 // 256 + 4 * 256 * (4096 + 32000)  # 137.79 MiB
    assert d["op_offload_tensor"] == "output.weight"


def test_token_embd_stays_on_the_cpu_with_every_layer_offloaded() -> None:
    d = run(config=PYTHIA, model=None, weights="q4_0", seq_len=2048, attention="eager")
    assert d["host"]["weights_bytes"] == 50304 * 2560 * 18 // 32  # token_embd q4_0 = 69.08 MiB
    assert mib(d["devices"]["CUDA0"]["weights_bytes"]) == 1454.83  # ggml-org/ci pythia_2_8b log


def test_tied_embeddings_are_held_twice_once_the_output_is_on_the_gpu() -> None:
    # Ollama #9415 gemma2 9B Q4_0: token_embd Q6_K on the CPU, and a Q6_K copy as the output layer on the GPU.
    d = run(model="gemma-2-9b", weights="q4_0", seq_len=8192, parallel=4, llama_cpp_build="pre-dec-2025")
    tok = 256000 * 3584 * 210 // 256
    assert d["host"]["weights_bytes"] == tok
    assert mib(d["devices"]["CUDA0"]["weights_bytes"]) == 5185.21
    on_cpu = run(
        model="gemma-2-9b", weights="q4_0", seq_len=8192, gpu_layers=42, llama_cpp_build="pre-dec-2025"
    )
    assert (
        on_cpu["devices"]["CUDA0"]["weights_bytes"] == d["devices"]["CUDA0"]["weights_bytes"] - tok - 4 * 3584
    )


def test_no_kv_offload_keeps_every_layer_cache_in_ram() -> None:
    d = run(model="llama-3.1-8b", weights="q4_k_m", seq_len=4096, no_kv_offload=True)
    assert d["devices"]["CUDA0"]["kv_bytes"] == 0
    assert d["host"]["kv_bytes"] == 32 * 4096 * 2 * 1024 * 2  # 512 MiB f16
    assert d["ram_bytes"] > d["host"]["kv_bytes"] + d["host"]["weights_bytes"]


def test_context_is_padded_and_split_over_slots() -> None:
    # -c 8000 -np 4: n_ctx = GGML_PAD(8000, 256) = 8192, each slot GGML_PAD(8192 / 4, 256) = 2048 cells.
    padded = run(model="llama-3.1-8b", weights="q8_0", seq_len=8000, parallel=4)
    assert (padded["n_ctx"], padded["n_ctx_seq"], padded["kv_unified"]) == (8192, 2048, False)
    # -c 32768 -np 4 with and without --kv-unified: the same 32768 cells, as 4 streams of 8192 or one stream.
    kw = {"model": "llama-3.1-8b", "weights": "q8_0", "seq_len": 32768, "parallel": 4, "attention": "eager"}
    split = run(**kw)
    unified = run(**kw, kv_unified=True)
    assert (split["n_ctx_seq"], unified["n_ctx_seq"]) == (8192, 32768)
    assert split["kv_gpu_bytes"] == unified["kv_gpu_bytes"] == 32 * 32768 * 2 * 1024 * 2
    # Without flash attention each stream's KQ spans its own cells: a unified cache adds 512 tokens × (32768 - 8192)
    # cells × 32 heads × 4 B of KQ and 512 × 24576 × 4 B of mask to the attention moment that sizes both buffers.
    extra = 512 * (32768 - 8192) * 32 * 4 + 512 * (32768 - 8192) * 4
    assert (
        split["devices"]["CUDA0"]["compute_phase"]
        == unified["devices"]["CUDA0"]["compute_phase"]
        == "attention"
    )
    assert unified["devices"]["CUDA0"]["compute_bytes"] - split["devices"]["CUDA0"]["compute_bytes"] == extra


def test_sliding_window_layers_keep_n_swa_plus_ubatch_cells() -> None:
    # Gemma-2 (window 4096), -c 16384: SWA layers GGML_PAD(4096 + 512, 256) = 4608 cells, full layers 16384.
    d = run(model="gemma-2-9b", weights="q4_k_m", seq_len=16384)
    per_cell = 2 * 8 * 256 * 2  # K+V, 8 KV heads × head_dim 256, f16
    assert d["kv_gpu_bytes"] == 21 * 16384 * per_cell + 21 * 4608 * per_cell


# ------------------------------------------------------------------------------------------------ compute buffers
def test_compute_buffer_is_the_largest_live_set_not_a_sum() -> None:
    # ggml-org/ci pythia_2_8b (n_ctx 2048, n_ubatch 512), full offload: 162.00 MiB without flash attention (KQ
    # 2048×512×32×4 B above the mask, input, norm, fused QKV and roped Q), 103.25 MiB with it (logits + final norm).
    off = run(
        config=PYTHIA,
        model=None,
        weights="q4_0",
        seq_len=2048,
        attention="eager",
        llama_cpp_build="pre-dec-2025",
    )
    on = run(
        config=PYTHIA,
        model=None,
        weights="q4_0",
        seq_len=2048,
        attention="flash",
        llama_cpp_build="pre-dec-2025",
    )
    kq = 2048 * 512 * 32 * 4
    below = 2048 * 512 * 4 + 512 * 4 * (2560 + 2560 + 3 * 2560 + 2560)
    assert off["devices"]["CUDA0"]["compute_bytes"] == kq + below == 162 * MiB
    assert on["devices"]["CUDA0"]["compute_bytes"] == 512 * 4 * (50304 + 2560)  # 103.25 MiB
    logits_phase = 512 * 4 * (50304 + 2560)
    assert off["devices"]["CUDA0"]["compute_bytes"] < kq + below + logits_phase  # a sum would be 265.25 MiB


def test_partial_offload_copies_the_cpu_output_weight_into_the_gpu_buffer() -> None:
    # ggml-org/ci pythia_2_8b -ngl 10: CUDA0 compute 203.99 MiB with flash attention on and off.
    for attention in ("eager", "flash"):
        d = run(config=PYTHIA, model=None, weights="q4_0", seq_len=2048, gpu_layers=10, attention=attention,
                llama_cpp_build="pre-dec-2025")  # fmt: skip
        assert mib(d["devices"]["CUDA0"]["compute_bytes"]) == 203.99
        assert d["devices"]["CUDA0"]["compute_phase"] == "op_offload"


def test_quantized_kv_cache_needs_flash_attention_and_adds_the_f16_copy() -> None:
    with pytest.raises(EstimateError) as err:
        run(model="llama-3.1-8b", weights="q4_k_m", kv_cache_dtype="q8_0", attention="eager")
    assert err.value.field == "kv_cache_dtype"
    f16 = run(model="llama-3.1-8b", weights="q4_k_m", seq_len=131072, attention="flash")
    q8 = run(model="llama-3.1-8b", weights="q4_k_m", seq_len=131072, attention="flash", kv_cache_dtype="q8_0")
    # CUDA's batched flash-attention kernels read f16 K and V: one layer's 131072 cells × 2 × 1024 × 2 B extra.
    assert q8["kv_gpu_bytes"] == 32 * 131072 * 2 * 1024 * 34 // 32
    assert q8["devices"]["CUDA0"]["compute_bytes"] >= 131072 * 2 * 1024 * 2
    assert q8["devices"]["CUDA0"]["compute_bytes"] > f16["devices"]["CUDA0"]["compute_bytes"]


# ------------------------------------------------------------------------------------------------ RAM, Ollama
def test_ram_counts_cpu_resident_tensors_not_the_mapped_span() -> None:
    d = run(model="mistral-7b-v0.1", weights="q4_k_m", seq_len=768, gpu_layers=20, ubatch_size=256,
            attention="flash", llama_cpp_build="pre-dec-2025")  # fmt: skip
    h = d["host"]
    assert h["weights_bytes"] == d["file_bytes"] - d["devices"]["CUDA0"]["weights_bytes"]
    assert h["ram_bytes"] == h["weights_bytes"] + h["kv_bytes"] + h["compute_bytes"] + h["output_bytes"]
    assert h["output_bytes"] == 32000 * 4  # "CPU output buffer size = 0.12 MiB": one logits row per slot
    assert h["cpu_mapped_bytes"] == d["file_bytes"] > h["weights_bytes"]


def test_ollama_processor_column() -> None:
    # cmd/cmd.go: cpuPercent = round((Size - SizeVRAM) / Size * 100).
    assert ollama_processor(100, 0) == "100% CPU"
    assert ollama_processor(100, 100) == "100% GPU"
    assert ollama_processor(1000, 614) == "39%/61% CPU/GPU"


# ------------------------------------------------------------------------------------------------ inverse search
@pytest.mark.parametrize(
    ("model", "gpu", "seq_len"), [("llama-3.1-70b", "rtx-4090", 8192), ("qwen2.5-32b", "rtx-3090", 32768)]
)
def test_largest_gpu_layers_fits_and_one_more_does_not(model: str, gpu: str, seq_len: int) -> None:
    req = EstimateRequest(model=model, runtime="llama.cpp", weights="q4_k_m", seq_len=seq_len, gpu=gpu)
    card = load_catalog().gpu(gpu)
    n = inverse(req, card).max_gpu_layers
    assert n is not None
    fits = estimate(req.model_copy(update={"gpu_layers": n})).total_bytes
    over = estimate(req.model_copy(update={"gpu_layers": n + 1})).total_bytes
    assert fits <= card.memory_bytes < over
    # Exact: no larger -ngl fits either (each one estimated on its own).
    slots = estimate(req).details["llama_cpp"]["n_layer"] + 1
    for m in range(n + 1, slots + 1):
        assert estimate(req.model_copy(update={"gpu_layers": m})).total_bytes > card.memory_bytes


def test_inverse_reports_fit_and_ollama_choices() -> None:
    rep = report(EstimateRequest(model="llama-3.1-70b", runtime="llama.cpp", weights="q4_k_m", seq_len=8192,
                                 gpu="rtx-4090", ollama_gpu_overhead=2 * 2**30))  # fmt: skip
    notes = " ".join(n.text for n in rep.inverse.notes)
    assert "--fit" in notes and "Ollama" in notes and "2,505 MiB" in notes  # 457 MiB + 2048 MiB
    assert rep.inverse.max_batch_size is None and rep.inverse.max_gpu_layers is not None


# ------------------------------------------------------------------------------------------------ decode speed
def test_decode_time_is_gpu_bytes_over_gpu_bandwidth_plus_cpu_bytes_over_cpu_bandwidth() -> None:
    assert decode_seconds_per_token(4 * 10**9, 2 * 10**9, 400.0, 50.0) == pytest.approx(0.01 + 0.04)


def test_decode_estimate_bounds_a_published_ngl_sweep() -> None:
    # InventiveHQ: Qwen2.5-Coder-14B Q4_K_M on an RTX 5060 Ti (448 GB/s) with dual-channel DDR4-2400 (38.4 GB/s).
    # Measured tok/s at -ngl 0, 8, …, 40, all. Peak bandwidths give an upper bound; the sweep reached 64-82 % of it.
    measured = {0: 2.89, 8: 3.58, 16: 4.24, 24: 5.61, 32: 7.26, 40: 12.5, 49: 43.18}
    for ngl, tps in measured.items():
        rep = report(EstimateRequest(model="qwen2.5-14b", runtime="llama.cpp", weights="q4_k_m", seq_len=4096,
                                     gpu="rtx-5060-ti-16gb", gpu_layers=ngl, cpu_bandwidth_gbps=38.4))  # fmt: skip
        assert tps <= rep.throughput.decode_tokens_per_s <= tps / 0.6, ngl


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gpu_layers": 34}, "gpu_layers"),  # Mistral 7B has 32 + 1 layers
        ({"weights": "int4"}, "weights"),  # GPTQ/AWQ is not a format llama.cpp loads
        ({"kv_cache_dtype": "fp8"}, "kv_cache_dtype"),
        ({"tp": 2, "gpus": 2}, "tp"),
        ({"batch_size": 4}, "batch_size"),
    ],
)
def test_bad_input_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(EstimateError) as err:
        run(**{"model": "mistral-7b-v0.1", "weights": "q4_k_m", **change})
    assert err.value.field == field


@pytest.mark.parametrize(
    "change", [{"parallel": -1}, {"parallel": 0}, {"gpu_layers": -1}, {"ubatch_size": 0}]
)
def test_negative_slots_and_layers_are_schema_errors(change: dict) -> None:
    with pytest.raises(ValidationError) as err:
        EstimateRequest.model_validate({"runtime": "llama.cpp", **change})
    assert err.value.errors()[0]["loc"] == (next(iter(change)),)


# ------------------------------------------------------------------------------------------------ CLI
def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from vram_insight.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_takes_llama_cpp_option_names(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = cli(capsys, "estimate", "-m", "mistral-7b-v0.1", "--runtime", "llama.cpp", "-w", "q4_k_m",
                       "-c", "768", "-ngl", "20", "-ub", "256", "-fa", "on", "--llama-cpp-build", "pre-dec-2025",
                       "--json")  # fmt: skip
    assert code == 0
    d = json.loads(out)["details"]["llama_cpp"]
    assert (d["gpu_layers"], d["n_ctx"], d["n_ubatch"], d["flash_attn"]) == (20, 768, 256, True)
    assert mib(d["devices"]["CUDA0"]["compute_bytes"]) == 137.79
    code, out, _ = cli(capsys, "estimate", "-m", "llama-3.1-8b", "--runtime", "llama.cpp", "-w", "q4_k_m",
                       "-ngl", "all", "-np", "2", "-nkvo", "-kvu", "-fa", "off", "--json")  # fmt: skip
    d = json.loads(out)["details"]["llama_cpp"]
    assert (d["gpu_layers"], d["n_seq_max"], d["kv_offload"], d["kv_unified"], d["flash_attn"]) == (
        33,
        2,
        False,
        True,
        False,
    )


def test_cli_text_output_reads_like_llama_cpp(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "estimate", "-m", "mistral-7b-v0.1", "--runtime", "llama.cpp", "-w", "q4_k_m",
                       "-c", "768", "-ngl", "20", "-ub", "256", "-fa", "on", "--llama-cpp-build", "pre-dec-2025")  # fmt: skip
    assert code == 0
    assert "offloaded 20/33 layers to GPU" in out
    assert "model 2,495.31 MiB, KV 60.00 MiB, compute 137.79 MiB" in out
    assert "CPU_Mapped span 4,165.37 MiB" in out and "system RAM needed" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-ngl", "99"], "gpu_layers"),
        (["-np", "-1"], "--parallel"),
        (["-w", "awq"], "GGUF"),
        (["-ngl", "some"], "layer count or 'all'"),
    ],
)
def test_cli_bad_llama_cpp_input_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = cli(
        capsys, "estimate", "-m", "mistral-7b-v0.1", "--runtime", "llama.cpp", "-w", "q4_k_m", *argv
    )
    assert code == 2 and "Traceback" not in err and needle in err
