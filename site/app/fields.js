// The input model: every EstimateRequest field (engine/vram_insight/schemas.py), its widget, and when it shows.
// DEFAULTS must equal EstimateRequest() so that the pre-rendered default report matches the default inputs
// (e2e/test_app.py checks this against the engine).

export const MODES = ["inference", "finetune", "training", "grpo", "multimodal"];

export const DEFAULTS = Object.freeze({
  mode: "inference",
  model: "llama-3.1-8b",
  config: null,
  num_layers: null,
  batch_size: 1,
  seq_len: 4096,
  gen_len: 0,
  grad_accum: 1,
  weights: "bf16",
  kv_cache_dtype: "bf16",
  attention: "sdpa",
  platform: "cuda",
  runtime: "transformers",
  // vLLM serving knobs (null = vLLM's default for the version and GPU)
  vllm_version: "0.21",
  gpu_memory_utilization: null,
  max_num_seqs: null,
  max_num_batched_tokens: null,
  enable_chunked_prefill: null,
  enforce_eager: false,
  block_size: null,
  logits_all_tokens: false,
  // --- llama.cpp / Ollama (runtime "llama.cpp") ---
  gpu_layers: null,
  ubatch_size: 512,
  parallel: 1,
  kv_unified: false,
  no_kv_offload: false,
  llama_cpp_build: "current",
  cpu_bandwidth_gbps: 89.6,
  ollama_gpu_overhead: 0,
  // --- end llama.cpp / Ollama ---
  precision: "amp-bf16",
  optimizer: "adamw",
  grad_checkpointing: "none",
  chunked_ce: false,
  method: "lora",
  lora_rank: 16,
  lora_alpha: 32,
  lora_targets: "default",
  adapter_dtype: "auto",
  freeze_trainable_layers: 2,
  prefix_tokens: 20,
  rl_algorithm: "grpo",
  policy: "lora",
  num_generations: 8,
  prompt_len: 512,
  completion_len: 256,
  beta: 0.0,
  generation_backend: "transformers",
  vllm_gpu_memory_utilization: 0.3,
  task: "inference",
  images: 1,
  image_width: 1024,
  image_height: 1024,
  video_frames: 0,
  audio_seconds: 0.0,
  train_vision_tower: false,
  gpus: 1,
  zero: 0,
  fsdp: "none",
  tp: 1,
  pp: 1,
  sequence_parallel: false,
  offload: "none",
  allocator: "default",
  cuda_context_mib: null,
  nccl_mib: null,
  // --- Apple Silicon (issue 11): the GPU's share of unified memory ---
  macos_version: 26,
  iogpu_wired_limit_mb: null,
  gpu: "rtx-4090",
  mfu: 0.4,
  // Training stacks and memory knobs (issues 10–11)
  framework: "hf",
  optimizer_in_bwd: false,
  activation_offloading: false,
  compile: false,
  transformers_version: "5.0",
  fsdp_shard_embeddings: false,
});

// Weight formats offered when the catalog does not list its own (catalog.weight_formats).
// (The engine's accepted lists, as its validation messages give them.)
export const WEIGHT_FORMATS = [
  "bf16", "fp16", "fp32", "fp8", "mxfp4", "int8", "gptq-int8", "int4", "nf4", "nf4-nodq", "fp4", "fp4-nodq",
  "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_1", "q5_0", "q4_k_m", "q4_k_s", "q4_1", "q4_0", "iq4_xs", "iq4_nl",
  "q3_k_l", "q3_k_m", "q3_k_s", "iq3_m", "iq3_s", "iq3_xs", "iq3_xxs", "q2_k", "iq2_m", "iq2_s", "iq2_xs", "iq2_xxs",
  "iq1_m", "iq1_s",
];
export const KV_DTYPES = ["bf16", "fp16", "fp32", "fp8", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"];

/** The workload a request really runs: multimodal mode runs its `task`. */
export const workload = (s) => (s.mode === "multimodal" ? s.task : s.mode === "grpo" ? "grpo" : s.mode);
const trains = (s) => workload(s) !== "inference";
const tunes = (s) => workload(s) === "finetune";
const vllmServing = (s) => workload(s) === "inference" && s.runtime === "vllm";
/** llama.cpp's own options apply when inference runs on llama.cpp. */
export const llamaCpp = (s) => workload(s) === "inference" && s.runtime === "llama.cpp";
// Inputs the engine reads only where PyTorch's caching allocator holds the job (not under vLLM's or llama.cpp's
// own accounting; llama.cpp's memory outside its buffers is measured whole, CUDA context included), and
// TRL's GRPO (rollouts by generate or colocated vLLM: the KV cache dtype, chunked loss, optimizer in backward and
// transformers version of the training knobs do not reach it; DPO reads chunked_ce).
const ownRuntime = (s) => !(workload(s) === "inference" && s.runtime !== "transformers");
const grpoRollouts = (s) => s.mode === "grpo" && s.rl_algorithm === "grpo";
const loraLike = (s) => (tunes(s) && (s.method === "lora" || s.method === "qlora")) || (s.mode === "grpo" && s.policy === "lora");

// --- Apple Silicon (issue 11): the Mac-only inputs show when the chosen GPU is a Mac (catalog vendor "apple"). ---
const MAC_GPUS = new Set();
/** Remember which catalog GPUs are Macs (called with the catalog's GPU list when the form is built). */
export function noteMacGpus(gpus) {
  for (const g of gpus || []) if (g && g.vendor === "apple") MAC_GPUS.add(g.id);
}
export const isMacGpu = (id) => MAC_GPUS.has(id);

/**
 * Field widgets. group: where it is placed; show(state): whether it applies to the current inputs.
 * Labels: i18n "f.<key>", help: "h.<key>", option labels: "o.<key>.<value>" (falling back to the value).
 */
export const FIELDS = [
  // Multimodal inputs
  { key: "task", group: "media", type: "select", options: ["inference", "finetune", "training"], show: (s) => s.mode === "multimodal" },
  { key: "images", group: "media", type: "int", min: 0, max: 4096, show: (s) => s.mode === "multimodal" },
  { key: "image_width", group: "media", type: "int", min: 1, max: 65536, step: 14, show: (s) => s.mode === "multimodal" && s.images > 0 },
  { key: "image_height", group: "media", type: "int", min: 1, max: 65536, step: 14, show: (s) => s.mode === "multimodal" && s.images > 0 },
  { key: "video_frames", group: "media", type: "int", min: 0, max: 100000, show: (s) => s.mode === "multimodal" },
  { key: "audio_seconds", group: "media", type: "float", min: 0, max: 86400, step: 1, show: (s) => s.mode === "multimodal" },
  { key: "train_vision_tower", group: "media", type: "bool", show: (s) => s.mode === "multimodal" && s.task !== "inference" },

  // RL
  { key: "rl_algorithm", group: "rl", type: "select", options: ["grpo", "dpo"], show: (s) => s.mode === "grpo" },
  { key: "policy", group: "rl", type: "select", options: ["lora", "full"], show: (s) => s.mode === "grpo" },
  { key: "num_generations", group: "rl", type: "int", min: 1, max: 1024, show: (s) => s.mode === "grpo" && s.rl_algorithm === "grpo" },
  { key: "prompt_len", group: "rl", type: "int", min: 1, step: 128, show: (s) => s.mode === "grpo" },
  { key: "completion_len", group: "rl", type: "int", min: 1, step: 128, show: (s) => s.mode === "grpo" },
  { key: "beta", group: "rl", type: "float", min: 0, max: 100, step: 0.01, show: (s) => s.mode === "grpo" },
  { key: "generation_backend", group: "rl", type: "select", options: ["transformers", "vllm"], show: (s) => s.mode === "grpo" && s.rl_algorithm === "grpo" },
  { key: "vllm_gpu_memory_utilization", group: "rl", type: "float", min: 0.05, max: 1, step: 0.05, show: (s) => s.mode === "grpo" && s.rl_algorithm === "grpo" && s.generation_backend === "vllm" },

  // Fine-tuning method
  { key: "method", group: "method", type: "select", options: ["lora", "qlora", "full", "freeze", "prefix"], show: tunes },
  { key: "lora_rank", group: "method", type: "int", min: 1, max: 4096, show: loraLike },
  { key: "lora_alpha", group: "method", type: "int", min: 1, max: 65536, show: loraLike },
  { key: "lora_targets", group: "method", type: "text", list: ["default", "all-linear", "q_proj,v_proj", "q_proj,k_proj,v_proj,o_proj"], show: loraLike },
  { key: "adapter_dtype", group: "method", type: "select", options: ["auto", "fp32", "bf16"], show: loraLike },
  { key: "freeze_trainable_layers", group: "method", type: "int", min: 0, max: 1024, show: (s) => tunes(s) && s.method === "freeze" },
  { key: "prefix_tokens", group: "method", type: "int", min: 1, max: 4096, show: (s) => tunes(s) && s.method === "prefix" },

  // Shape of the work
  { key: "batch_size", group: "shape", type: "int", min: 1, max: 65536 },
  { key: "seq_len", group: "shape", type: "int", min: 1, step: 512, show: (s) => s.mode !== "grpo" },
  { key: "gen_len", group: "shape", type: "int", min: 0, step: 128, show: (s) => workload(s) === "inference" },
  { key: "grad_accum", group: "shape", type: "int", min: 1, max: 4096, show: trains },

  // Weights and runtime
  { key: "weights", group: "weights", type: "select", options: WEIGHT_FORMATS },
  { key: "runtime", group: "weights", type: "select", options: ["transformers", "vllm", "llama.cpp"], show: (s) => workload(s) === "inference" },
  { key: "kv_cache_dtype", group: "weights", type: "select", options: KV_DTYPES, show: (s) => workload(s) === "inference" },
  // --- vLLM serving knobs (shown when runtime = vLLM); empty = vLLM's default ---
  { key: "vllm_version", group: "weights", type: "text", list: ["0.21", "0.20", "0.18", "0.10", "0.7.3", "0.6.4", "0.34"], show: vllmServing },
  { key: "gpu_memory_utilization", group: "weights", type: "float", min: 0.05, max: 1, step: 0.01, optional: true, placeholder: "f.vllm_default", show: vllmServing },
  { key: "max_num_seqs", group: "weights", type: "int", min: 1, max: 65536, optional: true, placeholder: "f.vllm_default", show: vllmServing },
  { key: "max_num_batched_tokens", group: "weights", type: "int", min: 1, step: 1024, optional: true, placeholder: "f.vllm_default", show: vllmServing },
  { key: "enable_chunked_prefill", group: "weights", type: "select", options: [null, true, false], show: vllmServing },
  { key: "enforce_eager", group: "weights", type: "bool", show: vllmServing },
  { key: "block_size", group: "weights", type: "int", min: 1, max: 1024, optional: true, placeholder: "f.vllm_default", show: vllmServing },
  { key: "attention", group: "weights", type: "select", options: ["sdpa", "flash", "eager"], show: (s) => !vllmServing(s) },
  { key: "logits_all_tokens", group: "weights", type: "bool", show: (s) => workload(s) === "inference" },

  // --- llama.cpp / Ollama offload (runtime "llama.cpp"; llama.cpp's option names in the help texts) ---
  { key: "gpu_layers", group: "llamacpp", type: "int", min: 0, max: 1025, optional: true, placeholder: "f.all_layers", show: llamaCpp },
  { key: "ubatch_size", group: "llamacpp", type: "int", min: 1, max: 65536, step: 128, show: llamaCpp },
  { key: "parallel", group: "llamacpp", type: "int", min: 1, max: 256, show: llamaCpp },
  { key: "kv_unified", group: "llamacpp", type: "bool", show: llamaCpp },
  { key: "no_kv_offload", group: "llamacpp", type: "bool", show: llamaCpp },
  { key: "llama_cpp_build", group: "llamacpp", type: "select", options: ["current", "pre-dec-2025"], show: llamaCpp },
  { key: "cpu_bandwidth_gbps", group: "llamacpp", type: "float", min: 0.1, max: 10000, step: 0.1, show: llamaCpp },
  { key: "ollama_gpu_overhead", group: "llamacpp", type: "int", min: 0, step: 268435456, show: llamaCpp },
  // --- end llama.cpp / Ollama ---

  // Training knobs
  { key: "precision", group: "train", type: "select", options: ["amp-bf16", "amp-fp16", "bf16", "fp16", "fp32"], show: trains },
  { key: "optimizer", group: "train", type: "select", options: ["adamw", "adamw-fused", "adamw-8bit", "adamw-8bit-torchao", "paged-adamw-32bit", "paged-adamw-8bit", "adafactor", "lion", "sgd-momentum", "sgd"], show: trains },
  { key: "grad_checkpointing", group: "train", type: "select", options: ["none", "selective", "full"], show: trains },
  { key: "chunked_ce", group: "train", type: "bool", show: (s) => trains(s) && !grpoRollouts(s) },
  // ---- Training stacks and memory knobs (issues 10–11): framework, optimizer in backward, offloading, compile
  { key: "framework", group: "train", type: "select", options: ["hf", "torchtune"], show: trains },
  { key: "optimizer_in_bwd", group: "train", type: "bool", show: (s) => trains(s) && s.mode !== "grpo" },
  { key: "activation_offloading", group: "train", type: "bool", show: trains },
  { key: "compile", group: "train", type: "bool", show: trains },
  { key: "transformers_version", group: "train", type: "text", list: ["5.0", "4.46", "4.38"], show: (s) => trains(s) && s.mode !== "grpo" && s.framework === "hf" },
  { key: "fsdp_shard_embeddings", group: "parallel", type: "bool", show: (s) => trains(s) && s.fsdp !== "none" },
  // ---- end of training stacks

  // Parallelism
  { key: "gpus", group: "parallel", type: "int", min: 1, max: 65536 },
  { key: "tp", group: "parallel", type: "int", min: 1, max: 1024 },
  { key: "pp", group: "parallel", type: "int", min: 1, max: 1024 },
  { key: "zero", group: "parallel", type: "select", options: [0, 1, 2, 3], show: trains },
  { key: "fsdp", group: "parallel", type: "select", options: ["none", "full_shard", "shard_grad_op", "hybrid_shard"], show: trains },
  { key: "sequence_parallel", group: "parallel", type: "bool", show: trains },
  { key: "offload", group: "parallel", type: "select", options: ["none", "optimizer", "optimizer+params"], show: trains },
  // --- Apple Silicon (issue 11): macOS version and the iogpu.wired_limit_mb sysctl, for Macs only ---
  { key: "macos_version", group: "parallel", type: "select", options: [26, 27, 15, 14, 13, 12, 11], show: (s) => isMacGpu(s.gpu) },
  { key: "iogpu_wired_limit_mb", group: "parallel", type: "int", min: 0, max: 1048576, step: 1024, optional: true, placeholder: "f.macos_default", show: (s) => isMacGpu(s.gpu) },

  // Advanced
  { key: "mfu", group: "advanced", type: "float", min: 0.01, max: 1, step: 0.05, show: trains },
  { key: "num_layers", group: "advanced", type: "int", min: 1, max: 1024, optional: true },
  // PyTorch's CUDA caching allocator (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True removes most fragmentation).
  { key: "allocator", group: "advanced", type: "select", options: ["default", "expandable"], show: ownRuntime },
  // Device-level memory outside the tensors (empty = the measured figure for the GPU's generation).
  { key: "cuda_context_mib", group: "advanced", type: "int", min: 0, max: 16384, optional: true, placeholder: "f.measured_default", show: (s) => !llamaCpp(s) },
  { key: "nccl_mib", group: "advanced", type: "int", min: 0, max: 65536, optional: true, placeholder: "f.measured_default", show: (s) => s.gpus > 1 },
];

export const GROUPS = ["media", "rl", "method", "shape", "weights", "llamacpp", "train", "parallel", "advanced"];

export const FIELD_BY_KEY = Object.fromEntries(FIELDS.map((f) => [f.key, f]));

/** A plain copy of the request fields of `state` (what the engine, share links and history get). */
export function toRequest(state) {
  const req = {};
  for (const k of Object.keys(DEFAULTS)) req[k] = state[k] === undefined ? DEFAULTS[k] : state[k];
  return req;
}

/** Only the fields that differ from the defaults (compact share links and history). */
export function diffFromDefaults(req) {
  const out = {};
  for (const k of Object.keys(DEFAULTS)) {
    if (JSON.stringify(req[k]) !== JSON.stringify(DEFAULTS[k])) out[k] = req[k];
  }
  return out;
}

/**
 * Check the *shape* of untrusted input (share link, history): known keys, JSON types matching the defaults.
 * Value ranges are the engine's job. Returns {ok, request, problems, issues}: problems in English (console, tests),
 * issues as {code: "not_object" | "unknown_field" | "bad_value", field} for the page to say in the user's language.
 */
export function sanitizeRequest(obj) {
  const problems = [];
  const issues = [];
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
    return { ok: false, request: null, problems: ["not an object"], issues: [{ code: "not_object", field: null }] };
  }
  const req = { ...DEFAULTS };
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in DEFAULTS)) {
      problems.push(`unknown field ${k}`);
      issues.push({ code: "unknown_field", field: k });
      continue;
    }
    const d = DEFAULTS[k];
    const f = FIELD_BY_KEY[k];
    let ok;
    if (k === "config") ok = v === null || (typeof v === "object" && !Array.isArray(v));
    else if (k === "model") ok = v === null || typeof v === "string";
    else if (k === "num_layers" || k === "gpu_layers") ok = v === null || Number.isInteger(v);
    else if (d === null && f && f.type === "select") ok = f.options.includes(v);
    else if (d === null && f && f.optional) ok = v === null || (typeof v === "number" && Number.isFinite(v));
    else if (k === "mode") ok = MODES.includes(v);
    else if (typeof d === "number") ok = typeof v === "number" && Number.isFinite(v);
    else if (typeof d === "boolean") ok = typeof v === "boolean";
    else ok = typeof v === "string" && v.length <= 200;
    if (ok && f && f.type === "select" && !f.options.includes(v) && k !== "weights") ok = false;
    if (!ok) {
      problems.push(`bad value for ${k}`);
      issues.push({ code: "bad_value", field: k });
    } else req[k] = v;
  }
  return { ok: problems.length === 0, request: req, problems, issues };
}

// ---------------------------------------------------------------------------------------------------------
// Tabs. Each tab (mode) keeps its own inputs; these are a tab's starting values.
export const MM_DEFAULT_MODEL = "qwen2.5-vl-7b";

/** The default inputs of one tab: the engine's defaults with that mode (and a multimodal model there). */
export function tabDefaults(mode) {
  const d = { ...DEFAULTS, mode };
  if (mode === "multimodal") d.model = MM_DEFAULT_MODEL;
  // GRPO's batch is TRL's per_device_train_batch_size (completions): one prompt's group of num_generations.
  if (mode === "grpo") d.batch_size = DEFAULTS.num_generations;
  return d;
}

/** A stable string for a request: equal requests give equal keys. */
export const requestKey = (req) => JSON.stringify(toRequest(req));

/** The input keys of `state` that differ from its tab's defaults (mode excluded). */
export function changedKeys(state) {
  const d = tabDefaults(state.mode);
  return Object.keys(DEFAULTS).filter((k) => k !== "mode" && JSON.stringify(state[k] ?? null) !== JSON.stringify(d[k] ?? null));
}

// ---------------------------------------------------------------------------------------------------------
// Presets live in site/app/presets.json (build.py also puts them into the page; tests/test_presets.py checks
// that each one fits the hardware it names, with margin, or is named as a failure demo).
// {id, mode, model, gpu, set, expect: "fits" | "no_fit"}; model and gpu are catalog ids.

/** Preset -> full request (or null when its model/GPU is not in this catalog). */
export function presetRequest(preset, catalog) {
  if (!preset || !MODES.includes(preset.mode)) return null;
  const wantMm = preset.mode === "multimodal";
  const model = catalog.models.find((m) => m.id === preset.model && (m.kind === "multimodal") === wantMm);
  const gpu = catalog.gpus.find((g) => g.id === preset.gpu);
  if (!model || !gpu) return null;
  return { ...DEFAULTS, mode: preset.mode, model: model.id, gpu: gpu.id, ...(preset.set || {}) };
}
