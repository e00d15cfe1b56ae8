"""English templates of the engine's error codes (registered into :data:`messages.TEMPLATES`).

Codes are ``error.<area>.<what>`` and stable: the site translates them (``msg.<code>`` in ``site/i18n``) and
tests match them. Parameters are numbers and short identifiers: ``field`` (the request field or the config key
at fault, as the user wrote it), ``key`` (a config key), ``limit``/``real`` (bounds), ``expected`` (a comma-
separated list of accepted values), ``got`` (the offending value, shortened), ``detail`` (English text from a
lower layer, used only by the fallback codes at the end).
"""

from __future__ import annotations

ERROR_TEMPLATES: dict[str, str] = {
    # The request as JSON (web API) or as a whole.
    "error.json.invalid": "the text is not valid JSON (line {line}, column {column})",
    "error.json.too_deep": "the JSON nests objects or lists more than {limit} levels deep",
    "error.json.number_too_long": "a number in the JSON has more than {limit:,} digits",
    "error.json.non_finite": "the JSON contains {got}, which is not a number JSON allows",
    "error.json.not_object": "the request must be a JSON object",
    "error.json.too_large": "the request is larger than {limit:,} bytes",
    "error.json.not_text": "the request must be JSON text",
    "error.request.unknown_op": "unknown operation {got}; one of: {expected}",
    # Request fields (pydantic error types mapped to codes; `field` is the request field).
    "error.input.missing": "{field} is required",
    "error.input.unknown_field": "{field} is not a request field",
    "error.input.not_integer": "{field} must be a whole number",
    "error.input.not_number": "{field} must be a number",
    "error.input.not_finite": "{field} must be a finite number",
    "error.input.not_boolean": "{field} must be true or false",
    "error.input.not_string": "{field} must be text",
    "error.input.not_object": "{field} must be a JSON object",
    "error.input.ge": "{field} must be at least {limit}",
    "error.input.gt": "{field} must be greater than {limit}",
    "error.input.le": "{field} must be at most {limit}",
    "error.input.lt": "{field} must be less than {limit}",
    "error.input.choice": "{field} must be one of: {expected}",
    "error.input.too_long": "{field} must be at most {limit:,} characters long",
    "error.input.invalid": "{field} has an invalid value",
    # Cross-field checks of the request.
    "error.request.no_model": "choose a catalog model or give a config.json",
    "error.request.gen_len_vs_seq_len": (
        "gen_len ({gen_len:,}) must be smaller than seq_len ({seq_len:,}): seq_len counts prompt + generated tokens"
    ),
    "error.request.tp_pp_vs_gpus": "tp × pp = {tp_pp} needs at least that many GPUs (gpus = {gpus})",
    "error.request.gpus_not_multiple": "gpus ({gpus}) must be a multiple of tp × pp ({tp_pp})",
    "error.request.zero_and_fsdp": "choose either DeepSpeed ZeRO or FSDP, not both",
    "error.request.offload_needs_sharding": (
        "CPU offload needs DeepSpeed ZeRO (offload_optimizer / offload_param) or FSDP"
    ),
    "error.request.fsdp_offload_all": (
        "FSDP offloads parameters, gradients and optimizer together (CPUOffload(offload_params=True)): choose "
        "optimizer+params"
    ),
    "error.request.param_offload_zero3": "offloading parameters needs ZeRO-3 (offload_param is a stage-3 option)",
    "error.request.param_offload_full_shard": "offloading parameters needs FSDP FULL_SHARD or HYBRID_SHARD",
    "error.request.optimizer_in_bwd_accum": (
        "optimizer_in_bwd steps every parameter in backward: it needs grad_accum = 1"
    ),
    "error.request.torchtune_fp16": "torchtune trains in bf16 or fp32; fp16 is not supported by its recipes",
    "error.request.torchtune_zero": "torchtune shards with FSDP (fsdp), not DeepSpeed ZeRO",
    "error.request.zero_pp": (
        "DeepSpeed does not combine ZeRO stage {zero} with pipeline parallelism (pp {pp}): 'ZeRO-2 and ZeRO-3 "
        "are incompatible with pipeline parallelism' (runtime/pipe/engine.py); use zero 1 or pp 1"
    ),
    "error.request.grpo_generations": "GRPO needs num_generations ≥ 2 (advantages are relative within a group)",
    # A config.json (pasted, uploaded or from a file); `field` is config.<path to the key>.
    "error.config.not_object": "config.json must be a JSON object",
    "error.config.missing": "config.json is missing {key} (needed to size the model)",
    "error.config.not_integer": "config.json field {key} must be a whole number, got {got}",
    "error.config.not_string": "config.json field {key} must be text, got {got}",
    "error.config.not_list": "config.json field {key} must be a list, got {got}",
    "error.config.too_small": "config.json field {key} must be at least {limit:,}, got {got}",
    "error.config.too_large": (
        "config.json field {key} must be at most {limit:,} (the largest real models use {real:,}), got {got}"
    ),
    "error.config.list_length": "config.json field {key} must list exactly {length} numbers",
    "error.config.list_too_long": "config.json field {key} has {length:,} entries; at most {limit:,} are accepted",
    "error.config.too_deep": "config.json nests objects or lists more than {limit} levels deep",
    "error.config.too_many_keys": "config.json has more than {limit:,} fields",
    "error.config.not_number": "config.json field {key} must be a number, got {got}",
    "error.config.bad_choice": "config.json field {key} must be one of: {expected}; got {got}",
    "error.config.not_multiple": "config.json field {key} ({value:,}) must be a multiple of {other} ({other_value:,})",
    "error.config.below_other": "config.json field {key} ({value:,}) must be at least {other} ({other_value:,})",
    "error.config.lengths_differ": "config.json fields {key} and {other} must list the same number of entries",
    "error.config.heads_not_multiple": (
        "num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kv_heads})"
    ),
    "error.config.hidden_not_divisible": (
        "hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}); set head_dim"
    ),
    "error.config.top_k_above_experts": (
        "num_experts_per_tok ({top_k}) cannot exceed the number of experts ({experts})"
    ),
    # Catalog look-ups and engine-level incompatibilities.
    "error.model.unknown": "unknown model id {got}; the catalog lists the known ones",
    "error.model.no_tower": "this model has no vision or audio tower: use the text modes",
    "error.gpu.unknown": "unknown GPU id {got}; the catalog lists the known ones",
    "error.gpu.required_for_colocated_vllm": "colocated vLLM reserves a fraction of the GPU: choose a GPU",
    "error.weights.unknown": "weights {got}: not a weight format the engine knows; use one of: {expected}",
    "error.weights.llama_cpp_needs_gguf": (
        "llama.cpp runs GGUF files: weights {got} is a Hugging Face checkpoint format; choose a GGUF type "
        "(q4_k_m, q8_0, …) or runtime transformers / vLLM"
    ),
    "error.weights.gguf_needs_llama_cpp": (
        "{runtime} loads Hugging Face checkpoints: weights {got} is a GGUF (llama.cpp) type; set runtime to llama.cpp"
    ),
    "error.weights.vllm_gguf": (
        "vLLM loads Hugging Face checkpoints: its GGUF loading is experimental and since 0.25 lives in "
        "vllm-gguf-plugin; weights {got} needs runtime llama.cpp"
    ),
    "error.weights.mxfp4_dense": (
        "weights mxfp4: MXFP4 checkpoints quantize the routed experts of an MoE model (gpt-oss); {model} has no "
        "experts, choose bf16, fp8, gptq-int8, int4 or nf4"
    ),
    "error.kv_cache_dtype.unknown": "unknown KV-cache dtype {got}; use one of: {expected}",
    "error.kv_cache_dtype.needs_flash": (
        "llama.cpp needs flash attention for a quantized V cache: set attention to flash or auto (sdpa)"
    ),
    "error.lora_targets.unknown": "LoRA target module(s) {got} not in this model; available: {expected}",
    "error.seq_len.above_decoder_max": "this decoder handles at most {limit:,} tokens per sequence",
    "error.config.encoder_decoder_pair": (
        "vision-encoder-decoder with {encoder} + {decoder} is not supported (donut-swin + mbart is)"
    ),
    # Runtimes: what vLLM and llama.cpp accept.
    "error.vllm_version.format": "vllm_version must look like 0.21 or 0.6.4, got {got}",
    "error.vllm_version.unsupported": (
        "vllm_version {got}: the modelled versions are 0.6 to 0.34 (V0 engine 0.6–0.7, V1 engine 0.8 on)"
    ),
    "error.vllm.batched_below_model_len": (
        "max_num_batched_tokens ({tokens:,}) is smaller than max_model_len ({model_len:,}) without chunked prefill: "
        "vLLM rejects this (it would cap every prompt at max_num_batched_tokens). Raise max_num_batched_tokens, "
        "lower the context or enable chunked prefill"
    ),
    "error.vllm.tp_heads": (
        "tp {tp} does not divide the model's {heads} attention heads: vLLM refuses to start (config verify: "
        "'Total number of attention heads must be divisible by tensor parallel size')"
    ),
    "error.vllm.batched_below_seqs": (
        "max_num_batched_tokens ({tokens:,}) must be at least max_num_seqs ({seqs:,}), as vLLM requires"
    ),
    "error.kv_cache_dtype.vllm": (
        "kv_cache_dtype {got} is not a vLLM cache dtype: use bf16/fp16 (vLLM's 'auto') or fp8"
    ),
    "error.kv_cache_dtype.llama_cpp": "llama.cpp's KV cache types are {expected}; {got} is not one of them",
    "error.llama_cpp.tp_pp": (
        "llama.cpp splits layers over GPUs (--split-mode layer): set gpus and leave tp and pp at 1"
    ),
    "error.llama_cpp.batch_size": (
        "llama.cpp serves concurrent sequences through slots: set parallel (-np) and give the context of all slots "
        "together as seq_len (-c), with batch_size 1"
    ),
    "error.llama_cpp.gpu_layers": (
        "gpu_layers (-ngl) {got} is more than this model's {slots} layers ({repeating} repeating + output): use at "
        "most {slots}, or leave it empty for all"
    ),
    "error.iogpu_wired_limit.above_ram": (
        "iogpu_wired_limit_mb {mb:,} MiB exceeds the {ram_mib:,} MiB of unified memory of {gpu}"
    ),
    "error.media.aspect_ratio": (
        "Qwen-VL processors reject images whose long side is more than {limit} × the short side: "
        "crop or pad the image"
    ),
    # Fallbacks: a lower layer's English text (``detail``) under a code the site can still place and label.
    "error.config.invalid": "config.json cannot be used: {detail}",
    "error.input.rejected": "{detail}",
    "error.internal": "the engine could not compute this input ({detail}); please report it",
}
