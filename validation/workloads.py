"""The calibration workloads, written once for both the fake-tensor trace (``trace.py``) and the real GPU
measurement (``cuda_allocator.py``), so what is replayed is what is measured.

A case is a dict: ``{"mode": "infer", "B", "P", "G", "attn"}``, ``{"mode": "train", "B", "S",
"precision": "bf16" | "amp-bf16", "ckpt"}`` or ``{"mode": "lora", "B", "S", "r", "targets", "ckpt"}``
(the ``case`` objects of the H200 calibration file).  ``phase(name)`` is called at every phase change.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import torch

from cases import pad_id

# LoRA target shorthands (peft's "all-linear" = every Linear except the output head)
LORA_TARGETS = {"all-linear": "all-linear", "attn": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def weight_dtype(case: dict):
    """bf16 weights, except fp32 master weights for autocast training (``precision: amp-bf16``)."""
    return torch.float32 if case.get("precision") == "amp-bf16" else torch.bfloat16


def lora_config(case: dict) -> dict | None:
    """peft LoRA r, alpha 2r, dropout 0 on ``targets`` (adapters fp32: peft's default)."""
    if case["mode"] != "lora":
        return None
    r = case["r"]
    targets = case.get("targets", "all-linear")
    return {
        "r": r,
        "lora_alpha": 2 * r,
        "lora_dropout": 0.0,
        "target_modules": LORA_TARGETS.get(targets, targets),
    }


def hf_config(arch_config: dict):
    from transformers import AutoConfig

    return AutoConfig.for_model(**copy.deepcopy(arch_config))


def build_model(case: dict, arch_config: dict, device: str):
    """Random-weight model built directly on ``device`` (``from_config``), LoRA and checkpointing applied."""
    from transformers import AutoModelForCausalLM

    kw = {"dtype": weight_dtype(case), "attn_implementation": case.get("attn", "sdpa")}
    if case.get("experts"):
        kw["experts_implementation"] = case["experts"]
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(hf_config(arch_config), **kw)
    return finish_model(model, case)


def finish_model(model, case: dict):
    lora = lora_config(case)
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model.requires_grad_(False)
        model = get_peft_model(model, LoraConfig(**lora, bias="none", task_type="CAUSAL_LM"))
    if case["mode"] != "infer":
        if case.get("ckpt"):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
    else:
        model.eval()
    return model


def run_infer(model, case: dict, arch_config: dict, device: str, phase: Callable[[str], None]) -> None:
    """``generate`` of exactly G new tokens after a prompt of P random tokens, batch B, greedy, DynamicCache."""
    B, P, G = case["B"], case["P"], case["G"]
    phase("inputs")
    ids = torch.randint(3, arch_config["vocab_size"], (B, P), device=device)
    mask = torch.ones_like(ids)

    def pre(mod, args, kwargs):
        cache = kwargs.get("past_key_values", kwargs.get("cache"))
        n = cache.get_seq_length() if cache is not None else 0
        phase("prefill" if n == 0 else "decode")

    hook = model.register_forward_pre_hook(pre, with_kwargs=True)
    try:
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=mask,
                max_new_tokens=G,
                min_new_tokens=G,
                do_sample=False,
                pad_token_id=pad_id(arch_config),
            )
    finally:
        hook.remove()
    assert tuple(out.shape) == (B, P + G), out.shape
    del out, ids, mask
    phase("done")


def run_train(
    model, case: dict, arch_config: dict, device: str, phase: Callable[[str], None], steps: int = 2
) -> None:
    """``steps`` steps of loss / backward / AdamW (foreach, a fresh optimizer: states are created by the
    first ``step()``) / ``zero_grad(set_to_none=True)``; autocast bf16 around the forward for amp."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, foreach=True)
    amp = case.get("precision") == "amp-bf16"
    phase("inputs")
    ids = torch.randint(3, arch_config["vocab_size"], (case["B"], case["S"]), device=device)
    try:
        for step in range(1, steps + 1):
            phase(f"step{step}.forward")
            ac = torch.autocast(device, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
            with ac:
                loss = model(input_ids=ids, labels=ids).loss
            phase(f"step{step}.backward")
            loss.backward()
            del loss
            phase(f"step{step}.optimizer")
            opt.step()
            phase(f"step{step}.zero_grad")
            opt.zero_grad(set_to_none=True)
    finally:
        opt.zero_grad(set_to_none=True)
        opt.state.clear()
    phase("done")


def run_workload(model, case: dict, arch_config: dict, device: str, phase: Callable[[str], None]) -> None:
    if case["mode"] == "infer":
        run_infer(model, case, arch_config, device, phase)
    else:
        run_train(model, case, arch_config, device, phase)
