"""llama.cpp compute buffers: the largest live set of the graphs it reserves, per backend.

``src/llama-context.cpp`` ``sched_reserve`` reserves the prompt-processing graph (``n_tokens = min(n_ctx,
n_ubatch)`` tokens attending over the whole KV cache, ``n_outputs = n_tokens`` logits rows) and the token-generation
graph (one token per sequence), then sizes one compute buffer per backend with ``ggml_backend_sched_get_buffer_size``.
Inside a graph ``ggml-alloc.c`` (``ggml_gallocr``) frees every intermediate tensor after its last use and reuses the
space; a block too large for the freed holes goes above them. So the buffer is the maximum, over the moments of the
graph, of the live tensors plus the holes below the newest one — never a sum over layers or phases. The moments
that decide it (all intermediates are f32, 4 bytes):

* attention without flash attention: the KQ matrix ``n_kv × n_tokens × n_head`` above the layer's input, its norm,
  the Q/K/V projections (K and V are freed into the top of the buffer once stored in the cache) and the KQ mask;
* attention with flash attention: the output ``n_tokens × n_head × head_dim``, and on CUDA an f16 copy of a
  quantized K/V cache of one layer (``ggml_cuda_flash_attn_ext_get_alloc_size``);
* the feed-forward block: gate, up and their product (``ggml_swiglu_split`` is not in-place, ``ggml_op_can_inplace``);
* the output: ``n_outputs × n_vocab`` logits above the final norm;
* partial offload: for batches of at least 32 tokens (``GGML_OP_OFFLOAD_MIN_BATCH``, ggml-cuda.cu
  ``ggml_backend_cuda_device_offload_op``) the scheduler runs matrix products whose weight sits in host memory on the
  GPU (``ggml_backend_sched_backend_id_from_cur``, "check if a backend with higher prio wants to offload the op";
  llama.cpp PR #6083: "The weights are now copied to VRAM in the compute buffer"): the weight is copied into the GPU
  compute buffer next to the product's input and output. One weight copy at a time is what the published partial
  offload logs show (Mistral-7B -ngl 20: 136 graph splits for 12 CPU layers, buffer = the output.weight moment);
  MoE layers whose gate and up experts share a split may hold two copies, which is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch import ArchSpec, LayerSpec
from ..quant import GgufLayout
from .llama_cpp_layout import CPU, KvSpec, Placement, layer_uses_swa

F32 = 4
OP_OFFLOAD_MIN_BATCH = 32  # ggml-cuda.cu: GGML_OP_OFFLOAD_MIN_BATCH default
SCHED_MAX_COPIES = 4  # ggml/CMakeLists.txt GGML_SCHED_MAX_COPIES: input copies with pipeline parallelism
# llama.cpp architectures whose GGUF has one fused attn_qkv tensor (Q, K, V are views of one product, so the
# roped Q is a separate tensor) and those that run attention and feed-forward in parallel from one input.
FUSED_QKV_TYPES = ("gpt_neox", "phi", "phi3", "falcon", "chatglm", "gpt2", "starcoder2")
PARALLEL_BLOCK_TYPES = ("gpt_neox", "phi", "falcon", "cohere")


@dataclass(frozen=True)
class GraphOptions:
    """What shapes the reserved graphs: tokens of the prompt graph, sequences, attention kernel, placement."""

    n_tokens: int  # prompt-processing graph: min(n_ctx, n_ubatch)
    n_seqs: int  # token-generation graph: one token per sequence (n_seq_max)
    flash: bool
    kv_quantized: bool
    offload_kqv: bool
    op_offload: bool
    build: str
    pipeline: bool  # multi-GPU full offload: pipeline parallelism keeps SCHED_MAX_COPIES input copies


@dataclass(frozen=True)
class Buffers:
    """Compute buffer per GPU (with the moment that sizes it) and the host-side compute buffer."""

    gpu: tuple[int, ...]
    gpu_phase: tuple[str, ...]
    host: int
    host_phase: str
    op_offload_tensor: str  # the CPU-resident weight whose GPU copy sizes the op-offload moment ("" if none)
    op_offload_bytes: int


def mask_bytes(n_kv: int, n_tokens: int, flash: bool, build: str, on_gpu: bool) -> int:
    """The KQ mask input (``build_attn_inp_kq_mask``): ``n_kv × n_tokens``, f16 with flash attention, else f32.

    Builds before December 2025 filled an f32 mask on the host and cast it to f16 on the device, so the device
    holds the f32 copy below its f16 cast."""
    if build != "current":
        return n_kv * n_tokens * (F32 + (2 if flash and on_gpu else 0))
    return n_kv * n_tokens * (2 if flash else F32)


def _dims(a: ArchSpec) -> tuple[int, int, int, int]:
    """(q width, kv width, attention output width, heads) as llama.cpp's graphs see them."""
    if a.mla:
        m = a.mla
        return a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim), m.kv_lora_rank + m.qk_rope_head_dim, \
            a.num_heads * m.v_head_dim, a.num_heads  # fmt: skip
    return a.q_dim, a.kv_dim, a.q_dim, a.num_heads


def attention_inputs(a: ArchSpec, t: int) -> int:
    """Live below the KQ product: layer input and (freed) norm output, ``n_embd`` each, and the projections.

    Separate Q/K/V: Q stays (rope runs in place on it), K and V are freed after the cache store and sit at the top,
    where the next block reuses them. Fused QKV: the whole QKV product stays until its views are consumed, and
    the roped Q is a new tensor above it."""
    q, kv, _, _ = _dims(a)
    projections = (q + 2 * kv) + q if a.model_type in FUSED_QKV_TYPES else q
    return t * F32 * (2 * a.hidden_size + projections)


def attention_core(a: ArchSpec, t: int, n_kv: int, n_stream: int, o: GraphOptions) -> int:
    """KQ scores (flash off) or flash attention's output plus CUDA's f16 copy of a quantized K/V (flash on)."""
    _, kv, out, heads = _dims(a)
    if not o.flash:
        return n_kv * t * heads * F32
    core = t * out * F32
    if o.kv_quantized and o.build == "current" and t > 1:
        # ggml_cuda_flash_attn_ext_get_f16_extra_data: the batched (tile/MMA) kernels read f16 K and V.
        core += n_kv * n_stream * (kv if a.mla else 2 * kv) * 2  # MLA: V is a view of the K latent
    return core


def ffn_live(a: ArchSpec, layer: LayerSpec, t: int, build: str) -> int:
    """Feed-forward moment: layer input, norm hole and the product tensors.

    Gated: gate and up, plus ``ggml_swiglu_split``'s new output in current builds (older builds ran SiLU and the
    multiply in place: two tensors). Plain: up (GELU in place) and the down output. MoE: per routed expert slot
    (``n_tokens × top_k`` rows of ``ggml_mul_mat_id``), plus a shared expert."""
    h = a.hidden_size
    n_mats = 3 if build == "current" else 2
    if layer.moe and a.moe:
        e = a.moe
        width = e.top_k * n_mats * e.expert_intermediate + n_mats * e.shared_intermediate + e.num_experts
        body = width + e.top_k * h
    elif a.gated_mlp:
        body = n_mats * a.intermediate_size
    else:
        body = a.intermediate_size + h
    if a.model_type in PARALLEL_BLOCK_TYPES:
        body += h  # the attention output waits for the feed-forward output
    return t * F32 * (2 * h + body)


def output_live(a: ArchSpec, t: int) -> int:
    """Logits ``n_outputs × n_vocab`` (n_outputs = n_tokens in the reserved graph) above the final norm."""
    return t * F32 * (a.hidden_size + a.vocab_size)


def _layer_cells(a: ArchSpec, layer: LayerSpec, kv: KvSpec) -> int:
    return kv.swa_cells if layer_uses_swa(a, layer, kv) else kv.n_ctx_seq


def offload_candidates(a: ArchSpec, lay: GgufLayout, t: int) -> list[tuple[int, str, int]]:
    """Per layer, the op-offload moment of its largest product: (weight copy + input + output rows, tensor name,
    weight bytes). Expert tensors (``ggml_mul_mat_id``) produce ``n_tokens × top_k`` rows."""
    out = []
    for il, mats in enumerate(lay.matrices):
        best = (0, "", 0)
        for m in mats:
            rows_out = (
                m.n_out // a.moe.num_experts * a.moe.top_k if m.name.endswith("exps") and a.moe else m.n_out
            )
            live = m.nbytes + t * F32 * (m.n_in + rows_out)
            if live > best[0]:
                best = (live, f"blk.{il}.{m.name}", m.nbytes)
        out.append(best)
    return out


@dataclass(frozen=True)
class GraphTerms:
    """The moments of one reserved graph of ``t`` tokens that do not depend on ``-ngl``, per layer kind."""

    t: int
    offload_active: bool
    gpu_attention: tuple[int, ...]  # mask + inputs + core on the layer's GPU
    gpu_inputs: int  # --no-kv-offload: the projections stay on the GPU, the rest moves to the CPU
    cpu_attention_nkvo: tuple[int, ...]
    cpu_layer_attention_on_gpu: tuple[int, ...]  # + the layer's K/V copied in
    cpu_attention: tuple[int, ...]  # a CPU layer computed on the CPU
    gpu_ffn: tuple[int, ...]
    cpu_ffn: tuple[int, ...]
    output: int
    candidates: tuple[tuple[int, str, int], ...]  # per layer, see offload_candidates


def graph_terms(a: ArchSpec, lay: GgufLayout, kv: KvSpec, o: GraphOptions, t: int, n_gpus: int,
                kinds: tuple[LayerSpec, ...], kind_kv: tuple[int, ...]) -> GraphTerms:  # fmt: skip
    """Precompute each layer kind's moments for a graph of ``t`` tokens (``kind_kv``: one layer's KV per kind)."""
    gpu_att, cpu_nkvo, cpu_on_gpu, cpu_att, gpu_ffn, cpu_ffn = [], [], [], [], [], []
    inputs = attention_inputs(a, t)
    for layer, layer_kv in zip(kinds, kind_kv, strict=True):
        cells = _layer_cells(a, layer, kv)
        mask = mask_bytes(cells, t, o.flash, o.build, True)
        host_mask = mask_bytes(cells, t, o.flash, o.build, False)
        core = attention_core(a, t, cells, kv.n_stream, o)
        ffn = ffn_live(a, layer, t, o.build)
        gpu_att.append(mask + inputs + core)
        # --no-kv-offload: "all nodes between the KV store and the attention output are run on the CPU".
        cpu_nkvo.append(host_mask + core + t * F32 * _dims(a)[0])
        # CPU layers' attention runs on the first GPU with its K/V copied in (no KQ lands in the host buffer:
        # ggml-org/ci pythia_2_8b -ngl 10, CUDA_Host compute 14.01 MiB with flash off).
        cpu_on_gpu.append(mask + inputs + core + layer_kv)
        cpu_att.append(host_mask + inputs + core)
        gpu_ffn.append(mask + ffn)
        cpu_ffn.append(ffn)
    return GraphTerms(
        t=t,
        offload_active=o.op_offload and n_gpus > 0 and t >= OP_OFFLOAD_MIN_BATCH,
        gpu_attention=tuple(gpu_att),
        gpu_inputs=inputs,
        cpu_attention_nkvo=tuple(cpu_nkvo),
        cpu_layer_attention_on_gpu=tuple(cpu_on_gpu),
        cpu_attention=tuple(cpu_att),
        gpu_ffn=tuple(gpu_ffn),
        cpu_ffn=tuple(cpu_ffn),
        output=output_live(a, t),
        candidates=tuple(offload_candidates(a, lay, t)),
    )


def _graph_moments(g: GraphTerms, lay: GgufLayout, p: Placement, kind_of: tuple[int, ...], offload_kqv: bool,
                   n_gpus: int) -> tuple[dict[int, dict[str, int]], str, int]:  # fmt: skip
    """Live bytes of each moment on each backend for one reserved graph."""
    moments: dict[int, dict[str, int]] = {d: {} for d in [CPU, *range(n_gpus)]}

    def put(device: int, name: str, value: int) -> None:
        if value > moments[device].get(name, 0):
            moments[device][name] = value

    seen: set[tuple[int, int]] = set()
    for il, d in enumerate(p.layer_device):
        k = kind_of[il]
        if (k, d) in seen:
            continue
        seen.add((k, d))
        if d == CPU:
            if not g.offload_active:
                put(CPU, "attention", g.cpu_attention[k])
                put(CPU, "ffn", g.cpu_ffn[k])
            elif offload_kqv:
                put(0, "attention_cpu_layer", g.cpu_layer_attention_on_gpu[k])
            else:
                put(CPU, "attention", g.cpu_attention_nkvo[k])
            continue
        if offload_kqv:
            put(d, "attention", g.gpu_attention[k])
        else:
            put(d, "attention", g.gpu_inputs)
            put(CPU, "attention", g.cpu_attention_nkvo[k])
        put(d, "ffn", g.gpu_ffn[k])
    out_dev = p.output_device
    if out_dev != CPU:
        put(out_dev, "output", g.output)
    elif not g.offload_active:
        put(CPU, "output", g.output)
    tensor, weight = "", 0
    if g.offload_active:
        # The largest CPU-resident weight copied to the GPU with its product's input and output.
        best = 0
        if out_dev == CPU:
            best, tensor, weight = lay.output + g.output, "output.weight", lay.output
        for il, d in enumerate(p.layer_device):
            if d == CPU and g.candidates[il][0] > best:
                best, tensor, weight = g.candidates[il]
        if best:
            put(0, "op_offload", best)
    return moments, tensor, weight


def _backend_sizes(a: ArchSpec, kv: KvSpec, o: GraphOptions, n_gpus: int, t: int,
                   moments: dict[int, dict[str, int]]) -> tuple[list[tuple[int, str]], tuple[int, str]]:  # fmt: skip
    """One graph's buffer per GPU and on the host: its largest moment, plus the inputs it keeps."""
    copies = SCHED_MAX_COPIES if o.pipeline else 1
    gpu = []
    for d in range(n_gpus):
        live = moments[d]
        name = max(live, key=lambda k: live[k]) if live else ""
        size = live.get(name, 0)
        if size and copies > 1:
            # Pipeline parallelism: each GPU's graph inputs (hidden state in, KQ mask, positions) are kept in
            # SCHED_MAX_COPIES copies that are never freed (ggml-backend.cpp: set_input + set_output on copies).
            size += (copies - 1) * (
                t * F32 * (a.hidden_size + 1) + mask_bytes(kv.n_ctx_seq, t, o.flash, o.build, True)
            )
        gpu.append((size, name))
    # Host side (the CPU backend's buffer, CUDA_Host pinned memory when a GPU is present): the graph inputs that
    # are filled on the host — token embeddings (get_rows of token_embd), KQ mask(s), positions.
    masks = mask_bytes(kv.n_ctx_seq, t, o.flash, o.build, False)
    if kv.swa_cells:
        masks += mask_bytes(kv.swa_cells, t, o.flash, o.build, False)
    inputs = t * F32 * (a.hidden_size + 1) + masks
    live = moments[CPU]
    name = max(live, key=lambda k: live[k]) if live else "inputs"
    if n_gpus == 0:
        # CPU only: the inputs are the first layer's input and mask, already inside the moments.
        return gpu, (max(inputs, live.get(name, 0) + t * F32), name)
    return gpu, (inputs * copies + live.get(name, 0), name)


def compute_buffers(a: ArchSpec, lay: GgufLayout, p: Placement, kv: KvSpec, o: GraphOptions, n_gpus: int,
                    terms: tuple[GraphTerms, GraphTerms], kind_of: tuple[int, ...]) -> Buffers:  # fmt: skip
    """Compute buffer per backend: the larger of the prompt graph and the token-generation graph (``terms``);
    ggml-alloc keeps the buffer of the larger reservation (llama-context.cpp reserves pp, tg, then pp again)."""
    pp, tensor, weight = _graph_moments(terms[0], lay, p, kind_of, o.offload_kqv, n_gpus)
    tg, _, _ = _graph_moments(terms[1], lay, p, kind_of, o.offload_kqv, n_gpus)
    gpu_pp, host_pp = _backend_sizes(a, kv, o, n_gpus, terms[0].t, pp)
    gpu_tg, host_tg = _backend_sizes(a, kv, o, n_gpus, terms[1].t, tg)
    gpu = [max(x, y) for x, y in zip(gpu_pp, gpu_tg, strict=True)]
    host = max(host_pp, host_tg)
    if tensor and not any(name == "op_offload" for _, name in gpu):
        tensor, weight = "", 0  # the copy exists but another moment sizes the buffer
    return Buffers(tuple(g for g, _ in gpu), tuple(n for _, n in gpu), host[0], host[1], tensor, weight)
