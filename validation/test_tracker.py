"""Hand-computable checks of validation/tracker.py (run: python -m pytest validation/test_tracker.py)."""

import gc
import os
import sys

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tracker import MemoryTracker  # noqa: E402


def fresh():
    gc.collect()
    return MemoryTracker(device="cpu", scan_preexisting=False)


def test_allocate_known_tensor():
    tr = fresh()
    with tr:
        x = torch.empty(1000, dtype=torch.float32)
        assert tr.current - tr.baseline == 4000
    s = tr.summary()
    assert s["peak_bytes"] - s["baseline_bytes"] == 4000
    assert s["peak_where"]["op"] == "empty.memory_format"
    assert s["breakdown_at_peak"]["activations_other"] == 4000
    del x


def test_baseline_counts_registered_tensors():
    tr = fresh()
    a = torch.zeros(10, 10)  # 400 B
    w = torch.nn.Parameter(torch.zeros(5, 4, dtype=torch.bfloat16))  # 40 B
    tr.register([a], "inputs")
    tr.register([w], "parameters")
    with tr:
        pass
    s = tr.summary()
    assert s["baseline_bytes"] == 440
    assert s["peak_bytes"] == 440
    assert s["breakdown_at_peak"]["inputs"] == 400
    assert s["breakdown_at_peak"]["parameters"] == 40


def test_matmul_output():
    tr = fresh()
    a = torch.randn(64, 128)
    b = torch.randn(128, 32)
    tr.register([a, b], "inputs")
    with tr:
        c = a @ b
    s = tr.summary()
    assert s["baseline_bytes"] == (64 * 128 + 128 * 32) * 4
    assert s["peak_bytes"] - s["baseline_bytes"] == 64 * 32 * 4
    assert s["top_activations_at_peak"][0] == {
        "op": "mm.default",
        "shape": [64, 32],
        "dtype": "float32",
        "count": 1,
        "bytes": 8192,
    }
    assert c.shape == (64, 32)


def test_free_releases_and_peak_stays():
    tr = fresh()
    with tr:
        x = torch.ones(1000)  # 4000 B
        del x
        assert tr.current == tr.baseline
        y = torch.ones(250)  # 1000 B, reuses nothing in the accounting
    s = tr.summary()
    assert s["peak_bytes"] - s["baseline_bytes"] == 4000
    assert s["end_bytes"] - s["baseline_bytes"] == 1000
    del y


def test_view_shares_storage_counted_once():
    tr = fresh()
    with tr:
        x = torch.ones(100, 100)
        v = x.view(-1)
        t = x[10:]
        u = x.t()
        assert tr.current - tr.baseline == 40000
        del x, v
        assert tr.current - tr.baseline == 40000  # still alive through t, u
        del t, u
        assert tr.current == tr.baseline
    assert tr.summary()["peak_bytes"] - tr.baseline == 40000


def test_inplace_op_counts_zero():
    tr = fresh()
    x = torch.ones(1000)
    tr.register(x, "inputs")
    with tr:
        x.add_(1)
        x.mul_(2)
        torch.relu_(x)
    s = tr.summary()
    assert s["peak_bytes"] == s["baseline_bytes"] == 4000
    assert s["n_ops"] == 3


def test_resize_is_accounted():
    tr = fresh()
    with tr:
        x = torch.empty(0)
        x.resize_(100)
        assert tr.current - tr.baseline == 400
    del x


def test_late_registered_input():
    tr = fresh()
    x = torch.ones(50)  # never registered, no gc scan
    with tr:
        y = x + 1
    s = tr.summary()
    assert s["n_late_registered"] == 1
    assert s["peak_bytes"] - s["baseline_bytes"] == 400  # x (late) + y
    ops = {a["op"] for a in s["top_activations_at_peak"]}
    assert "input-of:add.Tensor" in ops and "add.Tensor" in ops
    del y


def test_preexisting_scan():
    gc.collect()
    x = torch.ones(321, dtype=torch.float64)
    tr = MemoryTracker(device="cpu", scan_preexisting=True)
    with tr:
        pass
    assert tr.summary()["breakdown_at_peak"]["preexisting_other"] >= 321 * 8
    del x


def test_gradients_and_phases():
    tr = fresh()
    w = torch.nn.Parameter(torch.randn(32, 16))  # 2048 B
    x = torch.randn(8, 32)  # 1024 B
    tr.register([w], "parameters")
    tr.register([x], "inputs")
    tr.add_dynamic("gradients", lambda: [p.grad for p in [w] if p.grad is not None])
    with tr:
        tr.set_phase("forward")
        y = x @ w  # [8,16] 512 B, saved x is an input already counted
        loss = y.sum()  # 4 B
        tr.set_phase("backward")
        loss.backward()
        tr.set_phase("done")
        del y, loss
        assert tr.bytes_by_tag_now()["gradients"] == 2048
        w.grad = None
    s = tr.summary()
    assert s["baseline_bytes"] == 3072
    assert s["phase_peaks_bytes"]["forward"] == 3072 + 512 + 4
    # backward: ones_like grad (4), expand is a view, mm for grad_w (2048) -> peak while y, loss alive
    assert s["peak_bytes"] == 3072 + 512 + 4 + 4 + 2048
    assert s["peak_where"]["phase"] == "backward"
    assert s["end_bytes"] == 3072


def test_kv_like_dynamic_tag_wins_over_activation():
    tr = fresh()
    holder = {}
    tr.add_dynamic("kv_cache", lambda: [holder["k"]] if "k" in holder else [])
    with tr:
        holder["k"] = torch.zeros(256)  # 1024 B
        z = torch.zeros(10)
    s = tr.summary()
    assert s["breakdown_at_peak"]["kv_cache"] == 1024
    assert s["breakdown_at_peak"]["activations_other"] == 40
    del z
