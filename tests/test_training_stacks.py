"""Training stacks and memory knobs (issues 10–11): hand-derived values and values measured on real runs.

Measured references: the saved-tensor sets of one decoder layer (torch.autograd.graph.saved_tensors_hooks on
transformers 5.24 / peft 0.21.2 / bitsandbytes 0.50.2, and the AOT forward graph of torch.compile on torch 2.13),
and the end-to-end CPU runs in validation/results/cpu.jsonl (qlora-bnb/*), which tests/test_accuracy.py holds.
"""

import pytest
from pydantic import ValidationError

from vram_insight import activations as act
from vram_insight.arch import parse_config
from vram_insight.catalog import load_catalog
from vram_insight.errors import from_validation
from vram_insight.estimate import estimate
from vram_insight.parallel import fsdp_gathered, zero3_gathered
from vram_insight.params import count_params
from vram_insight.quant import weight_bytes
from vram_insight.schemas import EstimateRequest
from vram_insight.states import bnb_state_bytes, optimizer_state_split
from vram_insight.workloads.knobs import kbit_upcast_extra_bytes

CAT = load_catalog()
GiB = 2**30


def arch(model_id: str):
    return parse_config(CAT.model(model_id).config)


def peak(**kw) -> int:
    return estimate(EstimateRequest(gpu=None, **kw)).peak_allocated_bytes


def test_bnb_qlora_layer_matches_the_measured_saved_set() -> None:
    # Mistral-7B layer (h 4096, I 14336, q 4096, kv 1024), all-linear LoRA r16, autocast bf16 after
    # prepare_model_for_kbit_training; saved_tensors_hooks on CPU listed per token (B/token):
    #   norms: fp32 input 16384 + rsqrt 4, twice                                  = 32776
    #   SDPA: bf16 q 8192 + k 2048 + v 2048 + out 8192 + fp32 lse 128            = 20608
    #   lora_A bf16 input copies: q, k, v, gate, up 5 × 8192; down 28672; lora_A outputs 7 × 32 = 69856
    #   fp32 gate, up and SiLU(gate) 3 × 57344                                   = 172032
    # (the CPU run also saves o_proj's input as an 8192-byte reshape copy of the CPU SDPA output layout; CUDA's
    # flash output is already [B, S, n, d], so that copy is not counted)
    a = arch("mistral-7b-v0.3")
    setup = act.TrainSetup(2, 4, False, frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj"}), 16, 4)  # fmt: skip
    parts = act.bnb_qlora_layer_saved_bytes_per_token(a, a.layers[0], setup)
    assert parts == {"norms": 32776, "attention": 20608, "linear_inputs": 69856, "mlp": 172032}


def test_peft_lora_under_autocast_saves_16_bit_input_copies() -> None:
    # Mistral-7B layer, bf16 base, peft's fp32 adapters on all linears, forward under autocast(bf16) (HF Trainer
    # bf16=True): peft's Linear still casts the input to fp32, autocast recasts it to bf16 for lora_A and that copy
    # is saved — one per adapted module. saved_tensors_hooks measured 217,448 B/token (incl. rsqrt 8 + lse 128):
    #   norms 2 × fp32 16384 = 32768; SDPA q 8192 + k 2048 + v 2048 + out 8192 = 20480; gate, SiLU, up 3 × 28672;
    #   lora_A inputs 6 × 8192 + 28672 and outputs 7 × 32 = 78048
    a = arch("mistral-7b-v0.3")
    targets = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
    setup = act.TrainSetup(2, 2, False, targets, 16, 2, lora_input_copy=True)
    assert sum(act.layer_saved_bytes_per_token(a, a.layers[0], setup).values()) == 217_448 - 8 - 128


def test_compile_saves_what_the_aot_graph_saves() -> None:
    # Llama-3.2-3B layer, full fine-tuning in bf16 (h 3072, I 8192, q 3072): the AOT forward graph of the compiled
    # layer saves 34,816 B/token less than eager autograd: the two norms keep their 16-bit input instead of an fp32
    # copy and the normalised 16-bit x (2 × 4h = 24576), SiLU(gate) is recomputed (2I = 16384), and o_proj's input
    # is saved apart from the attention output (−q·2 = −6144).
    a = arch("llama-3.2-3b")
    eager = act.TrainSetup(2, 2, True, attention="flash")
    compiled = act.TrainSetup(2, 2, True, attention="flash", compiled=True)
    per = act.layer_saved_bytes_per_token
    assert sum(per(a, a.layers[0], eager).values()) - sum(per(a, a.layers[0], compiled).values()) == 34_816


def test_bitsandbytes_8bit_states_are_blockwise() -> None:
    # optimizer.py Optimizer2State.init_state: uint8 state1/state2 + fp32 absmax per 256 elements each;
    # < 4096 elements: fp32 states
    assert bnb_state_bytes("adamw-8bit", 1_000_000, 2) == 2 * 1_000_000 + 2 * 4 * 3907
    assert bnb_state_bytes("adamw-8bit", 1000, 2) == 8 * 1000
    # 32-bit paged AdamW keeps fp32 states even for bf16 parameters
    assert bnb_state_bytes("paged-adamw-32bit", 1000, 2) == 8 * 1000


def test_paged_states_leave_the_allocator() -> None:
    # get_state_buffer: tensors ≥ 1e5 elements are paged (managed memory); the 8-bit absmax stays a device tensor
    alloc, paged = optimizer_state_split("paged-adamw-8bit", [1_048_576, 4096], 2)
    assert paged == 2 * 1_048_576
    assert alloc == 2 * 4 * 4096 + (2 * 4096 + 2 * 4 * 16)


def test_kbit_upcast_adds_two_bytes_per_non_4bit_parameter() -> None:
    # Llama-3.1-8B: embedding and lm_head 128256 × 4096 each, 65 RMSNorm weights of 4096 → fp32 (+2 B each)
    comps = count_params(arch("llama-3.1-8b")).components
    assert kbit_upcast_extra_bytes(comps) == 2 * (2 * 128_256 * 4096 + 65 * 4096)


def test_fp4_has_the_nf4_layout() -> None:
    a = arch("llama-3.1-8b")
    comps = count_params(a).components
    assert weight_bytes(a, comps, "fp4").total == weight_bytes(a, comps, "nf4").total
    # 4 + 32/64 bits per Linear weight without double quant
    assert weight_bytes(a, comps, "fp4-nodq").total == weight_bytes(a, comps, "nf4-nodq").total


def test_fsdp_gathered_set() -> None:
    # 8 ranks: the root's other 7/8 gathered; at the loss one prefetched layer, in a layer's backward two; a
    # trainable layer's gradients plus the previous layer's reduce-scatter input
    g = fsdp_gathered(1000, 800, 500, 300, 8)
    assert (g.forward, g.backward, g.unit_grads, g.root_params, g.root_grads) == (1000, 2000, 1000, 700, 300)
    # ZeRO-3: layer + 0.9·h² prefetch bucket, capped at 1e9 live elements (here the bucket fits)
    z = zero3_gathered(2_000_000, 2, 1000, 0)
    assert z.forward == 2_000_000 + 2 * 900_000


def test_torchtune_chunked_loss() -> None:
    n = 8192 * 128_256
    assert act.torchtune_chunked_ce_bytes(8192, 128_256, 2, compiled=True) == (2 * n, 2 * n + 2 * (n // 8))
    # eager: every chunk's fp32 log-softmax stays saved; backward works one chunk at a time
    fwd, bwd = act.torchtune_chunked_ce_bytes(8192, 128_256, 2, compiled=False)
    assert fwd == 2 * n + 4 * n + 4 * (n // 8)
    assert bwd == 4 * n + 2 * 4 * (n // 8) + 2 * (n // 8)


def test_transformers_before_4_50_copies_the_shifted_logits() -> None:
    n = 1000 * 32000
    new, _ = act.training_ce_peak_bytes(1000, 32000, 2)
    old, _ = act.training_ce_peak_bytes(1000, 32000, 2, shift_copy=True)
    assert old - new == 4 * n


def test_optimizer_in_backward_frees_gradients() -> None:
    kw = {"model": "llama-3.2-3b", "mode": "training", "precision": "bf16", "batch_size": 1, "seq_len": 512,
          "grad_checkpointing": "full", "framework": "torchtune", "optimizer": "adamw-fused"}  # fmt: skip
    with_all = peak(**kw)
    in_bwd = peak(**kw, optimizer_in_bwd=True)
    # without: all bf16 gradients (3.21e9 × 2 B) + the tied embedding's two extra buffers (2T) at the end of
    # backward; with: the lm_head use's gradient held in autograd's input buffer, the embedding's and their sum
    # (3T), T = 128256 × 3072 × 2 B — the difference is 2p − T
    p, t = 3_212_749_824, 128_256 * 3072 * 2
    assert with_all - in_bwd == pytest.approx(2 * p - t, rel=0.001)


def test_paged_optimizer_states_are_reported_apart() -> None:
    res = estimate(EstimateRequest(model="llama-3.1-8b", mode="training", precision="bf16",
                                   optimizer="paged-adamw-8bit", gpu=None))  # fmt: skip
    assert res.components["optimizer"] < 0.5 * GiB
    assert res.details["paged_optimizer_bytes"] > 14 * GiB


def test_activation_offloading_keeps_one_checkpoint() -> None:
    kw = {"model": "llama-3.2-3b", "mode": "finetune", "method": "lora", "batch_size": 2, "seq_len": 4096,
          "grad_checkpointing": "full", "framework": "torchtune"}  # fmt: skip
    saved = estimate(EstimateRequest(gpu=None, **kw)).details["phase_breakdown"]["forward"]["activations"]
    off = estimate(EstimateRequest(gpu=None, activation_offloading=True, **kw))
    kept = off.details["phase_breakdown"]["forward"]["activations"]
    # 28 checkpoints of 8192 tokens × 3072 × 2 B (plus the final norm's saved input) → one checkpoint
    assert kept == 8192 * 3072 * 2
    assert saved == 28 * 8192 * 3072 * 2 + 2 * 8192 * 3072 * 2


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"optimizer_in_bwd": True, "grad_accum": 4}, "optimizer_in_bwd"),
        ({"framework": "torchtune", "precision": "fp16"}, "precision"),
        ({"framework": "torchtune", "zero": 3, "gpus": 2}, "zero"),
        ({"transformers_version": "4.x"}, "transformers_version"),
    ],
)
def test_inconsistent_knobs_name_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        EstimateRequest(mode="finetune", **kw)
    assert from_validation(exc.value).field == field


def test_cli_takes_the_frameworks_flag_names(capsys) -> None:
    import json

    from vram_insight.cli import main

    argv = ["estimate", "-m", "llama-3.1-8b", "--mode", "training", "--precision", "bf16", "--optim",
            "paged_adamw_8bit", "--optimizer-in-bwd", "--enable-activation-offloading", "--compile",
            "--grad-checkpointing", "full", "--framework", "torchtune", "--json"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    # 8.03e9 parameters: uint8 states (2 B/param) in managed memory for every tensor ≥ 1e5 elements
    assert res["details"]["paged_optimizer_bytes"] > 2 * 7.9e9
    assert main([*argv[:-1], "--optimizer", "adamw", "--json"]) == 2
    assert "disagree" in capsys.readouterr().err


def test_moe_experts_are_stacked_tensors_not_millions_of_vectors() -> None:
    # transformers ≥ 5 MixtralExperts: gate_up_proj [8, 2·14336, 4096] and down_proj [8, 4096, 14336] per layer.
    # (Counting the experts as hidden-sized vectors made a Mixtral report with an 8-bit optimizer take ~20 s.)
    from vram_insight.resolve import resolve_model
    from vram_insight.workloads.training import trainable_tensor_numels

    a = resolve_model(EstimateRequest(model="mixtral-8x7b", gpu=None)).arch
    numels = trainable_tensor_numels(a, "full", 16, (), 0)
    assert len(numels) < 1000
    assert numels.count(8 * 2 * 14336 * 4096) == 32 and numels.count(8 * 4096 * 14336) == 32
    assert sum(numels) <= 46_702_792_704  # every tensor counted at most once (the published total)
