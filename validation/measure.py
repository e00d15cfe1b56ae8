"""Measure the peak tensor memory of real transformers/peft runs (see validation/README.md).

    python validation/measure.py --out validation/results/cpu.jsonl [--only PATTERN] [--device cpu|cuda]
    python validation/measure.py --list [--only PATTERN]

Each case runs in its own subprocess (clean allocator / tracker state, bounded by --timeout) and
appends one JSON record to --out (records with the same id are replaced).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import cases as case_defs  # noqa: E402
import cuda_allocator  # noqa: E402

# ============================================================================ helpers (no torch import at module level
# so that `--help` / `--list` work everywhere)


def _versions():
    import torch

    out = {"torch_version": torch.__version__}
    try:
        import transformers

        out["transformers_version"] = transformers.__version__
    except Exception:
        out["transformers_version"] = None
    try:
        import peft

        out["peft_version"] = peft.__version__
    except Exception:
        out["peft_version"] = None
    return out


def _proc_status():
    vals = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    vals[k] = int(v.strip().split()[0]) * 1024
    except OSError:
        pass
    return vals


def _reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def fast_random_init(seed: int = 0):
    """Make ``Tensor.normal_`` / ``uniform_`` on large CPU tensors cheap during model construction.

    Weights are filled by tiling a randomly offset slice (~1M values) of a fixed pool of N(0,1)
    samples, scaled to the requested mean/std (uniform(a, b) is mapped to its mean and std).  Values are irrelevant for
    memory; this only avoids ~10 s of RNG per 400M parameters on a 2-core CPU.  Small tensors (router
    weights of < 64k elements, norms, biases) keep the real RNG.
    """
    import torch

    pools: dict = {}
    rng = random.Random(seed)

    def pool(dtype):
        if dtype not in pools:
            g = torch.Generator().manual_seed(1234 + seed)
            pools[dtype] = torch.randn(1 << 22, generator=g).to(dtype)
        return pools[dtype]

    def fill(t, scale, shift):
        if t.device.type != "cpu" or not t.is_floating_point() or t.numel() < 65536 or not t.is_contiguous():
            return False
        p = pool(t.dtype)
        flat = t.view(-1)
        n = flat.numel()
        c = min(n, 1_000_003)  # prime period: tiles do not line up with row lengths
        off = rng.randrange(0, p.numel() - c + 1)
        with torch.no_grad():
            block = (p[off : off + c].to(torch.float32, copy=True) * scale + shift).to(
                t.dtype
            )  # never in place on the pool
            m = n // c
            flat[: m * c].view(m, c).copy_(block.expand(m, c))  # one op: ~10x faster than a loop
            if n - m * c:
                flat[m * c :].copy_(block[: n - m * c])
        return True

    had_n = "normal_" in torch.Tensor.__dict__
    had_u = "uniform_" in torch.Tensor.__dict__
    orig_n, orig_u = torch.Tensor.normal_, torch.Tensor.uniform_

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        if fill(self, std, mean):
            return self
        return orig_n(self, mean, std, generator=generator)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        if fill(self, (b - a) / math.sqrt(12.0), (a + b) / 2.0):
            return self
        return orig_u(self, a, b, generator=generator)

    torch.Tensor.normal_ = normal_
    torch.Tensor.uniform_ = uniform_
    try:
        yield
    finally:
        pools.clear()
        if had_n:
            torch.Tensor.normal_ = orig_n
        else:
            del torch.Tensor.normal_
        if had_u:
            torch.Tensor.uniform_ = orig_u
        else:
            del torch.Tensor.uniform_


def build_model(
    arch_config: dict,
    dtype,
    attn_impl: str,
    experts_impl: str | None = None,
    seed: int = 0,
    multimodal: bool = False,
):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

    torch.manual_seed(seed)
    cfg = AutoConfig.for_model(**copy.deepcopy(arch_config))
    kw = {"dtype": dtype, "attn_implementation": attn_impl}
    if experts_impl:
        kw["experts_implementation"] = experts_impl
    auto = AutoModelForImageTextToText if multimodal else AutoModelForCausalLM
    with fast_random_init(seed):
        model = auto.from_config(cfg, **kw)
    return model


def _n_params(params) -> int:
    seen, n = set(), 0
    for p in params:
        key = p.untyped_storage()._cdata, p.storage_offset(), tuple(p.shape)
        if key not in seen:
            seen.add(key)
            n += p.numel()
    return n


def _storage_bytes(tensors) -> int:
    seen, n = set(), 0
    for t in tensors:
        st = t.untyped_storage()
        if st._cdata not in seen:
            seen.add(st._cdata)
            n += st.nbytes()
    return n


def _rand_ids(B, S, V, device, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, V, (B, S), generator=g).to(device)


class GenerationPhases:
    """Forward hooks on the HF causal-LM during ``generate``: phase = prefill (empty cache) / decode,
    a weak reference to the live cache for the ``kv_cache`` tag, and the cache size after the last step."""

    def __init__(self, tracker, hf_model, prefix: str = ""):
        self.tracker = tracker
        self.prefix = prefix
        self.cache_ref = None
        self.cache_class = None
        self.kv_bytes_last = None
        self.n_forward = 0
        self.h1 = hf_model.register_forward_pre_hook(self._pre, with_kwargs=True)
        self.h2 = hf_model.register_forward_hook(self._post, with_kwargs=True)
        tracker.add_dynamic("kv_cache", self.kv_tensors)

    @staticmethod
    def _cache_from(kwargs):
        for k in ("cache", "past_key_values"):
            c = kwargs.get(k)
            if c is not None:
                return c
        return None

    def _pre(self, mod, args, kwargs):
        cache = self._cache_from(kwargs)
        n = 0
        if cache is not None:
            self.cache_ref = weakref.ref(cache)
            self.cache_class = type(cache).__name__
            try:
                n = cache.get_seq_length()
            except Exception:
                n = 0
        self.tracker.set_phase(self.prefix + ("prefill" if n == 0 else "decode"))
        self.n_forward += 1

    def _post(self, mod, args, kwargs, out):
        ts = self.kv_tensors()
        self.kv_bytes_last = _storage_bytes(ts) if ts else 0

    def kv_tensors(self):
        c = self.cache_ref() if self.cache_ref is not None else None
        if c is None:
            return []
        out = []
        for layer in getattr(c, "layers", []) or []:
            for name in ("keys", "values"):
                t = getattr(layer, name, None)
                if t is not None and hasattr(t, "untyped_storage"):
                    out.append(t)
        return out

    def remove(self):
        self.h1.remove()
        self.h2.remove()


def _warm_optimizer(opt, params):
    """Create the optimizer state exactly as a real first step would (steady state: state exists,
    grads None)."""
    import torch

    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)


def _make_optimizer(sc, params):
    import torch

    if sc["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, weight_decay=0.01, foreach=True)
    if sc["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=sc.get("momentum") or 0.0, foreach=True)
    raise ValueError(sc["optimizer"])


def _opt_defaults(opt):
    d = {}
    for k, v in opt.defaults.items():
        if isinstance(v, (int, float, bool, str)) or v is None:
            d[k] = v
    return d


def _lora_model(model, lora_sc):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=lora_sc["r"],
        lora_alpha=lora_sc["alpha"],
        lora_dropout=lora_sc.get("dropout", 0.0),
        target_modules=lora_sc["target_modules"],
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg)


def _register_model(tracker, model, tag="parameters"):
    tracker.register(list(model.parameters()), tag)
    tracker.register(list(model.buffers()), "buffers" if tag == "parameters" else tag)


# ============================================================================ workloads


def _mm_inputs(sc, cfgd, device):
    """Synthetic image (random pixel patches) + text for Qwen2-VL-style models."""
    import torch

    img = sc["image"]
    vc = cfgd["vision_config"]
    t, gh, gw = img["grid_thw"]
    patch_dim = vc.get("in_chans", 3) * vc.get("temporal_patch_size", 2) * vc["patch_size"] ** 2
    g = torch.Generator().manual_seed(0)
    pixel_values = torch.randn(t * gh * gw, patch_dim, generator=g).to(torch.bfloat16).to(device)
    grid_thw = torch.tensor([[t, gh, gw]], device=device)
    half = img["text_tokens"] // 2
    text = _rand_ids(1, img["text_tokens"], 150000, "cpu")
    ids = torch.cat(
        [
            text[:, :half],
            torch.tensor([[cfgd["vision_start_token_id"]]]),
            torch.full((1, img["image_tokens"]), cfgd["image_token_id"]),
            torch.tensor([[cfgd["vision_end_token_id"]]]),
            text[:, half:],
        ],
        dim=1,
    ).to(device)
    return ids, pixel_values, grid_thw


def run_inference(case, device, tracker, ctx):
    import torch

    sc, cfgd = case["scenario"], case["arch_config"]
    mm = "image" in sc
    model = build_model(cfgd, torch.bfloat16, sc["attn_impl"], sc.get("experts_impl"), multimodal=mm).to(
        device
    )
    model.eval()
    B, S, G = sc["batch"], sc["prompt_len"], sc["gen_len"]
    extra_inputs = {}
    if mm:
        ids, pixel_values, grid_thw = _mm_inputs(sc, cfgd, device)
        assert ids.shape == (B, S), (ids.shape, S)
        extra_inputs = {"pixel_values": pixel_values, "image_grid_thw": grid_thw}
    else:
        ids = _rand_ids(B, S, cfgd["vocab_size"], device)
    mask = torch.ones_like(ids)
    ctx["param_count_exact"] = _n_params(model.parameters())
    ctx["param_count_trainable"] = 0
    ctx["weights_bytes"] = _storage_bytes(model.parameters())
    ctx["buffers_bytes"] = _storage_bytes(model.buffers())
    _register_model(tracker, model)
    tracker.register([ids, mask, *extra_inputs.values()], "inputs")
    gp = GenerationPhases(tracker, model)
    vision_hooks = []
    visual = getattr(getattr(model, "model", None), "visual", None) if mm else None
    if visual is not None:
        ctx["extra"]["vision_params"] = _n_params(visual.parameters())
        vision_hooks = [
            visual.register_forward_pre_hook(lambda *a: tracker.set_phase("vision_encode")),
            visual.register_forward_hook(lambda *a: tracker.set_phase("prefill")),
        ]
    ctx["before_run"]()
    with ctx["tracking"]():
        out = model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=G,
            min_new_tokens=G,
            do_sample=False,
            pad_token_id=case_defs.pad_id(cfgd),
            **extra_inputs,
        )
        tracker.set_phase("done")
    gp.remove()
    for h in vision_hooks:
        h.remove()
    assert out.shape == (B, S + G), out.shape
    ctx["kv_cache_bytes_end"] = gp.kv_bytes_last
    cfg = model.config
    ctx["extra"].update(
        {
            "cache_class": gp.cache_class,
            "n_forward_calls": gp.n_forward,
            "output_shape": list(out.shape),
            "experts_impl": getattr(cfg, "_experts_implementation", None),
            "attn_impl_effective": getattr(cfg, "_attn_implementation", None),
        }
    )


def _one_training_step(model, sc, cfgd, device, tracker, ctx, *, autocast: bool):
    """The measured step every training runner shares: optimizer built and warmed (its states exist, as after the
    first step), random token ids, the model's tensors registered with the tracker, then forward (under
    ``torch.autocast(bf16)`` when asked, forward only, as HF Trainer does), backward, step and
    ``zero_grad(set_to_none=True)``, each a tracker phase. Returns (trainable params, optimizer, loss)."""
    import torch

    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(sc, params)
    _warm_optimizer(opt, params)
    B, S = sc["batch"], sc["seq_len"]
    ids = _rand_ids(B, S, cfgd["vocab_size"], device)
    ctx["param_count_exact"] = _n_params(model.parameters())
    ctx["param_count_trainable"] = _n_params(params)
    ctx["weights_bytes"] = _storage_bytes(model.parameters())
    ctx["buffers_bytes"] = _storage_bytes(model.buffers())
    _register_model(tracker, model)
    tracker.register_optimizer(opt)
    tracker.register([ids], "inputs")
    tracker.add_dynamic("gradients", lambda: [p.grad for p in params if p.grad is not None])
    ac = torch.autocast(device_type=device, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    ctx["before_run"]()
    with ctx["tracking"]():
        tracker.set_phase("forward")
        with ac:
            loss = model(input_ids=ids, labels=ids).loss
        tracker.set_phase("backward")
        loss.backward()
        loss_val = float(loss.detach().float())
        del loss
        tracker.set_phase("optimizer_step")
        opt.step()
        tracker.set_phase("zero_grad")
        opt.zero_grad(set_to_none=True)
        tracker.set_phase("done")
    return params, opt, loss_val


def run_train(case, device, tracker, ctx):
    import torch

    sc, cfgd = case["scenario"], case["arch_config"]
    is_lora = sc["mode"] == "train_lora"
    if is_lora:
        wdtype = torch.bfloat16
    else:
        wdtype = torch.bfloat16 if sc["dtype"] == "bf16" else torch.float32
    autocast = sc["dtype"] == "fp32-autocast-bf16"
    model = build_model(cfgd, wdtype, sc["attn_impl"], sc.get("experts_impl")).to(device)
    gc_kwargs = {"use_reentrant": False}
    if sc["grad_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    if is_lora:
        model.requires_grad_(False)
        model = _lora_model(model, sc["lora"])
    params, opt, loss_val = _one_training_step(model, sc, cfgd, device, tracker, ctx, autocast=autocast)
    ctx["extra"].update(
        {
            "trainable_param_dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params}),
            "optimizer_defaults": _opt_defaults(opt),
            "experts_impl": getattr(getattr(model, "config", None), "_experts_implementation", None),
            "grad_checkpointing_kwargs": gc_kwargs if sc["grad_checkpointing"] else None,
            "zero_grad": "set_to_none after step (grads do not exist during forward)",
            "autocast": "torch.autocast(bf16) around forward only" if autocast else None,
            "loss": loss_val,
        }
    )


def _selective_log_softmax(logits, index):
    """trl.trainer.utils.selective_log_softmax (fp32: gather - logsumexp per row; 16-bit: per-row log_softmax)."""
    import torch
    import torch.nn.functional as F

    if logits.dtype in (torch.float32, torch.float64):
        selected = torch.gather(logits, dim=-1, index=index.unsqueeze(-1)).squeeze(-1)
        lse = torch.stack([torch.logsumexp(lg, dim=-1) for lg in logits])
        return selected - lse
    rows = []
    for row_logits, row_labels in zip(logits, index, strict=True):
        row_logps = F.log_softmax(row_logits, dim=-1)
        rows.append(row_logps.gather(dim=-1, index=row_labels.unsqueeze(-1)).squeeze(-1))
    return torch.stack(rows)


def _per_token_logps(model, input_ids, attention_mask, logits_to_keep, temperature=1.0):
    """As TRL GRPOTrainer._get_per_token_logps: keep logits_to_keep+1 positions, drop the last."""
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=logits_to_keep + 1
    ).logits
    logits = logits[:, :-1, :]
    ids = input_ids[:, -logits_to_keep:]
    logits = logits[:, -logits_to_keep:]
    logits = logits / temperature
    return _selective_log_softmax(logits, ids)


def run_grpo(case, device, tracker, ctx):
    import torch

    sc, cfgd = case["scenario"], case["arch_config"]
    k, P, C, beta = sc["k"], sc["prompt_len"], sc["completion_len"], sc["beta"]
    is_lora = sc["lora"] is not None
    policy = build_model(cfgd, torch.bfloat16, sc["attn_impl"]).to(device)
    ref = None
    if not is_lora:
        ref = copy.deepcopy(policy).eval()
        ref.requires_grad_(False)
    if sc["grad_checkpointing"]:
        policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    hf_model = policy
    if is_lora:
        policy.requires_grad_(False)
        policy = _lora_model(policy, sc["lora"])
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = _make_optimizer(sc, params)
    _warm_optimizer(opt, params)
    prompt = _rand_ids(1, P, cfgd["vocab_size"], device).repeat(k, 1)
    pmask = torch.ones_like(prompt)
    ctx["param_count_exact"] = _n_params(policy.parameters())
    ctx["param_count_trainable"] = _n_params(params)
    ctx["param_count_ref_model"] = _n_params(ref.parameters()) if ref is not None else None
    ctx["weights_bytes"] = _storage_bytes(list(policy.parameters()) + (list(ref.parameters()) if ref else []))
    ctx["buffers_bytes"] = _storage_bytes(policy.buffers())
    _register_model(tracker, policy)
    if ref is not None:
        tracker.register(list(ref.parameters()) + list(ref.buffers()), "ref_parameters")
    tracker.register_optimizer(opt)
    tracker.register([prompt, pmask], "inputs")
    tracker.add_dynamic("gradients", lambda: [p.grad for p in params if p.grad is not None])
    torch.manual_seed(0)
    ctx["before_run"]()
    with ctx["tracking"]():
        # ---- rollout: k completions with the policy, KV cache, no grad, eval mode
        policy.eval()
        gp = GenerationPhases(tracker, hf_model, prefix="rollout_")
        with torch.no_grad():
            seqs = policy.generate(
                input_ids=prompt,
                attention_mask=pmask,
                max_new_tokens=C,
                min_new_tokens=C,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                pad_token_id=case_defs.pad_id(cfgd),
            )
        gp.remove()
        kv_end = gp.kv_bytes_last
        tracker.set_phase("scoring")
        attn_mask = torch.ones_like(seqs)
        completion_mask = torch.ones(k, C, dtype=torch.int64, device=device)
        rewards = torch.rand(k, device=device)
        advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
        # ---- reference log-probs
        tracker.set_phase("ref_logprobs")
        with torch.no_grad():
            if ref is not None:
                ref_logps = _per_token_logps(ref, seqs, attn_mask, C)
            else:
                with policy.disable_adapter():
                    ref_logps = _per_token_logps(policy, seqs, attn_mask, C)
        # ---- policy forward + loss (TRL GRPO loss, num_iterations=1, k3 KL)
        policy.train()
        tracker.set_phase("policy_forward")
        logps = _per_token_logps(policy, seqs, attn_mask, C)
        per_token_kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        coef_1 = torch.exp(logps - logps.detach())
        coef_2 = torch.clamp(coef_1, 1 - 0.2, 1 + 0.2)
        l1 = coef_1 * advantages.unsqueeze(1)
        l2 = coef_2 * advantages.unsqueeze(1)
        per_token_loss = -torch.min(l1, l2) + beta * per_token_kl
        loss = (per_token_loss * completion_mask).sum() / completion_mask.sum().clamp(min=1.0)
        tracker.set_phase("backward")
        loss.backward()
        loss_val = float(loss.detach().float())
        del loss, per_token_loss, l1, l2, coef_1, coef_2, per_token_kl, logps
        tracker.set_phase("optimizer_step")
        opt.step()
        tracker.set_phase("zero_grad")
        opt.zero_grad(set_to_none=True)
        tracker.set_phase("done")
    ctx["kv_cache_bytes_end"] = kv_end
    ctx["extra"].update(
        {
            "trainable_param_dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params}),
            "optimizer_defaults": _opt_defaults(opt),
            "seqs_shape": list(seqs.shape),
            "cache_class": gp.cache_class,
            "loss": loss_val,
            "grad_checkpointing_kwargs": {"use_reentrant": False} if sc["grad_checkpointing"] else None,
        }
    )


def _quantized_bnb_model(cfgd, sc):
    """A bitsandbytes 4-bit model as ``from_pretrained(..., quantization_config=...)`` builds it: the random bf16
    model is saved to a temporary folder and loaded back quantized (``from_config`` takes no quantization)."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    q = sc["qlora_bnb"]
    qc = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=q["quant_type"],
        bnb_4bit_use_double_quant=q["double_quant"],
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    tmp = tempfile.mkdtemp(prefix="vram-bnb-")
    try:
        build_model(cfgd, torch.bfloat16, sc["attn_impl"]).save_pretrained(tmp)
        return AutoModelForCausalLM.from_pretrained(
            tmp, quantization_config=qc, dtype=torch.bfloat16, attn_implementation=sc["attn_impl"]
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_train_qlora_bnb(case, device, tracker, ctx):
    """HF + bitsandbytes + peft QLoRA as the PEFT/TRL recipes run it: 4-bit base (nf4 or fp4, double quant,
    bf16 compute), ``prepare_model_for_kbit_training`` (casts every non-4-bit parameter to fp32, enables
    gradient checkpointing with the reentrant checkpoint of transformers 4.x), peft LoRA with its default fp32
    adapters, and one Trainer-like step: ``torch.autocast(bf16)`` around the forward (HF Trainer ``bf16=True``),
    backward, AdamW step."""
    from peft import prepare_model_for_kbit_training

    sc, cfgd = case["scenario"], case["arch_config"]
    model = _quantized_bnb_model(cfgd, sc).to(device)
    gc_kwargs = {"use_reentrant": True}
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=sc["grad_checkpointing"], gradient_checkpointing_kwargs=gc_kwargs
    )
    model = _lora_model(model, sc["lora"])
    params, opt, loss_val = _one_training_step(model, sc, cfgd, device, tracker, ctx, autocast=True)
    dtypes: dict[str, int] = {}
    for p in model.parameters():
        key = f"{type(p).__name__}:{str(p.dtype).replace('torch.', '')}"
        dtypes[key] = dtypes.get(key, 0) + p.numel()
    ctx["extra"].update(
        {
            "parameter_dtypes_after_prepare": dtypes,
            "trainable_param_dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params}),
            "optimizer_defaults": _opt_defaults(opt),
            "grad_checkpointing_kwargs": gc_kwargs if sc["grad_checkpointing"] else None,
            "autocast": "torch.autocast(bf16) around forward only (HF Trainer bf16=True)",
            "bitsandbytes_version": __import__("bitsandbytes").__version__,
            "loss": loss_val,
        }
    )


RUNNERS = {"inference": run_inference, "train_full": run_train, "train_lora": run_train, "grpo": run_grpo}
RUNNERS["train_qlora_bnb"] = run_train_qlora_bnb  # HF + bitsandbytes + peft QLoRA


# ============================================================================ one case (child process)


def _cuda_context_probe():
    """Device memory in use before this process initialises CUDA (device-wide driver reading, NVML or
    ``nvidia-smi``), then CUDA init.  The memory outside PyTorch's allocator is computed after the run by
    :func:`_cuda_outside_after_run` from the same driver source (mixing NVML before with ``cudaMemGetInfo``
    right after init, as before, gave negative context sizes: the two count driver-reserved memory
    differently, and right after init there is almost nothing to measure)."""
    import torch

    from cuda_allocator import DriverMemory

    driver = DriverMemory(0)
    used_before, source = driver.device_used()  # no CUDA context yet
    torch.cuda.init()
    torch.empty(1, device="cuda")
    torch.cuda.synchronize()
    total = torch.cuda.mem_get_info()[1]
    return {
        "device_name": torch.cuda.get_device_name(0),
        "total_bytes": total,
        "used_before_init_bytes": used_before,
        "used_before_init_source": source,
        "_driver": driver,
    }


def _cuda_outside_after_run(info: dict) -> dict:
    """Memory outside the allocator after the run: the driver's per-process figure (or the device-wide
    increase since before init) minus ``memory_reserved()`` (cuda_allocator.outside_allocator)."""
    import torch

    from cuda_allocator import outside_allocator

    driver = info.pop("_driver")
    reserved = int(torch.cuda.memory_reserved())
    proc, psrc = driver.process_used(os.getpid())
    dev, dsrc = driver.device_used()
    val, method = outside_allocator(proc, dev, info["used_before_init_bytes"], reserved)
    return {
        "outside_allocator_bytes": val,
        "context_bytes": val,  # the former name of the same quantity
        "outside_method": method,
        "process_used_bytes": proc,
        "process_used_source": psrc,
        "device_used_after_bytes": dev,
        "device_used_source": dsrc,
        "reserved_at_reading_bytes": reserved,
    }


def _phase_marker(phase: str) -> None:
    """A zero-length profiler range, so allocator events can be attributed to tracker phases."""
    import torch

    with torch.profiler.record_function("vram_phase:" + phase):
        pass


def _allocator_peak(prof, baseline):
    """Peak of the CPU allocator from the profiler's memory events (these include buffers that kernels
    allocate internally and free before returning, which the tensor tracker cannot see), the phase it
    happened in, and per-phase allocator peaks.  ``baseline`` = tensor bytes alive at start."""
    try:
        evs = list(prof.profiler.kineto_results.events())
    except Exception:
        return None
    marks, mem = [], []
    for e in evs:
        n = e.name()
        if n == "[memory]":
            mem.append((e.start_ns(), e.nbytes()))
        elif n.startswith("vram_phase:"):
            marks.append((e.start_ns(), n.split(":", 1)[1]))
    mem.sort()
    marks.sort()
    cum = peak = 0
    peak_phase = "init"
    per_phase: dict[str, int] = {}
    mi, phase = 0, "init"
    for t, nb in mem:
        while mi < len(marks) and marks[mi][0] <= t:
            phase = marks[mi][1]
            mi += 1
        cum += nb
        if cum > per_phase.get(phase, -(1 << 62)):
            per_phase[phase] = cum
        if cum > peak:
            peak, peak_phase = cum, phase
    return {
        "allocator_peak_bytes": baseline + peak,
        "allocator_events": len(mem),
        "allocator_peak_phase": peak_phase,
        "allocator_phase_peaks_bytes": {k: baseline + v for k, v in per_phase.items()},
    }


def run_case(case_id: str, device: str, threads: int, profile_allocator: bool) -> dict:
    t_total = time.time()
    import torch

    from tracker import MemoryTracker

    torch.set_num_threads(threads)
    case = case_defs.get_case(case_id)
    arch = case_defs.ARCHS[case["arch"]]
    case["arch_config"] = copy.deepcopy(arch["config"])
    cuda_info = _cuda_context_probe() if device == "cuda" else None

    tracker = MemoryTracker(device=device)
    holder = {}
    ctx = {"extra": {}, "param_count_ref_model": None, "kv_cache_bytes_end": None}

    def before_run():
        import gc

        gc.collect()
        holder["rss_before"] = _proc_status().get("VmRSS")
        holder["hwm_reset"] = _reset_hwm()
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            holder["cuda_alloc_start"] = torch.cuda.memory_allocated()
            holder["cuda_reserved_start"] = torch.cuda.memory_reserved()

    @contextlib.contextmanager
    def tracking():
        prof_cm = contextlib.nullcontext()
        if profile_allocator and device == "cpu":
            from torch.profiler import ProfilerActivity, profile

            prof_cm = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            tracker.on_phase = _phase_marker
        holder["t0"] = time.time()
        with prof_cm as prof, tracker:
            yield
        tracker.on_phase = None
        holder["seconds"] = time.time() - holder["t0"]
        holder["status_after"] = _proc_status()
        holder["prof"] = prof
        if device == "cuda":
            torch.cuda.synchronize()

    ctx["before_run"] = before_run
    ctx["tracking"] = tracking
    RUNNERS[case["scenario"]["mode"]](case, device, tracker, ctx)

    s = tracker.summary()
    st = holder.get("status_after") or _proc_status()
    alloc = None
    if holder.get("prof") is not None:
        alloc = _allocator_peak(holder["prof"], s["baseline_bytes"])
    alloc = alloc or {}
    if device == "cuda":
        cuda_info.update(
            {
                "max_memory_allocated_bytes": torch.cuda.max_memory_allocated(),
                "max_memory_reserved_bytes": torch.cuda.max_memory_reserved(),
                "memory_allocated_start_bytes": holder.get("cuda_alloc_start"),
                "memory_reserved_start_bytes": holder.get("cuda_reserved_start"),
                "memory_allocated_end_bytes": torch.cuda.memory_allocated(),
                **_cuda_outside_after_run(cuda_info),
                "note": "max_memory_allocated includes everything allocated before the run (weights, optimizer "
                "state); outside_allocator_bytes is device memory the process holds outside PyTorch's allocator",
            }
        )
    vers = _versions()
    measured = {
        "peak_bytes": s["peak_bytes"],
        "breakdown_at_peak": s["breakdown_at_peak"],
        "peak_where": s["peak_where"],
        "phase_peaks_bytes": s["phase_peaks_bytes"],
        "baseline_bytes": s["baseline_bytes"],
        "end_bytes": s["end_bytes"],
        "top_activations_at_peak": s["top_activations_at_peak"],
        "weights_bytes": ctx["weights_bytes"],
        "buffers_bytes": ctx["buffers_bytes"],
        "kv_cache_bytes_end": ctx["kv_cache_bytes_end"],
        "allocator_peak_bytes": alloc.get("allocator_peak_bytes"),
        "allocator_events": alloc.get("allocator_events"),
        "allocator_peak_phase": alloc.get("allocator_peak_phase"),
        "allocator_phase_peaks_bytes": alloc.get("allocator_phase_peaks_bytes"),
        "rss": None
        if device == "cuda"
        else {
            "rss_before_bytes": holder.get("rss_before"),
            "rss_after_bytes": st.get("VmRSS"),
            "hwm_bytes": st.get("VmHWM") if holder.get("hwm_reset") else None,
            "hwm_minus_rss_before_bytes": (st["VmHWM"] - holder["rss_before"])
            if holder.get("hwm_reset") and st.get("VmHWM") and holder.get("rss_before")
            else None,
            "note": "process-level, includes malloc caching and non-tensor memory; CPU only",
        },
        "cuda": cuda_info,
        "attention_ops_seen": s["attention_ops_seen"],
        "n_ops": s["n_ops"],
        "n_late_registered": s["n_late_registered"],
        "device": device,
        **vers,
        "num_threads": torch.get_num_threads(),
        "phase_seconds": s["phase_seconds"],
        "extra": ctx["extra"],
    }
    rec = {
        "id": case["id"],
        "arch_name": case["arch"],
        "arch_real_num_hidden_layers": arch["real_layers"],
        **({"arch_real_vision_depth": arch["real_vision_depth"]} if "real_vision_depth" in arch else {}),
        "arch_config": case["arch_config"],
        "scenario": case["scenario"],
        "param_count_exact": ctx["param_count_exact"],
        "param_count_trainable": ctx["param_count_trainable"],
        "param_count_ref_model": ctx["param_count_ref_model"],
        "measured": measured,
        "device": device if device != "cuda" else f"cuda:{cuda_info.get('device_name')}",
        **vers,
        "measured_at": _dt.date.today().isoformat(),
        "seconds": round(holder.get("seconds", 0.0), 2),
        "seconds_total": round(time.time() - t_total, 2),
    }
    return rec


# ============================================================================ orchestration (parent)


def _child(case_id, device, threads, profile_allocator, result_file, err_file):
    """Entry point of a forked child: run one case, write its record (or the traceback)."""
    import traceback

    try:
        rec = run_case(case_id, device, threads, profile_allocator)
        with open(result_file, "w") as f:
            json.dump(rec, f)
    except BaseException:
        with open(err_file, "w") as f:
            f.write(traceback.format_exc())
        os._exit(1)
    os._exit(0)


def _load(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    return recs


def _write(path, recs):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join("validation", "results", "cpu.jsonl"))
    ap.add_argument("--only", default=None, help="glob, substring, or re:REGEX matched against case ids")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per case")
    ap.add_argument(
        "--no-allocator-profile",
        action="store_true",
        help="skip the torch.profiler allocator trace (CPU only; saves time)",
    )
    ap.add_argument("--list", action="store_true", help="print the selected case ids and exit")
    ap.add_argument(
        "--isolation",
        choices=("fork", "subprocess"),
        default=None,
        help="how each case gets its own process (default: fork on cpu, subprocess on cuda)",
    )
    cuda_allocator.add_arguments(ap)  # --allocator-cases ...: the full-size allocator protocol (GPU)
    ap.add_argument("--run-case", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.allocator_cases:
        if args.backend == "cuda" and args.device != "cuda":
            print("--allocator-cases measures on a GPU: add --device cuda", file=sys.stderr)
            return 2
        if args.out == ap.get_default("out"):
            print("--allocator-cases: give --out validation/results/cuda-<gpu>.jsonl", file=sys.stderr)
            return 2
        return 1 if cuda_allocator.run_all(args) else 0

    if args.run_case:
        rec = run_case(args.run_case, args.device, args.threads, not args.no_allocator_profile)
        with open(args.result_file, "w") as f:
            json.dump(rec, f)
        return 0

    selected = case_defs.select(case_defs.all_cases(), args.only)
    if args.list:
        for c in selected:
            print(c["id"])
        return 0
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA device available", file=sys.stderr)
            return 2

    isolation = args.isolation or ("fork" if args.device == "cpu" else "subprocess")
    if isolation == "fork":
        # import the heavy libraries once; every case still runs in its own (forked) process
        import multiprocessing as mp

        import torch
        import transformers  # noqa: F401

        with contextlib.suppress(ImportError):
            import peft  # noqa: F401
        mpctx = mp.get_context("fork")

    order = [c["id"] for c in case_defs.all_cases()]
    existing = {r["id"]: r for r in _load(args.out)}
    failures = []
    t_all = time.time()
    for i, c in enumerate(selected):
        fd, tmp = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        t0 = time.time()
        if isolation == "fork":
            errf = tmp + ".err"
            proc = mpctx.Process(
                target=_child,
                args=(c["id"], args.device, args.threads, not args.no_allocator_profile, tmp, errf),
            )
            proc.start()
            proc.join(args.timeout)
            if proc.is_alive():
                proc.kill()  # our own child, by its handle
                proc.join()
                ok, err = False, f"timeout after {args.timeout}s"
            else:
                ok = proc.exitcode == 0 and os.path.getsize(tmp) > 0
                err = Path(errf).read_text()[-3000:] if os.path.exists(errf) else f"exit code {proc.exitcode}"
            if os.path.exists(errf):
                os.unlink(errf)
        else:
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--run-case",
                c["id"],
                "--device",
                args.device,
                "--threads",
                str(args.threads),
                "--result-file",
                tmp,
            ]
            if args.no_allocator_profile:
                cmd.append("--no-allocator-profile")
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                ok = p.returncode == 0 and os.path.getsize(tmp) > 0
                err = (p.stderr or "")[-3000:]
            except subprocess.TimeoutExpired:
                ok, err = False, f"timeout after {args.timeout}s"
        dt = time.time() - t0
        if ok:
            with open(tmp) as f:
                rec = json.load(f)
            existing[rec["id"]] = rec
            recs = sorted(existing.values(), key=lambda r: order.index(r["id"]) if r["id"] in order else 1e9)
            _write(args.out, recs)
            m = rec["measured"]
            print(
                f"[{i + 1}/{len(selected)}] {c['id']}: peak {m['peak_bytes'] / 2**20:.1f} MiB at "
                f"{m['peak_where']['phase']}/{m['peak_where']['op']} ({dt:.1f}s)",
                flush=True,
            )
        else:
            failures.append({"id": c["id"], "error": err})
            print(f"[{i + 1}/{len(selected)}] {c['id']}: FAILED ({dt:.1f}s)\n{err}", flush=True)
        os.unlink(tmp)
    print(
        f"done: {len(selected) - len(failures)} ok, {len(failures)} failed, {time.time() - t_all:.0f}s total",
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
