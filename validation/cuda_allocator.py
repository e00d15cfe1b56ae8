"""GPU protocol: what a card must hold for a full-size workload.

For each case (a calibration-style ``case`` dict on a catalog model) and each allocator setting
(``default``, ``expandable`` = ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True``), one fresh process:

1. reads the driver's device memory use before CUDA is initialised;
2. builds the random-weight model directly on the GPU (``workloads.build_model``);
3. runs the workload once without a limit: ``max_memory_allocated``, ``max_memory_reserved``, and the
   memory *outside* the allocator = what the driver says this process uses after the run minus
   ``memory_reserved()`` (per-process NVML figure when available, else the device-wide change since
   before init, both from the same source);
4. (``--limits``) finds the smallest ``set_per_process_memory_fraction`` limit under which the workload
   still runs, by probes in the same process (weights stay; everything else is freed and the cache emptied
   between probes): first the replay's prediction and 2 MiB below it, then doubling steps away from it,
   then bisection to ``--resolution``; at most ``--max-probes``.

One JSON record per (case, allocator) is appended to ``--out`` as soon as that process ends (records with
the same id and allocator are replaced); a process that times out still leaves its partial record.

Run through ``measure.py`` (``--allocator-cases``), see validation/README.md.  ``--backend simulated`` runs
the same orchestration on the CPU against ``allocator.py`` (cases then carry their own ``events``), which
is how the code paths are tested without a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

MiB = 1 << 20
GiB = 1 << 30
ALLOCATOR_CONF = {"default": None, "expandable": "expandable_segments:True"}


# ============================================================================ driver memory readings


def parse_compute_apps(csv_text: str, pid: int) -> int | None:
    """``nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits``: MiB of ``pid``."""
    for line in csv_text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0] == str(pid) and parts[1].isdigit():
            return int(parts[1]) * MiB
    return None


def parse_memory_used(csv_text: str) -> int | None:
    """``nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i N``: device-wide MiB."""
    first = csv_text.strip().splitlines()[:1]
    return int(first[0].strip()) * MiB if first and first[0].strip().isdigit() else None


def _nvidia_smi(args: list[str]) -> str | None:
    try:
        r = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


class DriverMemory:
    """Device memory as the driver sees it: NVML (pynvml) when importable, else ``nvidia-smi``."""

    def __init__(self, index: int = 0):
        self.index = index
        self._nvml = None
        with contextlib.suppress(Exception):
            import pynvml

            pynvml.nvmlInit()
            self._nvml = (pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))

    def device_used(self) -> tuple[int | None, str]:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                nv, h = self._nvml
                return int(nv.nvmlDeviceGetMemoryInfo(h).used), "nvml"
        out = _nvidia_smi(["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", str(self.index)])
        return (parse_memory_used(out), "nvidia-smi") if out else (None, "unavailable")

    def process_used(self, pid: int) -> tuple[int | None, str]:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                nv, h = self._nvml
                for p in nv.nvmlDeviceGetComputeRunningProcesses(h):
                    if p.pid == pid and p.usedGpuMemory is not None:
                        return int(p.usedGpuMemory), "nvml-process"
        out = _nvidia_smi(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
        v = parse_compute_apps(out, pid) if out else None
        return (v, "nvidia-smi-process") if v is not None else (None, "unavailable")


def outside_allocator(
    process_used: int | None, device_used_after: int | None, device_used_before: int | None, reserved: int
) -> tuple[int | None, str]:
    """Device memory this process holds outside PyTorch's allocator (CUDA context, kernel modules, library
    handles).  Preferred: the driver's per-process figure minus ``memory_reserved()``; else the device-wide
    increase since before CUDA init (same source both times) minus ``memory_reserved()``."""
    if process_used is not None:
        return process_used - reserved, "process"
    if device_used_after is not None and device_used_before is not None:
        return device_used_after - device_used_before - reserved, "device-delta"
    return None, "unavailable"


# ============================================================================ backends


class TorchCuda:
    """The real device."""

    name = "cuda"

    def __init__(self):
        self.driver = DriverMemory(0)
        self.used_before, self.used_source = self.driver.device_used()  # before this process's CUDA init
        import torch

        self.torch = torch
        torch.cuda.init()
        self.total = int(torch.cuda.mem_get_info()[1])
        self.device_name = torch.cuda.get_device_name(0)
        self.model = None

    def prepare(self, case: dict, arch_config: dict) -> None:
        import workloads

        self.model = workloads.build_model(case["case"], arch_config, "cuda")
        self.torch.cuda.synchronize()
        self.weights_allocated = int(self.torch.cuda.memory_allocated())

    def run(self, case: dict, arch_config: dict) -> None:
        import workloads

        workloads.run_workload(self.model, case["case"], arch_config, "cuda", lambda _p: None)
        self.torch.cuda.synchronize()

    def is_oom(self, exc: BaseException) -> bool:
        return isinstance(exc, self.torch.OutOfMemoryError)

    def reset(self) -> None:
        if self.model is not None:
            for p in self.model.parameters():
                p.grad = None
        gc.collect()
        self.torch.cuda.synchronize()
        self.torch.cuda.empty_cache()
        self.torch.cuda.reset_peak_memory_stats()

    def set_limit(self, nbytes: int | None) -> int | None:
        """``set_per_process_memory_fraction`` for ``nbytes``; returns the allowed maximum the allocator uses
        (``static_cast<size_t>(fraction * total)``, CUDACachingAllocator.cpp setMemoryFraction)."""
        frac = 1.0 if nbytes is None else min(1.0, (nbytes + 0.5) / self.total)
        self.torch.cuda.set_per_process_memory_fraction(frac, 0)
        return None if nbytes is None else int(frac * self.total)

    def stats(self) -> dict:
        c = self.torch.cuda
        return {
            "max_allocated_bytes": int(c.max_memory_allocated()),
            "max_reserved_bytes": int(c.max_memory_reserved()),
            "reserved_bytes": int(c.memory_reserved()),
            "allocated_bytes": int(c.memory_allocated()),
        }

    def outside(self) -> dict:
        reserved = int(self.torch.cuda.memory_reserved())
        proc, psrc = self.driver.process_used(os.getpid())
        dev, dsrc = self.driver.device_used()
        val, method = outside_allocator(proc, dev, self.used_before, reserved)
        free, total = self.torch.cuda.mem_get_info()
        return {
            "outside_allocator_bytes": val,
            "outside_method": method,
            "process_used_bytes": proc,
            "process_used_source": psrc,
            "device_used_before_init_bytes": self.used_before,
            "device_used_after_bytes": dev,
            "device_used_source": dsrc,
            "reserved_at_reading_bytes": reserved,
            "cuda_mem_get_info_used_bytes": int(total - free),
        }

    def info(self) -> dict:
        import torch

        out = {"device_name": self.device_name, "total_bytes": self.total, "torch": torch.__version__}
        for mod in ("transformers", "peft"):
            with contextlib.suppress(Exception):
                out[mod] = __import__(mod).__version__
        return out


class SimulatedDevice:
    """``allocator.py`` in place of a GPU: the workload is the case's own ``events`` list."""

    name = "simulated"

    def __init__(self):
        from allocator import AllocatorConfig, CachingAllocator

        self._cfg = AllocatorConfig(
            expandable_segments=os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "").endswith("True")
        )
        self._mk = CachingAllocator
        self.total = 80 * GiB
        self.limit: int | None = None
        self.alloc = self._mk(self._cfg)

    def prepare(self, case: dict, arch_config: dict) -> None:
        self.weights_allocated = 0

    def run(self, case: dict, arch_config: dict) -> None:
        from allocator import ALLOC, FREE

        live = {}
        for op, key, nb in case["events"]:
            if op == ALLOC and nb:
                live[key] = self.alloc.malloc(nb)
            elif op == FREE and key in live:
                self.alloc.free(live.pop(key))
        for b in live.values():  # the workload's tensors die with it
            self.alloc.free(b)

    def is_oom(self, exc: BaseException) -> bool:
        from allocator import OutOfMemory

        return isinstance(exc, OutOfMemory)

    def reset(self) -> None:
        self.alloc = self._mk(self._cfg)  # everything freed and released: a fresh allocator
        self.alloc.set_memory_limit(self.limit)

    def set_limit(self, nbytes: int | None) -> int | None:
        self.limit = nbytes
        self.alloc.set_memory_limit(nbytes)
        return nbytes

    def stats(self) -> dict:
        st = self.alloc.stats
        return {
            "max_allocated_bytes": st.max_allocated,
            "max_reserved_bytes": st.max_reserved,
            "reserved_bytes": st.reserved,
            "allocated_bytes": st.allocated,
        }

    def outside(self) -> dict:
        return {"outside_allocator_bytes": None, "outside_method": "simulated"}

    def info(self) -> dict:
        return {"device_name": "simulated", "total_bytes": self.total}


BACKENDS = {"cuda": TorchCuda, "simulated": SimulatedDevice}


# ============================================================================ the limit search


def search_limit(
    works,
    start: int,
    upper: int,
    resolution: int = 32 * MiB,
    max_probes: int = 8,
    step: int = 2 * MiB,
) -> dict:
    """Smallest limit (a multiple of ``step``) for which ``works(limit)`` is True, starting at a predicted
    ``start``; ``upper`` is a limit expected to work (the unlimited run's max reserved).

    Probes: ``start``, then ``start - step`` (is the prediction exact?); then steps of
    ``max(resolution, 1 % of start)`` doubling away from ``start`` (capped once at ``upper`` on the way
    up) until the other outcome is seen; then bisection down to ``resolution``.  Success is assumed
    monotone in the limit (as in the H200 search).  Returns ``{"min_ok", "max_fail", "probes": [[limit,
    ok], ...], "exact"}``, ``exact`` when the bracket is one ``step`` wide."""
    probes: list[list] = []
    seen: dict[int, bool] = {}

    def probe(limit: int) -> bool:
        limit = max(step, limit // step * step)
        if limit not in seen:
            seen[limit] = bool(works(limit))
            probes.append([limit, seen[limit]])
        return seen[limit]

    def bracket() -> tuple[int | None, int | None]:
        oks = [lim for lim, ok in seen.items() if ok]
        fails = [lim for lim, ok in seen.items() if not ok]
        return (min(oks) if oks else None), (max(fails) if fails else None)

    delta = max(resolution, start // 100)
    if probe(start):
        if len(probes) < max_probes:
            probe(start - step)
        k = 1
        while bracket()[1] is None and len(probes) < max_probes and bracket()[0] > step:
            probe(start - delta * k)
            k *= 2
    else:
        k, capped = 1, False
        while bracket()[0] is None and len(probes) < max_probes:
            nxt = start + delta * k
            if nxt >= upper and not capped and upper > start:
                nxt, capped = upper, True
            probe(nxt)
            k *= 2
    ok_lo, fail_hi = bracket()
    while (
        ok_lo is not None
        and fail_hi is not None
        and ok_lo - fail_hi > max(resolution, step)
        and len(probes) < max_probes
    ):
        probe((ok_lo + fail_hi) // 2)
        ok_lo, fail_hi = bracket()
    return {
        "min_ok": ok_lo,
        "max_fail": fail_hi,
        "probes": probes,
        "exact": ok_lo is not None and fail_hi is not None and ok_lo - fail_hi == step,
    }


# ============================================================================ one (case, allocator) process


def _arch_config(case: dict) -> dict | None:
    if case.get("events") is not None:
        return None
    from replay_cases import arch_config

    return arch_config(case["model"])


def child(case: dict, allocator: str, backend_name: str, args, progress_file: str) -> dict:
    rec: dict = {
        "id": case["id"],
        "model": case.get("model"),
        "case": case.get("case"),
        "allocator": allocator,
        "alloc_conf": ALLOCATOR_CONF[allocator],
        "measured_at": _dt.date.today().isoformat(),
    }

    def save():
        with open(progress_file, "w") as f:
            json.dump(rec, f)

    t0 = time.time()
    be = BACKENDS[backend_name]()
    rec.update(be.info())
    arch = _arch_config(case)
    be.prepare(case, arch)
    rec["weights_allocated_bytes"] = be.weights_allocated
    rec["seconds_setup"] = round(time.time() - t0, 1)
    be.reset()
    t1 = time.time()
    be.run(case, arch)
    rec["seconds_run"] = round(time.time() - t1, 1)
    rec.update(be.stats())
    rec.update(be.outside())
    save()
    if args.limits:
        pred = (case.get("predicted") or {}).get(allocator, {}).get("min_limit_bytes")
        rec["predicted_min_limit_bytes"] = pred

        def works(limit: int) -> bool:
            be.reset()
            be.set_limit(limit)
            try:
                be.run(case, arch)
                return True
            except Exception as exc:
                if not be.is_oom(exc):
                    raise
                return False
            finally:
                be.set_limit(None)
                be.reset()

        upper = rec["max_reserved_bytes"]
        res = search_limit(works, pred or upper, upper, args.resolution * MiB, args.max_probes)
        rec["min_allocator_limit_bytes"] = res["min_ok"]
        rec["oom_at_limit_bytes"] = res["max_fail"]
        rec["limit_probes"] = res["probes"]
        rec["limit_exact"] = res["exact"]
        save()
    rec["seconds_total"] = round(time.time() - t0, 1)
    save()
    return rec


# ============================================================================ orchestration (parent)


def _jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_cases(path: str, predictions: list[str]) -> list[dict]:
    cases = _jsonl(path)
    pred: dict = {}
    for p in predictions:
        if os.path.exists(p):
            pred.update({r["id"]: r for r in _jsonl(p)})
    for c in cases:
        if c["id"] in pred:
            c["predicted"] = {k: pred[c["id"]].get(k, {}) for k in ALLOCATOR_CONF}
    return cases


def _write_record(path: str, rec: dict) -> None:
    recs = []
    if os.path.exists(path):
        recs = _jsonl(path)
    recs = [r for r in recs if (r["id"], r.get("allocator")) != (rec["id"], rec["allocator"])] + [rec]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)


def run_all(args) -> int:
    cases = load_cases(args.allocator_cases, args.predictions)
    if args.only:
        cases = [c for c in cases if args.only in c["id"]]
    allocators = args.allocators.split(",")
    failures = 0
    t_all = time.time()
    for c in cases:
        for alloc in allocators:
            if args.budget and time.time() - t_all > args.budget:
                print(f"budget of {args.budget}s spent: stopping before {c['id']} [{alloc}]", flush=True)
                return failures
            fd, prog = tempfile.mkstemp(suffix=".json")
            os.close(fd)
            env = dict(os.environ)
            env.pop("PYTORCH_CUDA_ALLOC_CONF", None)
            if ALLOCATOR_CONF[alloc]:
                env["PYTORCH_CUDA_ALLOC_CONF"] = ALLOCATOR_CONF[alloc]
            cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(c), "--allocator", alloc]
            cmd += ["--backend", args.backend, "--progress-file", prog, "--resolution", str(args.resolution)]
            cmd += ["--max-probes", str(args.max_probes)] + (["--limits"] if args.limits else [])
            t0 = time.time()
            err = None
            try:
                p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
                if p.returncode != 0:
                    err = (p.stderr or "")[-2000:]
            except subprocess.TimeoutExpired:
                err = f"timeout after {args.timeout}s"
            rec = {"id": c["id"], "allocator": alloc}
            if os.path.getsize(prog):
                with open(prog) as f:
                    rec = json.load(f)
            os.unlink(prog)
            if err:
                rec["error"] = err
                failures += 1
            _write_record(args.out, rec)
            print(_summary(rec, time.time() - t0), flush=True)
    return failures


def _summary(rec: dict, dt: float) -> str:
    def g(k):
        v = rec.get(k)
        return f"{v / GiB:.2f}" if isinstance(v, int) else "-"

    s = f"{rec['id']} [{rec['allocator']}]: alloc {g('max_allocated_bytes')} GiB, reserved {g('max_reserved_bytes')}"
    s += f" GiB, outside {g('outside_allocator_bytes')} GiB, min limit {g('min_allocator_limit_bytes')} GiB"
    s += f" (fails at {g('oom_at_limit_bytes')}, predicted {g('predicted_min_limit_bytes')}) {dt:.0f}s"
    return s + (f"  ERROR: {rec['error'][-300:]}" if rec.get("error") else "")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--allocator-cases", help="JSON lines: id, model (catalog id), case")
    ap.add_argument(
        "--predictions",
        action="append",
        default=[],
        help="replay results (replay_cases.py output) with predicted limits; repeatable",
    )
    ap.add_argument("--allocators", default="default,expandable")
    ap.add_argument("--limits", action="store_true", help="search the smallest working limit")
    ap.add_argument("--resolution", type=int, default=32, help="limit search resolution, MiB")
    ap.add_argument("--max-probes", type=int, default=7)
    ap.add_argument("--budget", type=int, default=0, help="stop starting new processes after this many s")
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="cuda")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "cuda.jsonl"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--allocator", default="default", help=argparse.SUPPRESS)
    ap.add_argument("--progress-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(json.loads(args.child), args.allocator, args.backend, args, args.progress_file)
        return 0
    return 1 if run_all(args) else 0


if __name__ == "__main__":
    sys.exit(main())
