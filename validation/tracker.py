"""Live tensor-bytes tracker built on ``TorchDispatchMode``.

What it counts
--------------
Every distinct *untyped storage* is counted once, by its ``nbytes``, from the moment the tracker
first sees it until the storage is freed (``weakref.finalize`` on the storage object; PyTorch keeps
one Python storage object per ``StorageImpl`` so the finalizer fires exactly when the memory is
released).  Storages are seen

* at start, through :meth:`MemoryTracker.register` (parameters, buffers, inputs, optimizer state,
  reference-model parameters, ...) and, optionally, a ``gc`` scan of every other live tensor
  (tag ``preexisting_other``);
* as the outputs of every ATen op dispatched while the tracker is active (forward, autograd
  backward, optimizer, generation loop ...);
* as inputs of an op if they were never seen before ("late registered", e.g. ``torch.tensor``
  constants that enter through ``lift_fresh``).

Views share their base's storage and are therefore counted once; in-place ops return an existing
storage and add nothing; an op that resizes an existing storage (``out=``, ``resize_``) has its
growth accounted.  The running total is exactly what ``torch.cuda.memory_allocated`` would report
for the same code on a GPU, minus allocator rounding and minus buffers that kernels allocate
internally and free before returning (those never become tensors visible to Python).

Tags
----
Static tags come from :meth:`register`.  Dynamic tags are re-evaluated each time a new peak is
reached (and at the end) through callables added with :meth:`add_dynamic`: gradients
(``p.grad`` of trainable parameters, which autograd *steals* from a backward op output, so the same
storage is first an activation and becomes a gradient when ``AccumulateGrad`` runs) and the KV cache
(the ``DynamicCache`` tensors, re-created by ``torch.cat`` at every decode step).  Everything else is
``activations_other``.

Phases are set by the caller (:meth:`set_phase`); the tracker records the peak of every phase, the
phase/op/op-index at the global peak, the breakdown by tag at the peak and the largest activation
groups alive at the peak.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

CATEGORIES = (
    "parameters",
    "ref_parameters",
    "buffers",
    "gradients",
    "optimizer_state",
    "kv_cache",
    "inputs",
    "preexisting_other",
    "activations_other",
)

# dynamic tags take precedence over static ones (a storage may be stolen by autograd to become p.grad)
_DYNAMIC_PRIORITY = ("gradients", "kv_cache")

_ATTN_HINTS = ("softmax", "scaled_dot_product", "flash", "efficient_attention", "cudnn_attention")


def _storage_of(t: torch.Tensor):
    try:
        return t.untyped_storage()
    except Exception:  # sparse / nested / tensors without storage
        return None


class _Entry:
    __slots__ = ("dtype", "late", "nbytes", "op", "op_index", "phase", "shape", "tag")

    def __init__(self, nbytes, tag, op, shape, dtype, phase, op_index, late=False):
        self.nbytes = nbytes
        self.tag = tag
        self.op = op
        self.shape = shape
        self.dtype = dtype
        self.phase = phase
        self.op_index = op_index
        self.late = late


class MemoryTracker(TorchDispatchMode):
    """Track live tensor bytes on one device type ("cpu" or "cuda")."""

    def __init__(self, device: str = "cpu", top_k: int = 12, scan_preexisting: bool = True):
        super().__init__()
        self.device_type = torch.device(device).type
        self.top_k = top_k
        self.scan_preexisting = scan_preexisting
        self.live: dict[int, _Entry] = {}
        self._dynamic: list[tuple[str, Callable[[], Iterable[torch.Tensor]]]] = []
        self.current = 0
        self.peak = 0
        self.baseline = 0
        self.phase = "init"
        self.phase_peaks: dict[str, int] = {}
        self.op_index = 0
        self.n_late = 0
        self.peak_where = {"op": None, "phase": None, "op_index": None}
        self._peak_snapshot: list[tuple[int, _Entry]] = []
        self._peak_dynamic: dict[int, str] = {}
        self.attention_ops: set[str] = set()
        self.active = False
        self.end_bytes = None
        self.phase_seconds: dict[str, float] = {}
        self.on_phase: Callable[[str], None] | None = None  # e.g. a profiler marker
        self._phase_t0 = None

    # ------------------------------------------------------------------ registration
    def register(self, tensors, tag: str) -> int:
        """Count these tensors' storages now (if not yet seen) under ``tag``; returns bytes added."""
        if isinstance(tensors, torch.Tensor):
            tensors = [tensors]
        added = 0
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            added += self._add(t, op="registered:" + tag, tag=tag, force_tag=True)
        self._check_peak("register")
        return added

    def register_optimizer(self, optimizer, tag: str = "optimizer_state") -> int:
        tensors = []
        for state in optimizer.state.values():
            for v in state.values():
                if isinstance(v, torch.Tensor):
                    tensors.append(v)
        return self.register(tensors, tag)

    def add_dynamic(self, tag: str, fn: Callable[[], Iterable[torch.Tensor]]) -> None:
        """``fn()`` yields the tensors that currently carry ``tag`` (evaluated at each new peak)."""
        self._dynamic.append((tag, fn))

    def set_phase(self, phase: str) -> None:
        now = time.perf_counter()
        if self._phase_t0 is not None and self.phase != phase:
            self.phase_seconds[self.phase] = self.phase_seconds.get(self.phase, 0.0) + now - self._phase_t0
            self._phase_t0 = now
        self.phase = phase
        if self.on_phase is not None:
            self.on_phase(phase)
        if self.current > self.phase_peaks.get(phase, -1):
            self.phase_peaks[phase] = self.current

    # ------------------------------------------------------------------ core accounting
    def _add(
        self, t: torch.Tensor, op: str, tag: str = "activations_other", force_tag=False, late=False
    ) -> int:
        if t.device.type != self.device_type:
            return 0
        st = _storage_of(t)
        if st is None:
            return 0
        key = st._cdata
        e = self.live.get(key)
        if e is not None:
            nb = st.nbytes()
            if nb != e.nbytes:  # resized in place (out=, resize_, set_)
                self.current += nb - e.nbytes
                e.nbytes = nb
            if force_tag:
                e.tag = tag
            return 0
        nb = st.nbytes()
        e = _Entry(
            nb, tag, op, tuple(t.shape), str(t.dtype).replace("torch.", ""), self.phase, self.op_index, late
        )
        self.live[key] = e
        self.current += nb
        f = weakref.finalize(st, self._on_free, key, e)
        f.atexit = False
        return nb

    def _on_free(self, key: int, entry: _Entry) -> None:
        if self.live.get(key) is entry:
            del self.live[key]
            self.current -= entry.nbytes

    def _dynamic_tags(self) -> dict[int, str]:
        out: dict[int, str] = {}
        # non-priority dynamic tags first, gradients / KV cache last so they win
        for tag, fn in sorted(self._dynamic, key=lambda x: x[0] in _DYNAMIC_PRIORITY):
            try:
                tensors = list(fn())
            except Exception:
                continue
            for t in tensors:
                if isinstance(t, torch.Tensor):
                    st = _storage_of(t)
                    if st is not None:
                        out[st._cdata] = tag
        return out

    def _check_peak(self, op_name: str) -> None:
        cur = self.current
        if cur > self.phase_peaks.get(self.phase, -1):
            self.phase_peaks[self.phase] = cur
        if cur > self.peak:
            self.peak = cur
            self.peak_where = {"op": op_name, "phase": self.phase, "op_index": self.op_index}
            self._peak_snapshot = list(self.live.items())
            self._peak_dynamic = self._dynamic_tags()

    # ------------------------------------------------------------------ dispatch
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        flat_in, _ = tree_flatten((args, kwargs))
        for t in flat_in:
            if isinstance(t, torch.Tensor) and t.device.type == self.device_type:
                st = _storage_of(t)
                if st is not None and st._cdata not in self.live:
                    self.n_late += 1
                    self._add(t, op="input-of:" + name, late=True)
        out = func(*args, **kwargs)
        self.op_index += 1
        if any(h in name for h in _ATTN_HINTS):
            self.attention_ops.add(name)
        flat_out, _ = tree_flatten(out)
        for t in flat_out:
            if isinstance(t, torch.Tensor):
                self._add(t, op=name)
        self._check_peak(name)
        return out

    # ------------------------------------------------------------------ enter / exit
    def __enter__(self):
        if self.scan_preexisting:
            for obj in gc.get_objects():
                try:
                    if issubclass(type(obj), torch.Tensor):  # type(): no __class__ proxies triggered
                        self._add(obj, op="preexisting", tag="preexisting_other")
                except Exception:
                    pass
        self.baseline = self.current
        self.peak = self.current
        self.phase_peaks[self.phase] = max(self.phase_peaks.get(self.phase, 0), self.current)
        self._peak_snapshot = list(self.live.items())
        self._peak_dynamic = self._dynamic_tags()
        self.peak_where = {"op": "baseline", "phase": self.phase, "op_index": 0}
        self.active = True
        self._phase_t0 = time.perf_counter()
        return super().__enter__()

    def __exit__(self, *exc):
        r = super().__exit__(*exc)
        self.active = False
        self.end_bytes = self.current
        if self._phase_t0 is not None:
            now = time.perf_counter()
            self.phase_seconds[self.phase] = self.phase_seconds.get(self.phase, 0.0) + now - self._phase_t0
            self._phase_t0 = None
        return r

    # ------------------------------------------------------------------ results
    def _classify(self, items, dyn) -> tuple[dict, list]:
        breakdown = {c: 0 for c in CATEGORIES}
        groups: dict[tuple, list] = defaultdict(lambda: [0, 0])
        for key, e in items:
            tag = dyn.get(key, e.tag)
            if tag not in breakdown:
                breakdown[tag] = 0
            breakdown[tag] += e.nbytes
            if tag == "activations_other":
                g = groups[(e.op, e.shape, e.dtype)]
                g[0] += 1
                g[1] += e.nbytes
        top = sorted(groups.items(), key=lambda kv: -kv[1][1])[: self.top_k]
        top_list = [
            {"op": op, "shape": list(shape), "dtype": dtype, "count": c, "bytes": b}
            for (op, shape, dtype), (c, b) in top
        ]
        return breakdown, top_list

    def bytes_by_tag_now(self) -> dict:
        return self._classify(list(self.live.items()), self._dynamic_tags())[0]

    def summary(self) -> dict:
        breakdown, top = self._classify(self._peak_snapshot, self._peak_dynamic)
        return {
            "peak_bytes": self.peak,
            "breakdown_at_peak": breakdown,
            "peak_where": dict(self.peak_where),
            "phase_peaks_bytes": dict(self.phase_peaks),
            "baseline_bytes": self.baseline,
            "end_bytes": self.end_bytes if self.end_bytes is not None else self.current,
            "top_activations_at_peak": top,
            "attention_ops_seen": sorted(self.attention_ops),
            "n_ops": self.op_index,
            "n_late_registered": self.n_late,
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
        }
