"""CLI ergonomics of issue 12 item 11: GGUF implies llama.cpp, --method in GRPO, GPU aliases, custom names."""

import json

import pytest

from vram_insight.catalog import load_catalog
from vram_insight.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gguf_weights_imply_llama_cpp(capsys) -> None:
    code, out, _ = run(capsys, "estimate", "-m", "llama-3.1-8b", "-w", "q4_k_m", "--json")
    assert code == 0
    inferred = json.loads(out)
    assert any("only llama.cpp loads" in str(a) for a in inferred["assumptions"])
    _, out, _ = run(
        capsys, "estimate", "-m", "llama-3.1-8b", "-w", "q4_k_m", "--runtime", "llama.cpp", "--json"
    )
    assert json.loads(out)["total_bytes"] == inferred["total_bytes"]
    # An explicit runtime that cannot load GGUF is still an error naming the field.
    code, _, err = run(capsys, "estimate", "-m", "llama-3.1-8b", "-w", "q4_k_m", "--runtime", "transformers")
    assert code == 2 and err.count("\n") == 1 and "llama.cpp" in err


@pytest.mark.parametrize(
    ("name", "gpu_id"),
    [("4090", "rtx-4090"), ("h100", "h100-sxm"), ("a100-40gb", "a100-40gb-sxm"), ("A100 40GB", "a100-40gb-sxm"),
     ("NVIDIA GeForce RTX 3090", "rtx-3090"), ("H100 PCIe", "h100-pcie"), ("h200", "h200-sxm")],
)  # fmt: skip
def test_gpu_aliases(name: str, gpu_id: str) -> None:
    assert load_catalog().gpu(name).id == gpu_id


def test_an_unknown_gpu_is_still_an_error(capsys) -> None:
    code, _, err = run(capsys, "estimate", "-m", "llama-3.1-8b", "--gpu", "rtx-9999")
    assert code == 2 and "rtx-9999" in err and err.count("\n") == 1


def test_grpo_takes_method_as_the_policy(capsys) -> None:
    base = ["estimate", "-m", "qwen2.5-1.5b", "--mode", "grpo", "-b", "8", "--json"]
    _, with_method, _ = run(capsys, *base, "--method", "full")
    _, with_policy, _ = run(capsys, *base, "--policy", "full")
    assert json.loads(with_method)["total_bytes"] == json.loads(with_policy)["total_bytes"]
    code, _, err = run(capsys, *base, "--method", "qlora")
    assert code == 2 and "--policy" in err
    code, _, err = run(capsys, *base, "--method", "full", "--policy", "lora")
    assert code == 2 and "disagree" in err


def test_custom_config_is_named_after_its_file(tmp_path, capsys) -> None:
    cfg = {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 8,
           "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip
    folder = tmp_path / "acme-7b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "tiny.json").write_text(json.dumps(cfg))
    (tmp_path / "named.json").write_text(json.dumps({**cfg, "_name_or_path": "org/named-model"}))
    assert run(capsys, "estimate", "-m", str(folder / "config.json"))[1].startswith("acme-7b — ")
    assert run(capsys, "estimate", "-m", str(tmp_path / "tiny.json"))[1].startswith("tiny — ")
    assert run(capsys, "estimate", "-m", str(tmp_path / "named.json"))[1].startswith("org/named-model — ")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (
            ["--runtime", "llama.cpp", "-w", "q4_k_m", "--cpu-bandwidth", "-5"],
            "--cpu-bandwidth ",
        ),  # dest *_gbps
        (["--ubatch-size", "0", "--runtime", "llama.cpp", "-w", "q4_k_m"], "--ubatch-size "),
        (["-b", "0"], "--batch-size "),
    ],
)
def test_errors_name_the_flag_the_user_can_type(argv: list[str], flag: str, capsys) -> None:
    assert main(["estimate", "-m", "llama-3.1-8b", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vram: error: " + flag), err


@pytest.mark.parametrize(
    ("argv", "flag", "owner"),
    [
        (
            ["-ngl", "5"],
            "--gpu-layers",
            "llama.cpp",
        ),  # forgot --runtime llama.cpp: a bf16 transformers answer
        (["--runtime", "llama.cpp", "-w", "q4_k_m", "--max-num-seqs", "8"], "--max-num-seqs", "vLLM"),
        (["--runtime", "vllm", "--parallel", "4"], "--parallel", "llama.cpp"),
        (["--mode", "training", "--no-kv-offload"], "--no-kv-offload", "llama.cpp"),
    ],
)
def test_a_runtimes_own_option_with_another_runtime_is_refused(
    argv: list[str], flag: str, owner: str, capsys
):
    assert main(["estimate", "-m", "llama-3.1-8b", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vram: error: {flag} is a {owner} option") and err.count("\n") == 1, err


def test_a_gguf_format_brings_its_runtimes_options(capsys) -> None:
    """-w q4_k_m means llama.cpp, so -ngl applies without --runtime."""
    assert main(["estimate", "-m", "llama-3.1-8b", "-w", "q4_k_m", "-ngl", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["details"]["llama_cpp"]


def test_zero_2_or_3_with_pipeline_parallelism_is_refused(capsys) -> None:
    """DeepSpeed's PipelineEngine asserts 'ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism'."""
    argv = ["estimate", "-m", "qwen2.5-7b", "--mode", "finetune", "--pp", "2", "--gpus", "8"]
    assert main([*argv, "--zero", "3"]) == 2
    assert "pipeline parallelism" in capsys.readouterr().err
    assert main([*argv, "--zero", "1"]) == 0
