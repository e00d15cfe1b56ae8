"""Fuzzing the engine's two doors as a hostile user would: ``web_api.call`` and the ``vram`` CLI.

Inputs: requests (valid-ish and hostile values), config.json dicts (catalog configs with keys deleted, zeroed,
negated, blown up, retyped or nested), raw JSON text (deep nesting, 5,000-digit integers, NaN/Infinity), share-link
fragments and stored history entries (as the site decodes them), and CLI argument lists.

Contract checked on every input: ``call()`` returns strict JSON (no NaN/Infinity) with ``ok`` true or false, every
error has a registered ``code``, a ``field``, ``params`` and a one-line ``message``, no traceback text and never
``error.internal``; an accepted input answers within 1 s of CPU time (process time, so a busy test machine does not
make it flaky; the figures record wall time too). The CLI prints exactly one ``vram: error: …`` line and exits 2,
or succeeds. A deterministic sweep sets every bounded key of every catalog config to its limits.

Profiles: ``VRAM_FUZZ_PROFILE=ci`` (default: a few hundred cases, derandomized) or ``nightly`` (≥ 10,000 cases).
``VRAM_FUZZ_REPORT=<file>`` writes the figures (cases, ok, errors by code, slowest call) as JSON.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vram_insight import web_api
from vram_insight.catalog import load_catalog
from vram_insight.cli import main
from vram_insight.limits import INT_BOUNDS
from vram_insight.messages import TEMPLATES

PROFILE = os.environ.get("VRAM_FUZZ_PROFILE", "ci")
# Examples per test: "ci" totals 374 (plus a sample of the bound sweep), "nightly" 12,150 (plus the full sweep).
EXAMPLES = {
    "ci": dict(requests=80, configs=100, raw=60, fragments=40, history=30, cli=60, cli_process=4),
    "nightly": dict(
        requests=3000, configs=4500, raw=1500, fragments=1000, history=500, cli=1500, cli_process=150
    ),
}[PROFILE]
for _name, _derandomize in (("fuzz-ci", True), ("fuzz-nightly", False)):
    settings.register_profile(
        _name,
        deadline=None,
        derandomize=_derandomize,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
BASE = settings.get_profile(f"fuzz-{PROFILE}")


def fuzz(kind: str) -> settings:
    return settings(BASE, max_examples=EXAMPLES[kind])


ACCEPTED_SECONDS = 1.0  # issue 13 target: no accepted input takes longer
RETIME_SECONDS = 0.2
CATALOG = load_catalog()
MODEL_IDS = sorted(CATALOG.models)
GPU_IDS = sorted(CATALOG.gpus)
CONFIGS = [CATALOG.models[m].config for m in MODEL_IDS]
OPS = ["estimate", "quick", "report", "parse_config"]

# Figures for docs/reliability.md.
STATS: dict[str, Any] = {
    "cases": Counter(),
    "ok": Counter(),
    "codes": Counter(),
    "slowest": [0.0, ""],
    "wall": 0.0,
}


@pytest.fixture(scope="module", autouse=True)
def _report_figures():
    yield
    path = os.environ.get("VRAM_FUZZ_REPORT")
    if path:
        out = {
            "profile": PROFILE,
            "cases": dict(STATS["cases"]),
            "ok": dict(STATS["ok"]),
            "errors_by_code": dict(STATS["codes"].most_common()),
            "slowest_accepted_cpu_seconds": round(STATS["slowest"][0], 4),
            "slowest_accepted_wall_seconds": round(STATS["wall"], 4),
            "slowest_accepted_input": STATS["slowest"][1][:4000],
        }
        Path(path).write_text(json.dumps(out, indent=2))


def _strict(text: str) -> Any:
    def bad(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name} in the reply")

    return json.loads(text, parse_constant=bad)


def check_call(kind: str, op: Any, payload: Any) -> dict[str, Any]:
    """Call the engine and check the reply contract; returns the parsed reply."""
    start, wall = time.process_time(), time.perf_counter()
    reply = web_api.call(op, payload)
    elapsed, wall = time.process_time() - start, time.perf_counter() - wall
    for _ in range(2):  # a slow call is timed again (best of 3): a garbage-collector pause is not the engine
        if elapsed < RETIME_SECONDS:
            break
        start = time.process_time()
        web_api.call(op, payload)
        elapsed = min(elapsed, time.process_time() - start)
    assert isinstance(reply, str)
    data = _strict(reply)
    assert data["ok"] in (True, False)
    STATS["cases"][kind] += 1
    if data["ok"]:
        STATS["ok"][kind] += 1
        if elapsed > STATS["slowest"][0]:
            STATS["slowest"] = [elapsed, f"{op} {payload}"]
        STATS["wall"] = max(STATS["wall"], wall)
        assert elapsed < ACCEPTED_SECONDS, f"{op} took {elapsed:.2f} s"
        return data
    err = data["error"]
    assert {"code", "field", "params", "message"} <= err.keys()
    STATS["codes"][err["code"]] += 1
    assert err["code"] in TEMPLATES, err
    assert err["code"] != "error.internal", err["message"]
    assert err["field"] is None or isinstance(err["field"], str)
    assert isinstance(err["params"], dict)
    message = err["message"]
    assert isinstance(message, str) and message and "\n" not in message and len(message) < 600
    assert "Traceback" not in message and "validation error" not in message
    return data


# ---------------------------------------------------------------------------------------------------------------
# Values

HUGE_INTS = [10**6, 10**7, 10**9, 10**12, 2**63, 10**30, 10**400, -(10**12)]
TINY_FLOATS = [5e-324, 1e-300, 1e-12, 1e308, -0.0]
hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from(HUGE_INTS + TINY_FLOATS + [0, -1, 0.5, 1.5, "", "4096", "NaN", "x" * 5000, "\n\t", "∞"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
hostile_value = st.one_of(
    hostile_scalar,
    st.lists(hostile_scalar, max_size=4),
    st.dictionaries(st.text(max_size=8), hostile_scalar, max_size=3),
)

FIELDS = [
    "mode", "model", "config", "num_layers", "batch_size", "seq_len", "gen_len", "grad_accum", "weights",
    "kv_cache_dtype", "attention", "runtime", "gpu_memory_utilization", "logits_all_tokens", "precision", "optimizer",
    "grad_checkpointing", "chunked_ce", "method", "lora_rank", "lora_alpha", "lora_targets", "adapter_dtype",
    "freeze_trainable_layers", "prefix_tokens", "rl_algorithm", "policy", "num_generations", "prompt_len",
    "completion_len", "beta", "generation_backend", "vllm_gpu_memory_utilization", "task", "images", "image_width",
    "image_height", "video_frames", "audio_seconds", "train_vision_tower", "gpus", "zero", "fsdp", "tp", "pp",
    "sequence_parallel", "offload", "gpu", "mfu",
]  # fmt: skip

# Values a real user can pick, extremes included (the accepted-input timing runs over these).
CHOICES: dict[str, st.SearchStrategy[Any]] = {
    "mode": st.sampled_from(["inference", "finetune", "training", "grpo", "multimodal"]),
    "model": st.sampled_from(MODEL_IDS),
    "num_layers": st.one_of(st.none(), st.sampled_from([1, 2, 126, 1024])),
    "batch_size": st.sampled_from([1, 2, 8, 64, 4096, 1 << 16]),
    "seq_len": st.sampled_from([1, 2, 512, 4096, 131_072, 1 << 24]),
    "gen_len": st.sampled_from([0, 1, 256]),
    "grad_accum": st.sampled_from([1, 4, 4096]),
    "weights": st.sampled_from(
        ["bf16", "fp16", "fp32", "fp8", "int8", "nf4", "int4", "q4_k_m", "q8_0", "iq4_xs"]
    ),
    "kv_cache_dtype": st.sampled_from(["bf16", "fp16", "fp8", "q8_0", "q4_0"]),
    "attention": st.sampled_from(["sdpa", "eager", "flash"]),
    "runtime": st.sampled_from(["transformers", "vllm", "llama.cpp"]),
    "gpu_memory_utilization": st.sampled_from([0.01, 0.5, 0.9, 1.0]),
    "precision": st.sampled_from(["fp32", "bf16", "fp16", "amp-bf16", "amp-fp16"]),
    "optimizer": st.sampled_from(["adamw", "adamw-8bit", "sgd", "sgd-momentum", "adafactor", "lion"]),
    "grad_checkpointing": st.sampled_from(["none", "selective", "full"]),
    "method": st.sampled_from(["full", "lora", "qlora", "freeze", "prefix"]),
    "lora_rank": st.sampled_from([1, 16, 4096]),
    "lora_targets": st.sampled_from(["default", "all-linear", "q_proj,v_proj"]),
    "freeze_trainable_layers": st.sampled_from([0, 2, 1024]),
    "prefix_tokens": st.sampled_from([1, 20, 4096]),
    "rl_algorithm": st.sampled_from(["grpo", "dpo"]),
    "policy": st.sampled_from(["full", "lora"]),
    "num_generations": st.sampled_from([2, 8, 1024]),
    "prompt_len": st.sampled_from([1, 512, 1 << 24]),
    "completion_len": st.sampled_from([1, 256, 1 << 24]),
    "beta": st.sampled_from([0.0, 0.04, 100.0]),
    "generation_backend": st.sampled_from(["transformers", "vllm"]),
    "vllm_gpu_memory_utilization": st.sampled_from([0.01, 0.3, 1.0]),
    "task": st.sampled_from(["inference", "finetune", "training"]),
    "images": st.sampled_from([0, 1, 4096]),
    "image_width": st.sampled_from([1, 224, 1024, 65536]),
    "image_height": st.sampled_from([1, 336, 1024, 65536]),
    "video_frames": st.sampled_from([0, 8, 100_000]),
    "audio_seconds": st.sampled_from([0.0, 1.5, 30.0, 86_400.0]),
    "gpus": st.sampled_from([1, 2, 8, 1 << 16]),
    "zero": st.sampled_from([0, 1, 2, 3]),
    "fsdp": st.sampled_from(["none", "full_shard"]),
    "tp": st.sampled_from([1, 2, 8]),
    "pp": st.sampled_from([1, 2]),
    "offload": st.sampled_from(["none", "optimizer", "optimizer+params"]),
    "gpu": st.one_of(st.none(), st.sampled_from(GPU_IDS)),
    "mfu": st.sampled_from([0.01, 0.4, 1.0]),
}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request: user-pickable values for some fields, hostile values (or unknown keys) for a few."""
    req: dict[str, Any] = {"model": draw(st.sampled_from(MODEL_IDS))}
    for name in draw(st.lists(st.sampled_from(sorted(CHOICES)), max_size=12, unique=True)):
        req[name] = draw(CHOICES[name])
    for name in draw(
        st.lists(st.sampled_from([*FIELDS, "unknown_field", "Batch_Size"]), max_size=2, unique=True)
    ):
        req[name] = draw(hostile_value)
    return req


# ---------------------------------------------------------------------------------------------------------------
# Config mutations


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a config (dict keys and list indices)."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _parent(cfg: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        cfg = cfg[key]
    return cfg


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg = copy.deepcopy(draw(st.sampled_from(CONFIGS)))
    bounded = sorted(INT_BOUNDS)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(cfg)
        action = draw(
            st.sampled_from(["delete", "hostile", "bound", "scale", "nest", "add", "drop_model_type"])
        )
        if action == "drop_model_type":
            cfg.pop("model_type", None)
            continue
        if action == "add" or not paths:
            cfg[draw(st.sampled_from([*bounded, "layer_types", "moe_layers", "image_grid_pinpoints"]))] = (
                draw(st.one_of(hostile_value, st.integers(0, 5000)))
            )
            continue
        path = draw(st.sampled_from(paths))
        parent, key = _parent(cfg, path), path[-1]
        value = parent[key]
        if action == "delete":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif action == "hostile":
            parent[key] = draw(hostile_value)
        elif action == "bound" and isinstance(key, str) and key in INT_BOUNDS:
            b = INT_BOUNDS[key]
            parent[key] = draw(st.sampled_from([b.lo - 1, b.lo, b.hi, b.hi + 1, 0, -1, b.real, 10**12]))
        elif action == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = value * draw(st.sampled_from([0, -1, 0.5, 3, 1000, 10**9]))
        elif action == "nest":
            parent[key] = draw(st.sampled_from([[value], {"value": value}, [[[[value]]]], [value] * 5000]))
    return cfg


# ---------------------------------------------------------------------------------------------------------------
# Raw JSON text

raw_texts = st.one_of(
    st.text(max_size=200),
    st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 200_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(1, 60).map(lambda n: '{"config": ' + '{"text_config": ' * n + "{}" + "}" * n + "}"),
    st.integers(4000, 20_000).map(lambda n: '{"batch_size": ' + "9" * n + "}"),
    st.integers(1, 4000).map(lambda n: '{"seq_len": 1' + "0" * n + "}"),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]).map(lambda c: '{"mfu": ' + c + "}"),
    st.sampled_from(["NaN", "Infinity", "1e999"]).map(
        lambda c: '{"model": null, "config": {"model_type": "llama", "rms_norm_eps": ' + c + "}}"
    ),
    st.sampled_from(
        ["[]", "null", "1", '"x"', "true", "", "{", '{"a"', "{}}", "\ufeff{}", '{"model": "llama-3.1-8b"}x']
    ),
    requests().map(json.dumps).flatmap(lambda s: st.integers(0, len(s)).map(lambda i: s[:i])),
)


# ---------------------------------------------------------------------------------------------------------------
# Share links and stored history, decoded the way the site does (site/app/share.js, site/app/history.js)


def encode_fragment(obj: Any, compress: bool) -> str:
    raw = json.dumps(obj).encode()
    if compress:
        c = zlib.compressobj(wbits=-15)
        raw = c.compress(raw) + c.flush()
    return f"v1{'z' if compress else ''}." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_fragment(fragment: str) -> str | None:
    """The JSON text inside a fragment, or None when the site would refuse the link before the engine."""
    if not fragment.startswith(("v1.", "v1z.")) or len(fragment) > 600_000:
        return None
    body = fragment.split(".", 1)[1]
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if fragment.startswith("v1z."):
            d = zlib.decompressobj(wbits=-15)
            data = d.decompress(data, 2 * 1024 * 1024)
        return data.decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError):
        return None


@st.composite
def fragments(draw: st.DrawFn) -> str:
    obj = draw(st.one_of(requests(), st.builds(lambda c: {"model": None, "config": c}, mutated_configs())))
    frag = encode_fragment(obj, draw(st.booleans()))
    if draw(st.booleans()):  # tamper: flip, cut or splice characters
        i = draw(st.integers(0, len(frag) - 1))
        frag = (
            frag[:i] + draw(st.text(alphabet="AZaz09-_.=%", max_size=4)) + frag[i + draw(st.integers(0, 8)) :]
        )
    return frag


history_entries = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=8), st.integers()),
        "ts": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4)),
        "request": st.one_of(requests(), hostile_value),
        "summary": st.one_of(st.none(), st.dictionaries(st.text(max_size=8), hostile_scalar, max_size=3)),
    }
)
stored_history = st.one_of(
    st.fixed_dictionaries(
        {"schema": st.sampled_from([0, 1, 2, "1", None]), "entries": st.lists(history_entries)}
    ),
    st.lists(history_entries, max_size=3),  # schema 0: a bare array
)


# ---------------------------------------------------------------------------------------------------------------
# The tests


@fuzz("requests")
@given(st.sampled_from(["estimate", "quick", "report"]), requests())
def test_fuzz_requests(op: str, req: dict[str, Any]) -> None:
    check_call("requests", op, json.dumps(req))


@fuzz("configs")
@given(
    st.sampled_from(OPS),
    mutated_configs(),
    st.sampled_from(["inference", "finetune", "grpo", "multimodal"]),
    st.one_of(st.none(), st.sampled_from(GPU_IDS)),
)
def test_fuzz_configs(op: str, cfg: dict[str, Any], mode: str, gpu: str | None) -> None:
    check_call("configs", op, json.dumps({"model": None, "config": cfg, "mode": mode, "gpu": gpu}))


@fuzz("raw")
@given(
    st.one_of(
        st.sampled_from(OPS), st.sampled_from(OPS), st.sampled_from(OPS), st.text(max_size=10), st.none()
    ),
    raw_texts,
)
def test_fuzz_raw_json(op: Any, text: str) -> None:
    check_call("raw", op, text)


@fuzz("fragments")
@given(fragments())
def test_fuzz_share_fragments(fragment: str) -> None:
    text = decode_fragment(fragment)
    if text is not None:
        check_call("fragments", "report", text)


@fuzz("history")
@given(stored_history)
def test_fuzz_stored_history(store: Any) -> None:
    entries = store if isinstance(store, list) else store["entries"]
    for entry in entries:
        request = entry["request"]
        check_call("history", "quick", json.dumps(request) if not isinstance(request, str) else request)


# ---------------------------------------------------------------------------------------------------------------
# CLI: in-process main(argv) (the subprocess checks are in test_robustness.py)

FLAGS = ["--batch-size", "--seq-len", "--gen-len", "--weights", "--gpu", "--gpus", "--tp", "--mfu", "--mode",
         "--gpu-memory-utilization", "--num-layers", "--lora-rank", "--audio-seconds", "--zero", "--runtime",
         "--grad-checkpointing", "--json", "--nope", "-b", "-s"]  # fmt: skip
ARG_VALUES = st.one_of(
    st.sampled_from(["1", "0", "-1", "1e9", "nan", "inf", "-inf", "x", "", "1" * 5000, "llama-3.1-8b", "q4_k_m",
                     "h100-sxm", "vllm", "full", "--", "-", "∞", "0.0000001", "99999999999999999999"]),
    st.text(max_size=12),
)  # fmt: skip


@st.composite
def argvs(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    cmd = draw(st.sampled_from(["estimate", "report", "recommend", "inverse", "params", "models", "gpus", "schema",
                                "nope", "", "--version"]))  # fmt: skip
    argv = [cmd] if cmd else []
    if draw(st.booleans()):
        argv += ["-m", draw(st.one_of(st.sampled_from([*MODEL_IDS[:5], *files.values()]), ARG_VALUES))]
    for _ in range(draw(st.integers(0, 4))):
        argv.append(draw(st.sampled_from(FLAGS)))
        if draw(st.integers(0, 4)):
            argv.append(draw(ARG_VALUES))
    return argv


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("cli")
    files = {
        "good": {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "vocab_size": 1000},
        "no_model_type": {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000},
        "huge_layers": {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 10**12,
                        "num_attention_heads": 4, "vocab_size": 1000},
    }  # fmt: skip
    paths = {}
    for name, cfg in files.items():
        (base / f"{name}.json").write_text(json.dumps(cfg))
        paths[name] = str(base / f"{name}.json")
    (base / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (base / "nan.json").write_text('{"hidden_size": NaN}')
    (base / "bigint.json").write_text('{"hidden_size": ' + "9" * 5000 + "}")
    (base / "dir.json").mkdir()
    paths |= {n: str(base / f"{n}.json") for n in ("deep", "nan", "bigint", "dir")}
    if hasattr(os, "mkfifo"):
        os.mkfifo(base / "fifo.json")
        paths["fifo"] = str(base / "fifo.json")
    return paths


def test_fuzz_cli(cli_files: dict[str, str]) -> None:
    @fuzz("cli")
    @given(argvs(cli_files))
    def one(argv: list[str]) -> None:
        code, _out, err = run_cli(argv)
        STATS["cases"]["cli"] += 1
        assert "Traceback" not in err
        if code == 0:
            STATS["ok"]["cli"] += 1
            assert not err
        else:
            lines = err.splitlines()
            assert code == 2 and len(lines) == 1 and lines[0].startswith("vram: error: "), (argv, code, err)
            STATS["codes"]["cli: exit 2"] += 1

    one()


def test_fuzz_cli_process(cli_files: dict[str, str]) -> None:
    """The same argument lists through a real ``python -m vram_insight`` process: what a shell user sees."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "engine")}

    @fuzz("cli_process")
    @given(argvs(cli_files))
    def one(argv: list[str]) -> None:
        proc = subprocess.run([sys.executable, "-m", "vram_insight", *argv], capture_output=True, text=True,
                              timeout=60, env=env, check=False)  # fmt: skip
        STATS["cases"]["cli_process"] += 1
        assert "Traceback" not in proc.stderr
        if proc.returncode == 0:
            STATS["ok"]["cli_process"] += 1
            assert not proc.stderr
        else:
            lines = proc.stderr.splitlines()
            assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("vram: error: "), (
                argv,
                proc,
            )

    one()


# ---------------------------------------------------------------------------------------------------------------
# Deterministic sweep: every bounded key of every catalog config at its limits (and deleted)


def _sweep_cases() -> list[tuple[str, tuple[Any, ...], Any]]:
    cases = []
    for mid in MODEL_IDS:
        for path in _paths(CATALOG.models[mid].config):
            key = path[-1]
            if isinstance(key, str) and key in INT_BOUNDS:
                b = INT_BOUNDS[key]
                cases += [(mid, path, v) for v in ("delete", b.lo, b.hi, b.real, 0)]
    return cases if PROFILE == "nightly" else cases[::40]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c[0]}:{'.'.join(map(str, c[1]))}={c[2]}") for c in _sweep_cases()]
)
def test_bound_sweep(case: tuple[str, tuple[Any, ...], Any]) -> None:
    mid, path, value = case
    entry = CATALOG.models[mid]
    cfg = copy.deepcopy(entry.config)
    parent, key = _parent(cfg, path), path[-1]
    if value == "delete":
        del parent[key]
    else:
        parent[key] = [value] * len(parent[key]) if isinstance(parent[key], list) and parent[key] else value
    mode = "multimodal" if entry.kind != "text" else "inference"
    for op, extra in (("report", {"mode": mode}), ("quick", {"mode": "finetune", "method": "qlora"})):
        check_call("sweep", op, json.dumps({"model": None, "config": cfg, "gpu": "h100-sxm", **extra}))
