"""Issue 13: no input breaks the engine or the CLI. One named test per cause found by the hostile-user probe.

Every error reply is ``{"ok": false, "error": {"code", "field", "params", "message"}}``: a registered message code
with its parameters (what the site translates), the field at fault as the user wrote it (a request field, or
``config.<key path>``) and one line of English.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from vram_insight import web_api
from vram_insight.catalog import load_catalog
from vram_insight.cli import MAX_CONFIG_BYTES, main
from vram_insight.error_codes import ERROR_TEMPLATES
from vram_insight.limits import INT_BOUNDS, MAX_LAYERS, MAX_NODES, check_config
from vram_insight.messages import _PLACEHOLDER, TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
LLAMA = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
         "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 128_256}  # fmt: skip


def call(op: str, payload: Any) -> dict[str, Any]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    reply = web_api.call(op, text)

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in the reply: not JSON")

    return json.loads(reply, parse_constant=refuse)


def error_of(op: str, payload: Any) -> dict[str, Any]:
    data = call(op, payload)
    assert data["ok"] is False, data
    err = data["error"]
    assert err["code"] in TEMPLATES and "\n" not in err["message"] and "Traceback" not in err["message"]
    return err


def with_config(**changes: Any) -> dict[str, Any]:
    return {"model": None, "gpu": None, "config": {**LLAMA, **changes}}


def catalog_config(model_id: str) -> dict[str, Any]:
    return copy.deepcopy(load_catalog().model(model_id).config)


def cpu_seconds(op: str, payload: Any) -> tuple[float, dict[str, Any]]:
    start = time.process_time()
    data = call(op, payload)
    return time.process_time() - start, data


# ---------------------------------------------------------------------------------------------------------------
# 1. call() raised


def test_config_without_model_type_is_read_as_a_generic_decoder() -> None:
    """Was UnboundLocalError (arch.py model_type_for_rules) in 888 of 12,617 fuzzed calls."""
    cfg = dict(LLAMA)
    del cfg["model_type"]
    data = call("parse_config", {"config": cfg})
    assert data["ok"], data
    assert any("no model_type" in a["text"] for a in data["result"]["assumptions"])
    # Llama-3-8B-shaped: embed + untied head 2·128,256·4096, 32 × (attention 4096·(4096 + 2·1024 + 4096)
    # + SwiGLU 3·4096·14336 + 2 norms 4096) + final norm 4096.
    per_layer = 4096 * (4096 + 2 * 1024 + 4096) + 3 * 4096 * 14336 + 2 * 4096
    assert data["result"]["params_total"] == 2 * 128_256 * 4096 + 32 * per_layer + 4096
    # A multimodal catalog config without its model_type is no longer recognised as one, but still never raises.
    for model_id in ("gemma-3-27b", "llava-1.5-7b", "qwen2.5-vl-7b"):
        cfg = catalog_config(model_id)
        del cfg["model_type"]
        assert call("report", {"model": None, "config": cfg, "gpu": "h100-sxm"})["ok"] in (True, False)


def test_deeply_nested_json_is_a_coded_error() -> None:
    """Was RecursionError: the JSON parse was outside the try."""
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        err = error_of("estimate", text)
        assert err["code"] == "error.json.too_deep"
    deep_config = {"model": None, "config": {**LLAMA, "rope_scaling": json.loads("[" * 20 + "]" * 20)}}
    assert error_of("estimate", deep_config)["code"] == "error.config.too_deep"


def test_integers_over_4300_digits_are_a_coded_error() -> None:
    """Was ValueError (CPython's int/str conversion limit) escaping call()."""
    err = error_of("estimate", '{"batch_size": ' + "9" * 5000 + "}")
    assert err["code"] == "error.json.number_too_long" and err["params"]["limit"] == 4300
    # 4,000 digits parse, and are then out of bounds with the field named.
    err = error_of("estimate", '{"batch_size": 1' + "0" * 4000 + "}")
    assert err["code"] == "error.input.le" and err["field"] == "batch_size"


def test_num_hidden_layers_10_to_12_is_rejected_by_name() -> None:
    """Was MemoryError (a list of 10¹² layers)."""
    err = error_of("estimate", with_config(num_hidden_layers=10**12))
    assert err["code"] == "error.config.too_large"
    assert err["field"] == "config.num_hidden_layers"
    assert err["params"] == {
        "key": "num_hidden_layers",
        "limit": MAX_LAYERS,
        "real": 126,
        "got": "1000000000000",
    }


# ---------------------------------------------------------------------------------------------------------------
# 2. Hangs


@pytest.mark.parametrize("layers", [10**6, 10**7])
def test_million_layer_configs_are_rejected_at_once(layers: int) -> None:
    """10⁶ layers took 3–27 s, 10⁷ took 101 s and 5 GB and printed 4,530,015 GB."""
    seconds, data = cpu_seconds("report", {**with_config(num_hidden_layers=layers), "gpu": "h100-sxm"})
    assert not data["ok"] and data["error"]["field"] == "config.num_hidden_layers"
    assert seconds < 0.1


def test_largest_accepted_configs_answer_within_a_second() -> None:
    """The worst accepted inputs: every dimension at its bound, per-layer lists, the planning searches of report."""
    layers = MAX_LAYERS
    dense = {"model_type": "gemma3_text", "hidden_size": 1 << 16, "intermediate_size": 1 << 18,
             "num_attention_heads": 1024, "num_key_value_heads": 1024, "head_dim": 4096, "vocab_size": 1 << 22,
             "num_hidden_layers": layers, "sliding_window": 1 << 27, "max_position_embeddings": 1 << 27,
             "layer_types": ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(layers)]}  # fmt: skip
    moe = {"model_type": "llama4_text", "hidden_size": 1 << 16, "intermediate_size": 1 << 18,
           "num_attention_heads": 1024, "num_key_value_heads": 1024, "vocab_size": 1 << 22, "num_hidden_layers": layers,
           "num_local_experts": 4096, "num_experts_per_tok": 4096, "attention_chunk_size": 8192,
           "moe_layers": list(range(0, layers, 2)), "no_rope_layers": [i % 4 != 3 for i in range(layers)]}  # fmt: skip
    requests = [
        {
            "mode": "inference",
            "runtime": "llama.cpp",
            "weights": "q4_k_m",
        },  # was 497 s (experts priced one by one)
        {"mode": "inference", "batch_size": 1 << 16, "seq_len": 1 << 24, "gen_len": 1},
        {"mode": "training", "method": "full", "gpus": 1 << 16, "zero": 3, "grad_checkpointing": "full"},
        {"mode": "grpo", "generation_backend": "vllm", "num_generations": 1024},
    ]
    for cfg in (dense, moe):
        for extra in requests:
            seconds, data = cpu_seconds("report", {"model": None, "config": cfg, "gpu": "h100-sxm", **extra})
            assert data["ok"], data
            assert seconds < 1.0, (extra, seconds)
    # A config bloated to the node cap (20,000 keys and list entries): report hashes it for every estimate it runs.
    bloated = {**LLAMA, **{f"unused_{i}": i for i in range(MAX_NODES - len(LLAMA))}}
    seconds, data = cpu_seconds("report", {"model": None, "config": bloated, "gpu": "h100-sxm"})
    assert data["ok"] and seconds < 1.0, seconds
    bloated["one_more"] = 1
    assert error_of("report", {"model": None, "config": bloated})["code"] == "error.config.too_many_keys"
    for model_id, extra in [
        ("llama-3.1-405b", {"num_layers": MAX_LAYERS, "mode": "grpo"}),
        ("llama-3.2-90b-vision", {"mode": "multimodal", "num_layers": MAX_LAYERS, "images": 4096}),
        ("qwen2.5-omni-7b", {"mode": "multimodal", "images": 4096, "image_width": 65536, "image_height": 65536,
                             "video_frames": 100_000, "audio_seconds": 86_400.0}),
    ]:  # fmt: skip
        seconds, data = cpu_seconds("report", {"model": model_id, "gpu": "h100-sxm", **extra})
        assert data["ok"], data
        assert seconds < 1.0, (model_id, seconds)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_cli_fifo_named_json_does_not_block(tmp_path: Path) -> None:
    """A FIFO named x.json blocked the CLI forever (it was opened and read)."""
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    code, err = run_vram("estimate", "-m", str(fifo))
    assert code == 2 and err == [f"vram: error: {fifo}: not a regular file"]


# ---------------------------------------------------------------------------------------------------------------
# 3. Non-JSON replies


def test_reply_is_strict_json_even_when_a_result_is_not_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    """70 replies contained a bare Infinity: json.dumps now refuses it (allow_nan=False) and says so."""
    monkeypatch.setitem(web_api.OPS, "estimate", lambda payload: {"decode_tokens_per_s": math.inf})
    reply = web_api.call("estimate", "{}")
    assert "Infinity" not in reply
    assert json.loads(reply)["error"]["code"] == "error.internal"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_request_are_refused(literal: str) -> None:
    err = error_of("report", '{"mfu": ' + literal + "}")
    assert err["code"] == "error.json.non_finite"


def test_throughput_of_a_tiny_mfu_is_refused_not_infinite() -> None:
    """mfu 5e-324 made throughput inf; utilisation bounds now start at 1 %."""
    for field in ("mfu", "gpu_memory_utilization", "vllm_gpu_memory_utilization"):
        err = error_of("report", {"model": "llama-3.1-8b", "gpu": "h100-sxm", field: 5e-324})
        assert (err["code"], err["field"], err["params"]) == (
            "error.input.ge",
            field,
            {"field": field, "limit": 0.01},
        )
    err = error_of("report", {"model": "llama-3.1-8b", "mfu": "inf"})
    assert (err["code"], err["field"]) == ("error.input.not_finite", "mfu")


def test_slow_throughput_keeps_significant_digits_instead_of_rounding_to_zero() -> None:
    """109 results had throughput 0 (rounded to 1 decimal) or inf. A 1,024-layer, 65,536-wide decoder on one
    RTX 4090: decode reads the whole model per token, far below 0.05 tokens/s."""
    cfg = {**LLAMA, "hidden_size": 1 << 16, "intermediate_size": 1 << 18, "num_attention_heads": 512,
           "num_key_value_heads": 512, "num_hidden_layers": MAX_LAYERS}  # fmt: skip
    data = call("report", {"model": None, "config": cfg, "gpu": "rtx-4090", "mfu": 0.01})
    tp = data["result"]["throughput"]
    params = data["result"]["estimate"]["params"]["total"]
    bandwidth = load_catalog().gpu("rtx-4090").bandwidth_gbps * 1e9
    # Roofline: one token reads 2 bytes × every parameter (bf16) plus the KV cache.
    assert 0 < tp["decode_tokens_per_s"] < bandwidth / (2 * params) * 1.0001
    assert tp["decode_tokens_per_s"] == float(f"{tp['decode_tokens_per_s']:.4g}")
    assert math.isfinite(tp["prefill_seconds"]) and tp["prefill_seconds"] > 0


# ---------------------------------------------------------------------------------------------------------------
# 4. Unclear errors


def test_tiny_gpu_memory_utilization_is_a_clear_error_not_division_by_zero() -> None:
    err = error_of("report", {"model": "llama-3.1-8b", "runtime": "vllm", "gpu_memory_utilization": 5e-324})
    assert err["message"] == "gpu_memory_utilization must be at least 0.01"


def test_gemma3_zero_mm_tokens_per_image_names_the_key() -> None:
    """Was "integer division or modulo by zero"."""
    cfg = catalog_config("gemma-3-27b")
    cfg["mm_tokens_per_image"] = 0
    err = error_of("report", {"model": None, "config": cfg, "mode": "multimodal", "gpu": "h100-sxm"})
    assert (err["code"], err["field"]) == ("error.config.too_small", "config.mm_tokens_per_image")
    assert err["message"] == "config.json field mm_tokens_per_image must be at least 1, got 0"


def test_zero_intermediate_size_is_one_line_naming_the_key() -> None:
    """Was a multi-line pydantic dump ("1 validation error for ArchSpec")."""
    err = error_of("estimate", with_config(intermediate_size=0))
    assert (err["code"], err["field"]) == ("error.config.too_small", "config.intermediate_size")
    assert "validation error" not in err["message"]


def test_negative_intermediate_size_is_reported_as_intermediate_size() -> None:
    """Was reported as intermediate_size_mlp (an alias the engine reads first for Llama 4)."""
    err = error_of("estimate", with_config(intermediate_size=-5))
    assert err["field"] == "config.intermediate_size" and err["params"]["key"] == "intermediate_size"
    cfg = catalog_config("llama-4-scout-17b-16e")
    cfg["text_config"]["intermediate_size"] = -5
    err = error_of("estimate", {"model": None, "config": cfg})
    assert (
        err["field"] == "config.text_config.intermediate_size" and err["params"]["key"] == "intermediate_size"
    )


def test_zero_float_vocab_size_is_reported_as_vocab_size() -> None:
    """Was reported as padded_vocab_size."""
    err = error_of("estimate", with_config(vocab_size=0.0))
    assert (err["field"], err["params"]["key"]) == ("config.vocab_size", "vocab_size")


def test_unexpected_exceptions_are_one_coded_line_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page showed "engine crashed: Traceback (most recent call last):" when call() raised."""
    for exc in (ZeroDivisionError("division by zero"), RecursionError(), MemoryError(), KeyError("x"),
                UnboundLocalError("local variable")):  # fmt: skip

        def boom(payload: dict[str, Any], exc: BaseException = exc) -> Any:
            raise exc

        monkeypatch.setitem(web_api.OPS, "estimate", boom)
        err = error_of("estimate", "{}")
        assert err["code"] == "error.internal" and err["field"] is None
        assert err["message"].startswith("the engine could not compute this input (")


@pytest.mark.parametrize(
    ("payload", "code", "field", "params"),
    [
        ({"batch_size": 0}, "error.input.ge", "batch_size", {"limit": 1}),
        ({"seq_len": 1 << 30}, "error.input.le", "seq_len", {"limit": 1 << 24}),
        ({"batch_size": "many"}, "error.input.not_integer", "batch_size", {}),
        ({"batch_size": 1.5}, "error.input.not_integer", "batch_size", {}),
        ({"beta": "x"}, "error.input.not_number", "beta", {}),
        ({"logits_all_tokens": "maybe"}, "error.input.not_boolean", "logits_all_tokens", {}),
        ({"weights": 4}, "error.input.not_string", "weights", {}),
        ({"config": [1]}, "error.input.not_object", "config", {}),
        ({"lora_targets": "q" * 2000}, "error.input.too_long", "lora_targets", {"limit": 1024}),
        ({"zero": 5}, "error.input.choice", "zero", {"expected": "0, 1, 2, 3"}),
        ({"attention": "fast"}, "error.input.choice", "attention", {"expected": "sdpa, eager, flash"}),
        ({"batchsize": 4}, "error.input.unknown_field", "batchsize", {}),
        ({"model": None}, "error.request.no_model", "model", {}),
        ({"seq_len": 100, "gen_len": 100}, "error.request.gen_len_vs_seq_len", "gen_len", {"gen_len": 100}),
        ({"tp": 4}, "error.request.tp_pp_vs_gpus", "tp", {"tp_pp": 4, "gpus": 1}),
        ({"gpus": 3, "tp": 2}, "error.request.gpus_not_multiple", "gpus", {"gpus": 3, "tp_pp": 2}),
        ({"zero": 3, "fsdp": "full_shard"}, "error.request.zero_and_fsdp", "fsdp", {}),
        ({"mode": "grpo", "num_generations": 1}, "error.request.grpo_generations", "num_generations", {}),
        ({"model": "gpt-9"}, "error.model.unknown", "model", {"got": "'gpt-9'"}),
        ({"gpu": "tpu-v9"}, "error.gpu.unknown", "gpu", {"got": "'tpu-v9'"}),
        ({"weights": "q9_z"}, "error.weights.unknown", "weights", {"got": "'q9_z'"}),
        (
            {"weights": "q4_k_m", "runtime": "transformers"},
            "error.weights.gguf_needs_llama_cpp",
            "weights",
            {"got": "q4_k_m"},
        ),
        (
            {"mode": "finetune", "lora_targets": "c_attn"},
            "error.lora_targets.unknown",
            "lora_targets",
            {"got": "c_attn"},
        ),
        ({"mode": "multimodal"}, "error.model.no_tower", "model", {}),
    ],
)
def test_request_errors_map_to_codes_with_params(payload: dict, code: str, field: str, params: dict) -> None:
    err = error_of("report", {"model": "llama-3.1-8b", "gpu": "h100-sxm", **payload})
    assert (err["code"], err["field"]) == (code, field)
    assert params.items() <= err["params"].items()
    assert err["message"] == TEMPLATES[code].format_map(_Formatted(err["params"]))


class _Formatted(dict):
    """str.format_map that understands the template subset (the site renders the same way)."""

    def __missing__(self, key: str) -> str:
        raise AssertionError(f"template placeholder {key} has no parameter")


def test_every_error_template_uses_the_shared_placeholder_subset() -> None:
    for code, template in ERROR_TEMPLATES.items():
        assert code.startswith("error.") and code in TEMPLATES
        # Every brace is a placeholder the site's renderer understands ({name} or {name:,} / {name:.Nf}).
        assert template.count("{") == len(_PLACEHOLDER.findall(template)), code


def test_config_errors_keep_the_old_keys_for_the_current_site() -> None:
    err = error_of("parse_config", {"config": {"model_type": "llama"}})
    assert err["message"] == "config.json is missing hidden_size (needed to size the model)"
    assert err["field"].split(".")[0] == "config"  # the page places it next to the config box


# ---------------------------------------------------------------------------------------------------------------
# Bounds


def test_every_catalog_config_is_within_bounds_and_real_values_cover_it() -> None:
    catalog_max: dict[str, float] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                values = value if isinstance(value, list) else [value]
                if key in INT_BOUNDS:
                    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
                    if numbers:
                        catalog_max[key] = max(catalog_max.get(key, 0), *numbers)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for entry in load_catalog().models.values():
        check_config(entry.config)
        walk(entry.config)
    for key, largest in catalog_max.items():
        bound = INT_BOUNDS[key]
        # `real` is the largest value released models use, so no catalog model exceeds it, and every bound leaves
        # at least 2× headroom above it.
        assert largest <= bound.real, (key, largest, bound.real)
        assert bound.hi >= 2 * bound.real, key


# ---------------------------------------------------------------------------------------------------------------
# 5. CLI


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def run_vram(*argv: str) -> tuple[int, list[str]]:
    """The real command in a subprocess (argparse exits, stderr as a user sees it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    proc = subprocess.run([sys.executable, "-m", "vram_insight", *argv], capture_output=True, text=True, timeout=60,
                          env=env, check=False)  # fmt: skip
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stderr.splitlines()


def test_cli_deeply_nested_config_file_is_one_line(capsys, tmp_path: Path) -> None:
    """Was a RecursionError traceback."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run_cli(capsys, "params", "-m", str(path))
    assert code == 2 and err == [
        f"vram: error: {path}: the JSON nests objects or lists more than 32 levels deep"
    ]


@pytest.mark.parametrize("command", ["params", "estimate"])
def test_cli_config_without_model_type_works(capsys, tmp_path: Path, command: str) -> None:
    """Was an UnboundLocalError traceback (in both commands)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in LLAMA.items() if k != "model_type"}))
    code, out, err = run_cli(capsys, command, "-m", str(path), "--json")
    assert code == 0 and not err
    assert json.loads(out)["params" if command == "estimate" else "total"]


def test_cli_huge_layer_count_is_one_line_naming_the_key(capsys, tmp_path: Path) -> None:
    """Was a MemoryError traceback."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "num_hidden_layers": 10**12}))
    code, _, err = run_cli(capsys, "estimate", "-m", str(path))
    assert code == 2 and len(err) == 1 and "num_hidden_layers must be at most 1,024" in err[0]


def test_cli_5000_character_model_is_one_line_not_oserror(capsys) -> None:
    """Was an OSError traceback (file name too long) from Path.is_file()."""
    code, _, err = run_cli(capsys, "estimate", "-m", "m" * 5000)
    assert code == 2 and err == ["vram: error: --model must be at most 200 characters long"]
    code, _, err = run_cli(capsys, "estimate", "-m", "m" * 5000 + ".json")
    assert code == 2 and len(err) == 1 and err[0].endswith(": cannot read this file")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["estimate"], "the following arguments are required: --model/-m"),
        (["nope"], "argument command: invalid choice: 'nope'"),
        (["estimate", "-m", "llama-3.1-8b", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
        (
            ["estimate", "-m", "llama-3.1-8b", "--batch-size", "x"],
            "argument --batch-size/--per-device-train-batch-size/-b: invalid int value: 'x'",
        ),
        (["estimate", "-m"], "argument --model/-m: expected one argument"),
        (["report", "-m", "llama-3.1-8b", "--wat"], "unrecognized arguments: --wat"),
        (["gpus", "--json", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_cli_argparse_errors_are_one_line(capsys, argv: list[str], message: str) -> None:
    """argparse printed 3–36 lines of usage before the error; the README promises one line."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and not out
    assert len(err) == 1 and err[0].startswith("vram: error: " + message)


def test_cli_argparse_error_in_a_real_process() -> None:
    code, err = run_vram("estimate", "-m", "llama-3.1-8b", "--seq-len", "lots")
    assert code == 2 and err == [
        "vram: error: argument --seq-len/--max-model-len/--ctx-size/-s/-c: invalid int value: 'lots'"
    ]
    code, err = run_vram("estimate", "-m", "llama-3.1-8b", "--seq-len", "0")
    assert code == 2 and err == ["vram: error: --seq-len must be at least 1"]


def test_cli_reads_only_regular_files_under_the_limit(capsys, tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    big = tmp_path / "big.json"
    big.write_text(" " * MAX_CONFIG_BYTES + "{}")
    for path, reason in ((tmp_path / "dir.json", "not a regular file"),
                         (big, f"larger than {MAX_CONFIG_BYTES:,} bytes; a config.json is a few KB")):  # fmt: skip
        code, _, err = run_cli(capsys, "params", "-m", str(path))
        assert code == 2 and err == [f"vram: error: {path}: {reason}"]
    if Path("/dev/zero").exists():
        code, _, err = run_cli(capsys, "params", "-m", "/dev/zero")
        assert code == 2 and err == ["vram: error: /dev/zero: not a regular file"]
