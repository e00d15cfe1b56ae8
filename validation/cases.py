"""Architectures and the list of measured cases.

Every architecture keeps the real model's hidden size, heads, KV heads, head_dim, intermediate
sizes and vocabulary; only ``num_hidden_layers`` is reduced (``real_layers`` records the original).
``config`` is exactly the dict handed to ``transformers.AutoConfig.for_model(**config)`` and is
written to each result record as ``arch_config`` so the engine can be fed the same thing.

Most architectures differ from the calibration set (qwen2.5-0.5b dims only), so the engine is
validated on models nobody fitted to.
"""

from __future__ import annotations

import copy
import fnmatch
import re

LLAMA3_ROPE = {
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3",
}

ARCHS: dict[str, dict] = {
    # Llama-3.2-1B: dense GQA, tied embeddings, big vocab
    "llama-3.2-1b": {
        "real_layers": 16,
        "config": {
            "model_type": "llama",
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "vocab_size": 128256,
            "num_hidden_layers": 2,
            "tie_word_embeddings": True,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": LLAMA3_ROPE,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
        },
    },
    # Llama-3.1-8B: GQA 32/8, vocab 128256, untied (the model of Unsloth's HF + bitsandbytes QLoRA benchmark)
    "llama-3.1-8b": {
        "real_layers": 32,
        "config": {
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "vocab_size": 128256,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": LLAMA3_ROPE,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
        },
    },
    # Llama-3.2-3B: head_dim 128, 24 heads, 8 kv heads
    "llama-3.2-3b": {
        "real_layers": 28,
        "config": {
            "model_type": "llama",
            "hidden_size": 3072,
            "intermediate_size": 8192,
            "num_attention_heads": 24,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "vocab_size": 128256,
            "num_hidden_layers": 2,
            "tie_word_embeddings": True,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": LLAMA3_ROPE,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
        },
    },
    # Mistral-7B-v0.3: GQA 32/8, small vocab, untied
    "mistral-7b-v0.3": {
        "real_layers": 32,
        "config": {
            "model_type": "mistral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32768,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "sliding_window": None,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    },
    # Llama-2-7B: MHA (32 kv heads), vocab 32000
    "llama-2-7b": {
        "real_layers": 32,
        "config": {
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "vocab_size": 32000,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
            "max_position_embeddings": 4096,
            "rope_theta": 10000.0,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    },
    # Qwen3-0.6B: q/k RMSNorm, explicit head_dim 128 (heads*head_dim = 2048 != hidden 1024), tied
    "qwen3-0.6b": {
        "real_layers": 28,
        "config": {
            "model_type": "qwen3",
            "hidden_size": 1024,
            "intermediate_size": 3072,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "vocab_size": 151936,
            "num_hidden_layers": 4,
            "tie_word_embeddings": True,
            "max_position_embeddings": 40960,
            "rope_theta": 1000000,
            "rms_norm_eps": 1e-06,
            "hidden_act": "silu",
            "attention_bias": False,
            "use_sliding_window": False,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    # Qwen3-30B-A3B: MoE, 128 experts (not reduced), top-8, fused 3-D expert weights in transformers 5
    "qwen3-30b-a3b": {
        "real_layers": 48,
        "config": {
            "model_type": "qwen3_moe",
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "moe_intermediate_size": 768,
            "num_experts": 128,
            "num_experts_per_tok": 8,
            "norm_topk_prob": True,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "num_attention_heads": 32,
            "num_key_value_heads": 4,
            "head_dim": 128,
            "vocab_size": 151936,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
            "max_position_embeddings": 40960,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-06,
            "hidden_act": "silu",
            "attention_bias": False,
            "use_sliding_window": False,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    # Mixtral 8x7B (mistralai/Mixtral-8x7B-v0.1 config.json): 8 experts top-2, GQA 32/8, vocab 32000
    "mixtral-8x7b": {
        "real_layers": 32,
        "config": {
            "model_type": "mixtral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_local_experts": 8,
            "num_experts_per_tok": 2,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32000,
            "num_hidden_layers": 1,
            "tie_word_embeddings": False,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "sliding_window": None,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.02,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    },
    # Gemma-3-1B: MQA (1 kv head), head_dim 256, vocab 262144, 5 sliding(512) : 1 full layers
    "gemma-3-1b": {
        "real_layers": 26,
        "config": {
            "model_type": "gemma3_text",
            "hidden_size": 1152,
            "intermediate_size": 6912,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 256,
            "vocab_size": 262144,
            "num_hidden_layers": 6,
            "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
            "sliding_window": 512,
            "query_pre_attn_scalar": 256,
            "rope_theta": 1000000,
            "rope_local_base_freq": 10000,
            "max_position_embeddings": 32768,
            "hidden_activation": "gelu_pytorch_tanh",
            "rms_norm_eps": 1e-06,
            "attn_logit_softcapping": None,
            "final_logit_softcapping": None,
            "tie_word_embeddings": True,
            "bos_token_id": 2,
            "eos_token_id": 1,
            "pad_token_id": 0,
        },
    },
    # Gemma-2-2B: logit soft-capping (attention 50, final 30), alternating sliding(4096)/full layers
    "gemma-2-2b": {
        "real_layers": 26,
        "config": {
            "model_type": "gemma2",
            "hidden_size": 2304,
            "intermediate_size": 9216,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "vocab_size": 256000,
            "num_hidden_layers": 2,
            "layer_types": ["sliding_attention", "full_attention"],
            "sliding_window": 4096,
            "query_pre_attn_scalar": 256,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "hidden_activation": "gelu_pytorch_tanh",
            "rms_norm_eps": 1e-06,
            "rope_theta": 10000.0,
            "max_position_embeddings": 8192,
            "tie_word_embeddings": True,
            "bos_token_id": 2,
            "eos_token_id": 1,
            "pad_token_id": 0,
        },
    },
    # Phi-3-mini-4k: fused qkv_proj and gate_up_proj, MHA, vocab 32064
    "phi-3-mini-4k": {
        "real_layers": 32,
        "config": {
            "model_type": "phi3",
            "hidden_size": 3072,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "vocab_size": 32064,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
            "max_position_embeddings": 4096,
            "original_max_position_embeddings": 4096,
            "rope_theta": 10000.0,
            "rms_norm_eps": 1e-05,
            "hidden_act": "silu",
            "sliding_window": 2047,
            "bos_token_id": 1,
            "eos_token_id": 32000,
            "pad_token_id": 32000,
        },
    },
    # Qwen2.5-VL-3B: multimodal (ViT 1280-d with window attention + 2x2 patch merger, M-RoPE text model).
    # Text layers 36 -> 2 and vision depth 32 -> 4 (full-attention block kept last, as in 7/15/23/31).
    "qwen2.5-vl-3b": {
        "real_layers": 36,
        "real_vision_depth": 32,
        "multimodal": True,
        "config": {
            "model_type": "qwen2_5_vl",
            "hidden_size": 2048,
            "intermediate_size": 11008,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
            "num_hidden_layers": 2,
            "vocab_size": 151936,
            "tie_word_embeddings": True,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "max_position_embeddings": 128000,
            "hidden_act": "silu",
            "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "vision_start_token_id": 151652,
            "vision_end_token_id": 151653,
            "vision_token_id": 151654,
            "image_token_id": 151655,
            "video_token_id": 151656,
            "vision_config": {
                "depth": 4,
                "hidden_act": "silu",
                "hidden_size": 1280,
                "intermediate_size": 3420,
                "num_heads": 16,
                "in_chans": 3,
                "out_hidden_size": 2048,
                "patch_size": 14,
                "spatial_merge_size": 2,
                "window_size": 112,
                "fullatt_block_indexes": [3],
                "tokens_per_second": 2,
                "temporal_patch_size": 2,
            },
        },
    },
}

LORA_TARGETS = {
    "attn": {"llama": ["q_proj", "k_proj", "v_proj", "o_proj"], "phi3": ["qkv_proj", "o_proj"]},
    "all": "all-linear",
}


def _scenario(**kw) -> dict:
    base = {
        "mode": None,
        "dtype": None,
        "batch": None,
        "prompt_len": None,
        "gen_len": None,
        "seq_len": None,
        "optimizer": None,
        "optimizer_impl": None,
        "grad_checkpointing": False,
        "lora": None,
        "attn_impl": "sdpa",
        "k": None,
        "completion_len": None,
        "beta": None,
    }
    base.update(kw)
    return base


def _lora(targets: str, arch: str) -> dict:
    mt = ARCHS[arch]["config"]["model_type"]
    if targets == "all":
        modules = "all-linear"
    else:
        modules = LORA_TARGETS["attn"]["phi3" if mt == "phi3" else "llama"]
    return {"r": 16, "alpha": 32, "dropout": 0.0, "targets": targets, "target_modules": modules}


def inference(arch, attn, B, S, G=8, experts_impl=None):
    cid = f"infer/{arch}/{attn}/bf16/B{B}-S{S}-G{G}" + (f"/experts-{experts_impl}" if experts_impl else "")
    sc = _scenario(
        mode="inference", dtype="bf16", batch=B, prompt_len=S, gen_len=G, seq_len=S + G, attn_impl=attn
    )
    if experts_impl:
        sc["experts_impl"] = experts_impl
    return {"id": cid, "arch": arch, "scenario": sc}


def inference_mm(arch, attn, image_px, text_tokens=40, G=8):
    """One image of image_px x image_px pixels (grid of 14-px patches, merged 2x2) + text tokens."""
    grid = image_px // 14
    n_img = (grid // 2) * (grid // 2)
    S = text_tokens + 2 + n_img  # text + <vision_start> + image pads + <vision_end>
    cid = f"infer-mm/{arch}/{attn}/bf16/B1-img{image_px}-T{text_tokens}-G{G}"
    sc = _scenario(
        mode="inference", dtype="bf16", batch=1, prompt_len=S, gen_len=G, seq_len=S + G, attn_impl=attn
    )
    sc["image"] = {
        "count": 1,
        "height": image_px,
        "width": image_px,
        "grid_thw": [1, grid, grid],
        "vit_patches": grid * grid,
        "image_tokens": n_img,
        "text_tokens": text_tokens,
        "pixel_values_dtype": "bf16",
    }
    return {"id": cid, "arch": arch, "scenario": sc}


def train(arch, dtype, B, S, opt="adamw", gc=False, momentum=None, attn="sdpa"):
    optname = opt if opt != "sgd" else f"sgd-m{momentum}"
    cid = f"train/{arch}/{dtype}/{optname}/{'gc' if gc else 'nogc'}/B{B}-S{S}" + (
        "" if attn == "sdpa" else f"/{attn}"
    )
    sc = _scenario(
        mode="train_full",
        dtype=dtype,
        batch=B,
        seq_len=S,
        optimizer=opt,
        optimizer_impl="foreach",
        grad_checkpointing=gc,
        attn_impl=attn,
    )
    if opt == "sgd":
        sc["momentum"] = momentum
    return {"id": cid, "arch": arch, "scenario": sc}


def lora(arch, targets, B, S, gc=False, attn="sdpa"):
    experts = "grouped_mm" if ARCHS[arch]["config"]["model_type"] == "qwen3_moe" else None
    cid = f"lora/{arch}/{targets}/{'gc' if gc else 'nogc'}/B{B}-S{S}" + ("" if attn == "sdpa" else f"/{attn}")
    sc = _scenario(
        mode="train_lora",
        dtype="bf16",
        batch=B,
        seq_len=S,
        optimizer="adamw",
        optimizer_impl="foreach",
        grad_checkpointing=gc,
        lora=_lora(targets, arch),
        attn_impl=attn,
    )
    if experts:
        sc["experts_impl"] = experts
    return {"id": cid, "arch": arch, "scenario": sc}


def qlora_bnb(arch, targets, B, S, gc=True, quant_type="nf4"):
    """HF + bitsandbytes + peft QLoRA (measure.run_train_qlora_bnb): 4-bit base with double quant and bf16
    compute, prepare_model_for_kbit_training, fp32 LoRA adapters, autocast(bf16) forward, AdamW."""
    cid = f"qlora-bnb/{arch}/{quant_type}/{targets}/{'gc' if gc else 'nogc'}/B{B}-S{S}"
    sc = _scenario(
        mode="train_qlora_bnb",
        dtype="amp-bf16",
        batch=B,
        seq_len=S,
        optimizer="adamw",
        optimizer_impl="foreach",
        grad_checkpointing=gc,
        lora=_lora(targets, arch),
    )
    sc["qlora_bnb"] = {
        "quant_type": quant_type,
        "double_quant": True,
        "compute_dtype": "bf16",
        "quant_storage": "uint8",
        "prepare_model_for_kbit_training": True,
    }
    return {"id": cid, "arch": arch, "scenario": sc}


def grpo(arch, kind, k, P, C, gc=False, beta=0.04):
    cid = f"grpo/{arch}/{kind}/{'gc' if gc else 'nogc'}/k{k}-P{P}-C{C}"
    sc = _scenario(
        mode="grpo",
        dtype="bf16",
        batch=1,
        prompt_len=P,
        gen_len=C,
        seq_len=P + C,
        optimizer="adamw",
        optimizer_impl="foreach",
        grad_checkpointing=gc,
        lora=_lora("attn", arch) if kind == "lora" else None,
        k=k,
        completion_len=C,
        beta=beta,
    )
    sc["grpo"] = {
        "beta": beta,
        "temperature": 1.0,
        "ref_model": "adapters disabled" if kind == "lora" else "separate copy",
        "logprob_impl": "trl.selective_log_softmax",
        "logits_to_keep": C + 1,
        "generation": "do_sample=True, top_k=0, top_p=1.0, eval mode, DynamicCache",
    }
    return {"id": cid, "arch": arch, "scenario": sc}


def all_cases() -> list[dict]:
    """~60 cases; each takes seconds to ~1 min on a 2-core CPU.  Decode steps are memory-bandwidth
    bound on CPU (every step reads all weights), so most inference cases generate G=8 tokens."""
    cs: list[dict] = []
    # ---------------- inference (bf16 weights, DynamicCache, greedy, exactly G new tokens)
    cs.append(inference("llama-3.2-1b", "sdpa", 1, 512, G=32))
    for attn in ("sdpa", "eager"):
        for B, S in ((1, 2048), (4, 512), (4, 1024)):
            cs.append(inference("llama-3.2-1b", attn, B, S, G=8))
    cs.append(inference("llama-3.2-1b", "eager", 1, 512, G=8))
    for attn, B, S in (("sdpa", 1, 1024), ("sdpa", 2, 1024), ("eager", 1, 1024)):
        cs.append(inference("llama-3.2-3b", attn, B, S, G=8))
    for attn, B, S in (("sdpa", 1, 1024), ("sdpa", 4, 512), ("eager", 1, 1024)):
        cs.append(inference("mistral-7b-v0.3", attn, B, S, G=8))
    for attn, B, S in (("sdpa", 1, 1024), ("sdpa", 2, 1024), ("eager", 1, 512)):
        cs.append(inference("llama-2-7b", attn, B, S, G=8))
    cs.append(inference("qwen3-0.6b", "sdpa", 1, 1024, G=32))
    cs.append(inference("qwen3-0.6b", "sdpa", 4, 512, G=8))
    cs.append(inference("qwen3-0.6b", "eager", 2, 512, G=8))
    for B, S in ((1, 512), (2, 1024)):
        cs.append(inference("qwen3-30b-a3b", "sdpa", B, S, G=8, experts_impl="grouped_mm"))
    cs.append(inference("qwen3-30b-a3b", "sdpa", 1, 512, G=8, experts_impl="eager"))
    # Mixtral-style MoE (8 experts, top-2) with grouped_mm at batch > 1 and longer prompts (issue 10.7)
    for B, S in ((1, 2048), (4, 1024), (8, 2048)):
        cs.append(inference("mixtral-8x7b", "sdpa", B, S, G=8, experts_impl="grouped_mm"))
    for attn, B, S in (("sdpa", 1, 1024), ("eager", 1, 1024), ("sdpa", 2, 2048)):
        cs.append(inference("gemma-3-1b", attn, B, S, G=8))
    for B, S in ((1, 1024), (2, 512)):
        cs.append(inference("gemma-2-2b", "eager", B, S, G=8))  # transformers 5.24 refuses sdpa for gemma2
    for attn, B, S in (("sdpa", 1, 1024), ("eager", 1, 512)):
        cs.append(inference("phi-3-mini-4k", attn, B, S, G=8))
    # multimodal: vision tower + prefill + decode
    cs.append(inference_mm("qwen2.5-vl-3b", "sdpa", 448))
    cs.append(inference_mm("qwen2.5-vl-3b", "sdpa", 896))
    cs.append(inference_mm("qwen2.5-vl-3b", "eager", 448))

    # ---------------- full training, one steady-state step
    for gc in (False, True):
        for B, S in ((1, 512), (2, 512)):
            cs.append(train("qwen3-0.6b", "fp32", B, S, gc=gc))
        for B, S in ((1, 512), (2, 1024)):
            cs.append(train("llama-3.2-1b", "bf16", B, S, gc=gc))
    cs.append(train("qwen3-0.6b", "fp32-autocast-bf16", 1, 512))
    # autocast + gradient checkpointing: the autocast weight cache is cleared when forward's autocast exits, so
    # backward keeps only the copies saved outside checkpointed layers (lm_head) and the recomputed layer's
    cs.append(train("qwen3-0.6b", "fp32-autocast-bf16", 2, 512, gc=True))
    cs.append(train("phi-3-mini-4k", "fp32-autocast-bf16", 1, 512, gc=True))
    cs.append(train("qwen3-0.6b", "fp32", 1, 512, attn="eager"))
    for m in (0.0, 0.9):
        cs.append(train("llama-3.2-1b", "fp32", 1, 256, opt="sgd", momentum=m))
        cs.append(train("llama-3.2-1b", "bf16", 2, 512, opt="sgd", momentum=m, gc=True))
    cs.append(train("gemma-3-1b", "bf16", 1, 512))
    cs.append(train("mistral-7b-v0.3", "bf16", 1, 512, gc=True))

    # ---------------- LoRA (base bf16 frozen, adapters fp32, AdamW)
    for gc in (False, True):
        cs.append(lora("llama-3.2-1b", "attn", 1, 512, gc=gc))
        cs.append(lora("llama-3.2-1b", "attn", 2, 1024, gc=gc))
        cs.append(lora("llama-3.2-1b", "all", 1, 1024, gc=gc))
    cs.append(lora("mistral-7b-v0.3", "attn", 1, 1024, gc=True))
    cs.append(lora("mistral-7b-v0.3", "all", 1, 512))
    cs.append(lora("phi-3-mini-4k", "all", 1, 512))
    cs.append(lora("qwen3-30b-a3b", "attn", 1, 512))

    # ---------------- HF + bitsandbytes QLoRA (prepare_model_for_kbit_training, fp32 adapters, autocast bf16)
    cs.append(qlora_bnb("llama-3.2-1b", "all", 1, 1024))
    cs.append(qlora_bnb("llama-3.2-1b", "attn", 2, 512, gc=False))
    cs.append(qlora_bnb("llama-3.2-1b", "all", 1, 1024, quant_type="fp4"))
    cs.append(qlora_bnb("mistral-7b-v0.3", "all", 1, 1024))
    cs.append(qlora_bnb("mistral-7b-v0.3", "all", 1, 512, gc=False))
    cs.append(qlora_bnb("mistral-7b-v0.3", "all", 1, 2048, gc=False))  # saved layer activations dominate
    cs.append(qlora_bnb("llama-3.1-8b", "all", 1, 1024))

    # ---------------- GRPO-like step (rollout decode is the slow part on CPU: keep C modest)
    cs.append(grpo("llama-3.2-1b", "full", 4, 256, 64))
    cs.append(grpo("llama-3.2-1b", "full", 8, 128, 32, gc=True))
    cs.append(grpo("llama-3.2-1b", "lora", 8, 128, 32, gc=True))
    cs.append(grpo("qwen3-0.6b", "lora", 4, 256, 64))
    # k from 2 to 16, LoRA and full policies (issue 10.6)
    for k in (2, 16):
        cs.append(grpo("llama-3.2-1b", "lora", k, 128, 32))
        cs.append(grpo("llama-3.2-1b", "full", k, 128, 32))
    cs.append(grpo("qwen3-0.6b", "lora", 12, 128, 32, gc=True))
    return cs


def select(cases: list[dict], pattern: str | None) -> list[dict]:
    """``pattern``: a glob (``*`` / ``?``) or a regular expression / substring matched against the id."""
    if not pattern:
        return cases
    if any(ch in pattern for ch in "*?[") and not pattern.startswith("re:"):
        return [
            c for c in cases if fnmatch.fnmatch(c["id"], pattern) or fnmatch.fnmatch(c["id"], f"*{pattern}*")
        ]
    rx = re.compile(pattern[3:] if pattern.startswith("re:") else re.escape(pattern))
    return [c for c in cases if rx.search(c["id"])]


def get_case(case_id: str) -> dict:
    for c in all_cases():
        if c["id"] == case_id:
            return copy.deepcopy(c)
    raise KeyError(case_id)


def pad_id(arch_config: dict) -> int:
    """The token id a workload pads with: the config's pad, else eos, else bos token (the first of a list), else 0."""
    for k in ("pad_token_id", "eos_token_id", "bos_token_id"):
        v = arch_config.get(k)
        if isinstance(v, list):
            v = v[0]
        if v is not None:
            return int(v)
    return 0
