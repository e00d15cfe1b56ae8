"""CPU checks of the GPU protocol (validation/cuda_allocator.py): driver readings, the limit search, and
the whole orchestration against the simulated device (allocator.py instead of a GPU).
Run: python -m pytest validation/test_cuda_allocator.py"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_allocator as ca
from allocator import ALLOC, FREE

MiB = 1 << 20


def test_parse_nvidia_smi_outputs():
    apps = "1234, 812\n999, 40\n"
    assert ca.parse_compute_apps(apps, 999) == 40 * MiB
    assert ca.parse_compute_apps(apps, 1234) == 812 * MiB
    assert ca.parse_compute_apps(apps, 5) is None
    assert ca.parse_compute_apps("1234, [N/A]\n", 1234) is None  # containers may hide per-process use
    assert ca.parse_memory_used("81559\n") == 81559 * MiB
    assert ca.parse_memory_used("") is None


def test_outside_allocator_prefers_per_process_reading():
    # process holds 20 GiB + 750 MiB, PyTorch reserved 20 GiB -> 750 MiB outside
    v, how = ca.outside_allocator(20 * 1024 * MiB + 750 * MiB, None, None, 20 * 1024 * MiB)
    assert (v, how) == (750 * MiB, "process")
    # device-wide: 500 MiB used before init (other processes, driver), 21000 MiB after, 20000 reserved
    v, how = ca.outside_allocator(None, 21000 * MiB, 500 * MiB, 20000 * MiB)
    assert (v, how) == (500 * MiB, "device-delta")
    assert ca.outside_allocator(None, None, 500 * MiB, 1)[1] == "unavailable"


def _threshold(t):
    calls = []

    def works(limit):
        calls.append(limit)
        return limit >= t

    return works, calls


def test_search_exact_prediction_takes_two_probes():
    works, calls = _threshold(1000 * MiB)
    r = ca.search_limit(works, 1000 * MiB, 2000 * MiB)
    assert calls == [1000 * MiB, 998 * MiB]
    assert (r["min_ok"], r["max_fail"], r["exact"]) == (1000 * MiB, 998 * MiB, True)


def test_search_prediction_too_low_walks_up_then_bisects():
    # threshold 1100 MiB, prediction 1000, resolution 32: probe 1000 (fail), 1032 (fail), 1064 (fail),
    # 1128 (ok), then bisection 1096 (fail) -> bracket (1096, 1128] = 32 MiB wide: stop
    works, calls = _threshold(1100 * MiB)
    r = ca.search_limit(works, 1000 * MiB, 4000 * MiB, resolution=32 * MiB, max_probes=10)
    assert [c // MiB for c in calls] == [1000, 1032, 1064, 1128, 1096]
    assert (r["min_ok"], r["max_fail"]) == (1128 * MiB, 1096 * MiB)


def test_search_prediction_too_high_walks_down():
    # threshold 900 MiB, prediction 1000: 1000 ok, 998 ok, 968 ok, 936 ok, 872 fail, bisect 904 ok
    works, calls = _threshold(900 * MiB)
    r = ca.search_limit(works, 1000 * MiB, 4000 * MiB, resolution=32 * MiB, max_probes=10)
    assert [c // MiB for c in calls] == [1000, 998, 968, 936, 872, 904]
    assert (r["min_ok"], r["max_fail"]) == (904 * MiB, 872 * MiB)


def test_search_respects_probe_budget():
    works, calls = _threshold(3000 * MiB)
    r = ca.search_limit(works, 1000 * MiB, 2000 * MiB, resolution=32 * MiB, max_probes=3)
    assert len(calls) == 3 and r["min_ok"] is None  # 1000, 1032, 1064: still failing, budget spent


GROWTH = [12, 14, 16, 18, 20]  # the pattern of test_allocator.py: min limit 38 MiB (36 fails)


def _growth_events():
    ev = []
    for i, s in enumerate(GROWTH):
        ev.append([ALLOC, i, s * MiB])
        if i:
            ev.append([FREE, i - 1, 0])
    return ev


def test_orchestration_with_simulated_device(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps({"id": "growth", "events": _growth_events()})
        + "\n"
        + json.dumps({"id": "broken", "events": [[ALLOC, 0, -5]]})
        + "\n"
    )
    pred = tmp_path / "pred.jsonl"  # a prediction 6 MiB too high: the search walks down to it
    pred.write_text(json.dumps({"id": "growth", "default": {"min_limit_bytes": 44 * MiB}}) + "\n")
    out = tmp_path / "cuda-sim.jsonl"
    rc = ca.main(
        [
            "--backend", "simulated", "--allocator-cases", str(cases), "--predictions", str(pred),
            "--out", str(out), "--limits", "--resolution", "2", "--max-probes", "12",
        ]
    )  # fmt: skip
    assert rc == 1  # the broken case failed
    recs = {(r["id"], r["allocator"]): r for r in map(json.loads, out.read_text().splitlines())}
    assert set(recs) == {
        ("growth", "default"),
        ("growth", "expandable"),
        ("broken", "default"),
        ("broken", "expandable"),
    }
    d = recs[("growth", "default")]
    # hand-derived in test_allocator.py: unlimited default reserves 80 MiB, allocates 38 MiB at most;
    # the smallest working limit is 38 MiB and 36 MiB fails
    assert (d["max_reserved_bytes"], d["max_allocated_bytes"]) == (80 * MiB, 38 * MiB)
    assert (d["min_allocator_limit_bytes"], d["oom_at_limit_bytes"], d["limit_exact"]) == (
        38 * MiB,
        36 * MiB,
        True,
    )
    assert d["predicted_min_limit_bytes"] == 44 * MiB and d["limit_probes"][0] == [44 * MiB, True]
    assert recs[("growth", "expandable")]["max_reserved_bytes"] == 60 * MiB  # also test_allocator.py
    assert "error" in recs[("broken", "default")]


class _FakeCuda:
    """The slice of ``torch.cuda`` that TorchCuda uses, backed by allocator.py (a 'GPU' of 80 GiB whose
    CUDA context takes 700 MiB)."""

    def __init__(self):
        from allocator import CachingAllocator

        self.alloc = CachingAllocator()
        self.total = 80 * 1024 * MiB
        self.context = 700 * MiB
        self.fractions = []

    def init(self):
        pass

    def mem_get_info(self):
        return self.total - self.context - self.alloc.stats.reserved, self.total

    def get_device_name(self, i=0):
        return "Fake GPU"

    def synchronize(self):
        pass

    def empty_cache(self):
        self.alloc.empty_cache()

    def reset_peak_memory_stats(self):
        self.alloc.reset_peak_stats()

    def set_per_process_memory_fraction(self, f, device=0):
        self.fractions.append(f)
        self.alloc.set_memory_limit(int(f * self.total))  # CUDACachingAllocator.cpp setMemoryFraction

    def max_memory_allocated(self):
        return self.alloc.stats.max_allocated

    def max_memory_reserved(self):
        return self.alloc.stats.max_reserved

    def memory_reserved(self):
        return self.alloc.stats.reserved

    def memory_allocated(self):
        return self.alloc.stats.allocated


def test_torch_cuda_backend_against_a_fake_cuda_layer(monkeypatch, tmp_path):
    import types

    from allocator import OutOfMemory

    fake = types.SimpleNamespace(cuda=_FakeCuda(), OutOfMemoryError=OutOfMemory, __version__="fake")
    monkeypatch.setitem(sys.modules, "torch", fake)
    import workloads

    def run(model, case, arch, device, phase):  # the workload: the growth pattern on the fake device
        live = {}
        try:
            for op, key, nb in _growth_events():
                if op == ALLOC:
                    live[key] = fake.cuda.alloc.malloc(nb)
                else:
                    fake.cuda.alloc.free(live.pop(key))
        finally:  # tensors die with the workload's frames, after an OOM too
            for b in live.values():
                fake.cuda.alloc.free(b)

    monkeypatch.setattr(
        workloads, "build_model", lambda case, arch, device: types.SimpleNamespace(parameters=list)
    )
    monkeypatch.setattr(workloads, "run_workload", run)
    monkeypatch.setattr(ca, "_arch_config", lambda case: {})
    # nvidia-smi: 300 MiB in use before init; afterwards the process holds its reserved memory + context
    smi = {"before": "300\n"}

    def fake_smi(args):
        if args[0].startswith("--query-gpu"):
            return smi["before"]
        used = (fake.cuda.alloc.stats.reserved + fake.cuda.context) // MiB
        return f"{os.getpid()}, {used}\n"

    monkeypatch.setattr(ca, "_nvidia_smi", fake_smi)
    args = types.SimpleNamespace(limits=True, resolution=2, max_probes=12)
    rec = ca.child(
        {"id": "growth", "model": "m", "case": {"mode": "train"}},
        "default",
        "cuda",
        args,
        str(tmp_path / "p.json"),
    )
    assert rec["device_name"] == "Fake GPU" and rec["total_bytes"] == 80 * 1024 * MiB
    assert (rec["max_allocated_bytes"], rec["max_reserved_bytes"]) == (38 * MiB, 80 * MiB)
    # outside = process figure (reserved 80 MiB + 700 MiB context) - reserved = the context
    assert (rec["outside_allocator_bytes"], rec["outside_method"]) == (700 * MiB, "process")
    assert rec["device_used_before_init_bytes"] == 300 * MiB
    # the limit search through set_per_process_memory_fraction: the allowed maximum is exactly the limit
    assert (rec["min_allocator_limit_bytes"], rec["oom_at_limit_bytes"]) == (38 * MiB, 36 * MiB)
    assert fake.cuda.fractions[-1] == 1.0  # the limit is lifted after each probe
    assert json.loads((tmp_path / "p.json").read_text())["min_allocator_limit_bytes"] == 38 * MiB


def test_measure_py_dispatches_the_allocator_protocol(tmp_path):
    import measure

    cases = tmp_path / "c.jsonl"
    cases.write_text(json.dumps({"id": "growth", "events": _growth_events()}) + "\n")
    out = tmp_path / "o.jsonl"
    rc = measure.main(
        [
            "--allocator-cases",
            str(cases),
            "--backend",
            "simulated",
            "--allocators",
            "default",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["allocator"] == "default" and rec["max_reserved_bytes"] == 80 * MiB
    assert (
        measure.main(["--allocator-cases", str(cases), "--out", str(out)]) == 2
    )  # a GPU needs --device cuda
