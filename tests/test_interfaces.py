"""CLI and worker API contracts: JSON shape, one-line errors, non-zero exit, never a traceback."""

import json

import pytest

from vram_insight import web_api
from vram_insight.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_json_contract(capsys) -> None:
    code, out, _ = run(capsys, "estimate", "--model", "llama-3.1-8b", "--mode", "inference", "--seq-len", "8192",
                       "--batch-size", "1", "--json")  # fmt: skip
    assert code == 0
    data = json.loads(out)
    for key in ("total_bytes", "peak_allocated_bytes", "components", "params", "assumptions"):
        assert key in data
    for key in ("weights", "kv_cache", "activations", "gradients", "optimizer", "overhead"):
        assert key in data["components"]
    assert data["params"]["total"] == 8_030_261_248
    # bf16 weights (2 B × 8.03 B params) + 8192 tokens × 131,072 B/token KV
    assert data["components"]["weights"] == 2 * 8_030_261_248
    assert data["components"]["kv_cache"] == 8192 * 131_072


def test_estimate_from_config_path(capsys, tmp_path) -> None:
    cfg = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
           "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, out, _ = run(capsys, "params", "--model", str(path), "--json")
    assert code == 0
    # embed 1000·256 ×2 (untied) + 2 × (attn 256·256·2 + 2·256·128 + mlp 3·256·512 + norms 512) + final 256
    assert json.loads(out)["total"] == 2 * 256_000 + 2 * (131_072 + 65_536 + 393_216 + 512) + 256


@pytest.mark.parametrize(
    "argv",
    [
        ["estimate", "--model", "no-such-model"],
        ["estimate", "--model", "llama-3.1-8b", "--batch-size", "-1"],
        ["estimate", "--model", "llama-3.1-8b", "--seq-len", "100000000000"],
        ["estimate", "--model", "llama-3.1-8b", "--weights", "q9_z"],
        ["estimate", "--model", "llama-3.1-8b", "--gpus", "2", "--tp", "4"],
        ["estimate", "--model", "llama-3.1-8b", "--mode", "finetune", "--lora-targets", "c_attn"],
        ["estimate", "--model", "missing-config.json"],
        ["inverse", "--model", "llama-3.1-8b"],
    ],
)
def test_bad_input_is_one_line_and_nonzero(capsys, argv) -> None:
    code, _, err = run(capsys, *argv)
    assert code != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) >= 1 and err.strip().splitlines()[-1].startswith(
        ("vram: error", "usage")
    )


def test_invalid_config_file(capsys, tmp_path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "estimate", "--model", str(bad))
    assert code == 2 and "not valid JSON" in err
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    code, _, err = run(capsys, "estimate", "--model", str(bad))
    assert code == 2 and "missing" in err


def test_models_and_gpus_lists(capsys) -> None:
    code, out, _ = run(capsys, "models", "--json")
    models = json.loads(out)
    assert code == 0 and len(models) >= 90
    assert all({"id", "name", "hf_repo", "kind", "params_total"} <= m.keys() for m in models)
    code, out, _ = run(capsys, "gpus", "--json")
    assert code == 0 and any(g["id"] == "h100-sxm" for g in json.loads(out))


def test_web_api_ok_and_errors() -> None:
    ok = json.loads(web_api.call("estimate", json.dumps({"model": "qwen2.5-7b", "mode": "inference"})))
    assert ok["ok"] and ok["result"]["params"]["total"] == 7_615_616_512
    bad = json.loads(web_api.call("estimate", json.dumps({"model": "qwen2.5-7b", "batch_size": 0})))
    assert not bad["ok"] and bad["error"]["field"] == "batch_size"
    assert not json.loads(web_api.call("estimate", "{oops"))["ok"]
    assert not json.loads(web_api.call("nope", "{}"))["ok"]
    rep = json.loads(web_api.call("report", json.dumps({"model": "llama-3.1-8b", "gpu": "rtx-4090"})))
    assert rep["ok"] and rep["result"]["fit"]["fits"] and rep["result"]["recommendations"]
    parsed = json.loads(web_api.call("parse_config", json.dumps({"config": {"model_type": "llama"}})))
    assert not parsed["ok"] and "missing" in parsed["error"]["message"]


def test_quick_op_matches_report() -> None:
    payload = json.dumps({"model": "qwen2.5-7b", "mode": "finetune", "method": "qlora", "gpu": "rtx-4090"})
    quick = json.loads(web_api.call("quick", payload))["result"]
    full = json.loads(web_api.call("report", payload))["result"]
    assert quick["estimate"]["total_bytes"] == full["estimate"]["total_bytes"]
    assert quick["fit"] == full["fit"]


def test_package_exports_the_functions() -> None:
    import vram_insight.estimate  # noqa: F401  (the submodule of the same name is loaded first)
    from vram_insight import EstimateRequest, estimate, report

    assert callable(estimate) and callable(report)
    # bf16 weights (2 × 8,030,261,248 B) + 8192 tokens × 131,072 B/token of KV are part of the total
    total = estimate(EstimateRequest(model="llama-3.1-8b", seq_len=8192, gpu=None)).total_bytes
    assert total > 2 * 8_030_261_248 + 8192 * 131_072
