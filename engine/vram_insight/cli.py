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

from .cli_args import HF_OPTIM_NAMES, add_workload_args
from .cli_text import fmt_bytes, print_estimate, print_left_out, print_platform_fit, print_recommendations

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


_SKIP = {"json", "command", "func", "model", "optim"}

# Options only one runtime reads (cli_args: the llama.cpp group and the vLLM flags). Given with another runtime
# they would change nothing, and the answer would be for a setup the user did not mean: say so instead.
_RUNTIME_ONLY = {
    "llama.cpp": ("gpu_layers", "ubatch_size", "parallel", "kv_unified", "no_kv_offload", "llama_cpp_build",
                  "cpu_bandwidth_gbps", "ollama_gpu_overhead"),
    "vllm": ("gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill",
             "enforce_eager", "block_size"),
}  # fmt: skip


def _check_runtime_options(args: argparse.Namespace, req: Any) -> None:
    """Refuse a runtime's own option when the request runs on another runtime (or trains)."""
    from .estimate import runtime_for_weights

    effective, _ = runtime_for_weights(req)
    inference = req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")
    runtime = effective.runtime if inference else None
    for owner, dests in _RUNTIME_ONLY.items():
        given = [d for d in dests if getattr(args, d, None) is not None]
        if given and runtime != owner:
            where = f"--runtime {runtime}" if runtime else f"--mode {req.mode}"
            name = {"llama.cpp": "llama.cpp", "vllm": "vLLM"}[owner]
            raise CliError(f"{_flag_for(given[0])} is a {name} option: it changes nothing with {where} "
                           f"(add --runtime {owner} for an inference on {name})")  # fmt: skip


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
    req = EstimateRequest.model_validate(data)
    _check_runtime_options(args, req)
    return req


def cmd_estimate(args: argparse.Namespace) -> int:
    from .estimate import estimate

    res = estimate(_request(args))
    if args.json:
        print(res.model_dump_json(indent=2))
    else:
        print_estimate(res)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .planning import report

    rep = report(_request(args))
    if args.json:
        print(rep.model_dump_json(indent=2))
        return 0
    print_estimate(rep.estimate)
    if rep.fit:
        f = rep.fit
        budget = " vLLM's budget," if rep.estimate.details.get("vllm") else ""
        print(
            f"  fit on {f.gpu_name}: {'fits' if f.fits else 'does NOT fit'} ({f.utilization:.0%} of{budget} {fmt_bytes(f.capacity_bytes)})"
        )
        print_platform_fit(f)
    print_recommendations(rep.recommendations)
    print_left_out(rep.left_out)
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


def cmd_recommend(args: argparse.Namespace) -> int:
    from .planning import left_out, recommend

    req = _request(args)
    recs = recommend(req, limit=12)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in recs], indent=2))
    else:
        print_recommendations(recs)
        print_left_out(left_out(req))
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
        add_workload_args(p)
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


def _flag_for(field: str) -> str:
    """The long option that sets a request field (``cpu_bandwidth_gbps`` → ``--cpu-bandwidth``)."""
    workload = argparse.ArgumentParser(add_help=False)
    add_workload_args(workload)
    for action in workload._actions:  # argparse keeps its options there
        if action.dest == field and action.option_strings:
            return next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])
    return "--" + field.replace("_", "-")


def _cli_text(err: Any) -> str:
    """An engine error as the CLI says it: request fields by their flag (``--batch-size``), config keys as is."""
    from .messages import TEMPLATES, render

    message = err.message
    field = message.params.get("field")
    if isinstance(field, str) and field == err.field and field.isidentifier():
        return render(TEMPLATES[message.code], {**message.params, "field": _flag_for(field)})
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
