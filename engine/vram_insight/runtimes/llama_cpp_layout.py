"""llama.cpp: which device holds each layer's weights and KV cache, and what stays in system RAM.

Mirrors ``src/llama-model.cpp`` ``load_tensors`` (the ``-ngl`` rule, ``dev_input``/``dev_layer``/``dev_output``, the
split over GPUs) and ``src/llama-kv-cache.cpp`` / ``llama-kv-cache-iswa.cpp`` (the KV cache follows the layer's
device; sliding-window layers keep a smaller cache). Devices are numbered 0..n-1 for GPUs; ``CPU`` is -1.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

from ..arch import ArchSpec, LayerSpec
from ..kv import kv_elements_per_token
from ..quant import GgufLayout, kv_dtype_bits

CPU = -1
KV_PAD = 256  # src/llama-context.cpp: cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256) (and n_ctx_seq)
LEGACY_KV_PAD_NO_FA = 32  # 2024–2025 builds: llama_kv_cache_get_padding() = flash_attn ? 256 : 32
# Architectures llama.cpp runs with a sliding-window (or chunked) KV cache (src/models/*.cpp set swa_type);
# Mistral/Mixtral GGUFs load as LLM_ARCH_LLAMA without one, Phi-3 has it disabled (src/models/phi3.cpp).
SWA_MODEL_TYPES = ("gemma2", "gemma3", "gemma3_text", "gpt_oss", "llama4", "llama4_text", "cohere2")


def _f32(x: float) -> float:
    """Round to float32 as llama.cpp's ``std::vector<float> splits`` and its layer fraction do."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def pad(n: int, to: int) -> int:
    """GGML_PAD: round ``n`` up to a multiple of ``to``."""
    return -(-n // to) * to


@dataclass(frozen=True)
class Placement:
    """Device of each repeating layer and of the output layer (CPU or a GPU index)."""

    layer_device: tuple[int, ...]
    output_device: int
    gpu_layers: int  # slots on GPUs (repeating + output), llama.cpp's "offloaded N/L+1"

    def layers_on(self, device: int) -> list[int]:
        return [i for i, d in enumerate(self.layer_device) if d == device]


def place_layers(n_layer: int, gpu_layers: int, n_gpus: int, build: str) -> Placement:
    """llama.cpp's ``-ngl`` rule (src/llama-model.cpp ``load_tensors``).

    Current builds (PR #18148, Dec 2025, "offload output layer to GPU first"): there are ``n_layer + 1`` slots,
    the output layer is slot ``n_layer`` and ``i_gpu_start = max(n_layer + 1 - ngl, 0)``: ``-ngl N`` puts the output
    layer and the last N-1 repeating layers on the GPU. Older builds: ``i_gpu_start = max(n_layer - ngl, 0)``, so
    the last N repeating layers go first and the output layer only when N > n_layer. In both, slot ``il`` is on a
    GPU when ``il >= i_gpu_start`` and ``il - i_gpu_start < act_gpu_layers = min(ngl, n_layer + 1)``; across GPUs
    the slot goes to ``upper_bound(splits, (il - i_gpu_start) / act_gpu_layers)`` with ``splits`` the cumulative
    share of each GPU (equal shares here: llama.cpp splits by free memory, equal for identical idle cards).
    """
    act = min(gpu_layers, n_layer + 1) if n_gpus else 0
    start = max(n_layer + 1 - gpu_layers, 0) if build == "current" else max(n_layer - gpu_layers, 0)
    splits = [_f32(_f32(float(i + 1)) / _f32(float(n_gpus))) for i in range(n_gpus)]

    def device(il: int) -> int:
        if il < start or il - start >= act:
            return CPU
        if n_gpus == 1:
            return 0
        x = _f32(_f32(float(il - start)) / _f32(float(act)))
        return next((g for g, s in enumerate(splits) if s > x), n_gpus - 1)

    layers = tuple(device(il) for il in range(n_layer))
    out = device(n_layer)
    on_gpu = sum(d != CPU for d in layers) + (out != CPU)
    return Placement(layers, out, on_gpu)


@dataclass(frozen=True)
class KvSpec:
    """The KV cache llama.cpp creates: cells per stream, streams, cache type, and which layers use SWA."""

    n_ctx: int  # total cells of a full-attention layer over all streams
    n_ctx_seq: int  # cells one slot (stream) sees
    n_stream: int
    swa_cells: int  # cells of a sliding-window layer per stream (0: no SWA cache)
    bits: Fraction  # per element (K and V share the request's one cache type)


def kv_spec(a: ArchSpec, seq_len: int, slots: int, unified: bool, ubatch: int, kv_type: str, flash: bool,
            build: str) -> KvSpec:  # fmt: skip
    """Context and cache sizes (src/llama-context.cpp constructor, llama-kv-cache-iswa.cpp).

    ``n_ctx = GGML_PAD(n_ctx, 256)``; without ``--kv-unified`` each of the ``--parallel`` slots gets its own
    stream of ``n_ctx_seq = GGML_PAD(n_ctx / n_seq_max, 256)`` cells and ``n_ctx = n_ctx_seq * n_seq_max``; unified,
    one stream of ``n_ctx`` cells is shared. Builds before December 2025 kept one unified cache (padded to 256
    with flash attention, 32 without). SWA layers: ``GGML_PAD(min(n_ctx_seq, n_swa * (unified ? n_seq_max : 1)
    + n_ubatch), 256)`` cells per stream.
    """
    if build == "current":
        n_ctx = pad(seq_len, KV_PAD)
        if unified or slots == 1:
            n_ctx_seq, n_stream = n_ctx, 1
        else:
            n_ctx_seq = pad(n_ctx // slots, KV_PAD)
            n_stream = slots
            n_ctx = n_ctx_seq * slots
    else:
        n_ctx = pad(seq_len, KV_PAD if flash else LEGACY_KV_PAD_NO_FA)
        n_ctx_seq, n_stream, unified = n_ctx, 1, True
    window = max((layer.window or 0) for layer in a.layers)
    swa = 0
    if a.model_type in SWA_MODEL_TYPES and window:
        swa = pad(min(n_ctx_seq, window * (slots if unified else 1) + ubatch), KV_PAD)
    return KvSpec(
        n_ctx, n_ctx_seq, n_stream, swa, kv_dtype_bits({"f32": "fp32", "f16": "fp16"}.get(kv_type, kv_type))
    )


def layer_uses_swa(a: ArchSpec, layer: LayerSpec, kv: KvSpec) -> bool:
    return bool(kv.swa_cells) and layer.attention in ("sliding", "chunked")


def layer_kv_cells(a: ArchSpec, layer: LayerSpec, kv: KvSpec) -> int:
    """Cells one layer allocates over all streams."""
    return (kv.swa_cells if layer_uses_swa(a, layer, kv) else kv.n_ctx_seq) * kv.n_stream


def layer_kv_bytes(a: ArchSpec, layer: LayerSpec, kv: KvSpec) -> int:
    """K + V of one layer: cells × (n_embd_k_gqa + n_embd_v_gqa) elements × the cache type (MLA: the latent)."""
    elements = layer_kv_cells(a, layer, kv) * kv_elements_per_token(a, layer)
    return int(-(-(elements * kv.bits) // 8))


def weights_by_device(lay: GgufLayout, p: Placement, n_gpus: int) -> dict[int, int]:
    """Model buffer per device: token_embd (the input layer) always on the CPU ("there is very little benefit to
    offloading the input layer, so always keep it on the CPU"), each repeating layer on its device, the output
    layer (output_norm + output.weight) on ``dev_output``. Tied embeddings: the output is created as a copy of
    token_embd in the output buffer type, so on a GPU the matrix exists twice."""
    out = dict.fromkeys([CPU, *range(n_gpus)], 0)
    out[CPU] += lay.token_embd + lay.other
    for il, d in enumerate(p.layer_device):
        out[d] += lay.layers[il]
    head = lay.output_norm + (0 if lay.tied and p.output_device == CPU else lay.output)
    out[p.output_device] += head
    return out


def kv_by_device(layer_kv: tuple[int, ...], p: Placement, n_gpus: int, offload: bool) -> dict[int, int]:
    """KV buffer per device: each layer's cache (``layer_kv``) is created on ``model.dev_layer(il)``;
    ``--no-kv-offload`` keeps every layer's cache in a CPU buffer (src/llama-kv-cache.cpp: ``if (offload) { dev =
    model.dev_layer(il) }``)."""
    out = dict.fromkeys([CPU, *range(n_gpus)], 0)
    for il, nbytes in enumerate(layer_kv):
        out[p.layer_device[il] if offload else CPU] += nbytes
    return out


def cpu_mapped_span(lay: GgufLayout, p: Placement) -> int:
    """The ``CPU_Mapped model buffer size`` llama.cpp prints with mmap: the file-offset span of the CPU-resident
    tensors, assuming the usual GGUF order token_embd, blk.0 … blk.N-1, output_norm, output. With the output
    layer on the CPU the span is the whole file although most of it is on the GPU (Ollama llm/llama_server.go
    trims this overlap for the same reason); it is address space, not resident RAM."""
    if p.output_device == CPU:
        return lay.file_bytes  # output_norm/output sit at the end of the file
    cpu_layers = [il for il, d in enumerate(p.layer_device) if d == CPU]
    last = max(cpu_layers) if cpu_layers else -1
    return lay.token_embd + lay.other + sum(lay.layers[: last + 1])
