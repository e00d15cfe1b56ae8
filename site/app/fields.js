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
  runtime: "transformers",
  gpu_memory_utilization: 0.9,
  logits_all_tokens: false,
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
  "bf16", "fp16", "fp32", "fp8", "mxfp4", "int8", "int4", "nf4", "nf4-nodq", "fp4", "fp4-nodq",
  "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_1", "q5_0", "q4_k_m", "q4_k_s", "q4_1", "q4_0", "iq4_xs", "iq4_nl",
  "q3_k_l", "q3_k_m", "q3_k_s", "iq3_m", "iq3_s", "iq3_xs", "iq3_xxs", "q2_k", "iq2_m", "iq2_s", "iq2_xs", "iq2_xxs",
  "iq1_m", "iq1_s",
];
export const KV_DTYPES = ["bf16", "fp16", "fp32", "fp8", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"];

/** The workload a request really runs: multimodal mode runs its `task`. */
export const workload = (s) => (s.mode === "multimodal" ? s.task : s.mode === "grpo" ? "grpo" : s.mode);
const trains = (s) => workload(s) !== "inference";
const tunes = (s) => workload(s) === "finetune";
const loraLike = (s) => (tunes(s) && (s.method === "lora" || s.method === "qlora")) || (s.mode === "grpo" && s.policy === "lora");

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
  { key: "kv_cache_dtype", group: "weights", type: "select", options: KV_DTYPES, show: (s) => workload(s) === "inference" || s.mode === "grpo" },
  { key: "gpu_memory_utilization", group: "weights", type: "float", min: 0.05, max: 1, step: 0.05, show: (s) => workload(s) === "inference" && s.runtime === "vllm" },
  { key: "attention", group: "weights", type: "select", options: ["sdpa", "flash", "eager"] },
  { key: "logits_all_tokens", group: "weights", type: "bool", show: (s) => workload(s) === "inference" },

  // Training knobs
  { key: "precision", group: "train", type: "select", options: ["amp-bf16", "amp-fp16", "bf16", "fp16", "fp32"], show: trains },
  { key: "optimizer", group: "train", type: "select", options: ["adamw", "adamw-fused", "adamw-8bit", "adamw-8bit-torchao", "paged-adamw-32bit", "paged-adamw-8bit", "adafactor", "lion", "sgd-momentum", "sgd"], show: trains },
  { key: "grad_checkpointing", group: "train", type: "select", options: ["none", "selective", "full"], show: trains },
  { key: "chunked_ce", group: "train", type: "bool", show: trains },
  // ---- Training stacks and memory knobs (issues 10–11): framework, optimizer in backward, offloading, compile
  { key: "framework", group: "train", type: "select", options: ["hf", "torchtune"], show: trains },
  { key: "optimizer_in_bwd", group: "train", type: "bool", show: trains },
  { key: "activation_offloading", group: "train", type: "bool", show: trains },
  { key: "compile", group: "train", type: "bool", show: trains },
  { key: "transformers_version", group: "train", type: "text", list: ["5.0", "4.46", "4.38"], show: (s) => trains(s) && s.framework === "hf" },
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

  // Advanced
  { key: "mfu", group: "advanced", type: "float", min: 0.01, max: 1, step: 0.05, show: trains },
  { key: "num_layers", group: "advanced", type: "int", min: 1, max: 1024, optional: true },
];

export const GROUPS = ["media", "rl", "method", "shape", "weights", "train", "parallel", "advanced"];

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
 * Value ranges are the engine's job. Returns {ok, request, problems}.
 */
export function sanitizeRequest(obj) {
  const problems = [];
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return { ok: false, request: null, problems: ["not an object"] };
  const req = { ...DEFAULTS };
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in DEFAULTS)) {
      problems.push(`unknown field ${k}`);
      continue;
    }
    const d = DEFAULTS[k];
    const f = FIELD_BY_KEY[k];
    let ok;
    if (k === "config") ok = v === null || (typeof v === "object" && !Array.isArray(v));
    else if (k === "model") ok = v === null || typeof v === "string";
    else if (k === "num_layers") ok = v === null || Number.isInteger(v);
    else if (k === "mode") ok = MODES.includes(v);
    else if (typeof d === "number") ok = typeof v === "number" && Number.isFinite(v);
    else if (typeof d === "boolean") ok = typeof v === "boolean";
    else ok = typeof v === "string" && v.length <= 200;
    if (ok && f && f.type === "select" && !f.options.includes(v) && k !== "weights") ok = false;
    if (!ok) problems.push(`bad value for ${k}`);
    else req[k] = v;
  }
  return { ok: problems.length === 0, request: req, problems };
}

// ---------------------------------------------------------------------------------------------------------
// Presets. Models and GPUs are resolved against the catalog (ids first, then a pattern on id/name), so a
// preset keeps working when the catalog renames an entry; an unresolved preset is shown disabled.
export const PRESETS = [
  // Inference
  { id: "llama8b-4090", mode: "inference", model: ["llama-3.1-8b"], gpu: ["rtx-4090", /4090/], set: { seq_len: 8192, gen_len: 1024 } },
  { id: "qwen7b-vllm-l40s", mode: "inference", model: ["qwen2.5-7b", /qwen2\.5.*7b/], gpu: ["l40s", /l40s/], set: { runtime: "vllm", batch_size: 16, seq_len: 4096, gen_len: 512 } },
  { id: "llama70b-awq-2x4090", mode: "inference", model: ["llama-3.1-70b", /llama-3\.[13]-70b/], gpu: ["rtx-4090", /4090/], set: { weights: "int4", gpus: 2, tp: 2, runtime: "vllm", seq_len: 8192, gen_len: 1024 } },
  { id: "qwen32b-gguf-3090", mode: "inference", model: ["qwen2.5-32b", /qwen2\.5.*32b/], gpu: ["rtx-3090", /3090/], set: { runtime: "llama.cpp", weights: "q4_k_m", kv_cache_dtype: "q8_0", seq_len: 32768, gen_len: 2048 } },
  { id: "r1-fp8-8xh200", mode: "inference", model: ["deepseek-r1", "deepseek-v3", /deepseek-(r1|v3)/], gpu: ["h200-sxm", "h200", /h200/], set: { runtime: "vllm", weights: "fp8", gpus: 8, tp: 8, seq_len: 32768, gen_len: 8192, batch_size: 8 } },
  { id: "qwen3moe-4090", mode: "inference", model: ["qwen3-30b-a3b", /30b-a3b/], gpu: ["rtx-4090", /4090/], set: { runtime: "llama.cpp", weights: "q4_k_m", seq_len: 16384, gen_len: 2048 } },
  // Fine-tuning
  { id: "qwen7b-qlora-24gb", mode: "finetune", model: ["qwen2.5-7b", /qwen2\.5.*7b/], gpu: ["rtx-4090", /4090/], set: { method: "qlora", weights: "nf4", seq_len: 2048, batch_size: 2, grad_accum: 8, grad_checkpointing: "full" } },
  { id: "llama8b-lora-a100", mode: "finetune", model: ["llama-3.1-8b"], gpu: ["a100-80gb-sxm", "a100-80gb", /a100.*80/], set: { method: "lora", lora_targets: "all-linear", seq_len: 4096, batch_size: 4, grad_checkpointing: "full", attention: "flash" } },
  { id: "llama70b-full-zero3", mode: "finetune", model: ["llama-3.1-70b", /llama-3\.[13]-70b/], gpu: ["h100-sxm", /h100/], set: { method: "full", gpus: 8, zero: 3, grad_checkpointing: "full", seq_len: 4096, attention: "flash" } },
  { id: "llama70b-qlora-fsdp", mode: "finetune", model: ["llama-3.1-70b", /llama-3\.[13]-70b/], gpu: ["rtx-3090", /3090/, /4090/], set: { method: "qlora", weights: "nf4", gpus: 2, fsdp: "full_shard", grad_checkpointing: "full", seq_len: 2048, attention: "flash" } },
  // Training
  { id: "llama8b-pretrain-fsdp", mode: "training", model: ["llama-3.1-8b"], gpu: ["h100-sxm", /h100/], set: { gpus: 8, fsdp: "full_shard", seq_len: 8192, batch_size: 1, grad_checkpointing: "selective", attention: "flash", grad_accum: 16 } },
  { id: "qwen05b-scratch-4090", mode: "training", model: ["qwen2.5-0.5b", /qwen2\.5.*0\.5b/], gpu: ["rtx-4090", /4090/], set: { seq_len: 2048, batch_size: 8, attention: "flash", chunked_ce: true } },
  // GRPO / DPO
  { id: "grpo-qwen15b-k8", mode: "grpo", model: ["qwen2.5-1.5b", /qwen2\.5.*1\.5b/], gpu: ["rtx-4090", /4090/], set: { num_generations: 8, prompt_len: 512, completion_len: 1024, policy: "full", grad_checkpointing: "full" } },
  { id: "grpo-qwen7b-vllm", mode: "grpo", model: ["qwen2.5-7b", /qwen2\.5.*7b/], gpu: ["h100-sxm", /h100/], set: { policy: "lora", generation_backend: "vllm", vllm_gpu_memory_utilization: 0.3, num_generations: 8, completion_len: 2048, grad_checkpointing: "full", beta: 0.04 } },
  { id: "dpo-llama8b-lora", mode: "grpo", model: ["llama-3.1-8b"], gpu: ["a100-80gb-sxm", "a100-80gb", /a100.*80/], set: { rl_algorithm: "dpo", policy: "lora", beta: 0.1, prompt_len: 1024, completion_len: 1024, batch_size: 2, grad_checkpointing: "full" } },
  // Multimodal
  { id: "qwen25vl7b-4img", mode: "multimodal", model: ["qwen2.5-vl-7b", /qwen2\.5-vl.*7b/], gpu: ["rtx-4090", /4090/], set: { task: "inference", images: 4, seq_len: 8192, gen_len: 512 } },
  { id: "qwen25vl7b-lora", mode: "multimodal", model: ["qwen2.5-vl-7b", /qwen2\.5-vl.*7b/], gpu: ["a100-80gb-sxm", "a100-80gb", /a100.*80/], set: { task: "finetune", method: "lora", images: 2, seq_len: 4096, grad_checkpointing: "full" } },
  { id: "qwen25vl7b-video", mode: "multimodal", model: ["qwen2.5-vl-7b", /qwen2\.5-vl.*7b/], gpu: ["h100-sxm", /h100/], set: { task: "inference", images: 0, video_frames: 64, seq_len: 32768, gen_len: 512 } },
  { id: "qwen2audio-30s", mode: "multimodal", model: ["qwen2-audio-7b", /audio/], gpu: ["rtx-4090", /4090/], set: { task: "inference", images: 0, audio_seconds: 30, seq_len: 4096, gen_len: 256 } },
];

function resolve(candidates, list) {
  for (const c of candidates) {
    if (typeof c === "string") {
      if (list.some((x) => x.id === c)) return c;
    } else {
      const hit = list.find((x) => c.test(x.id) || c.test(x.name));
      if (hit) return hit.id;
    }
  }
  return null;
}

/** Preset -> full request (or null when its model/GPU is not in this catalog). */
export function presetRequest(preset, catalog) {
  const wantMm = preset.mode === "multimodal";
  const models = catalog.models.filter((m) => (m.kind === "multimodal") === wantMm);
  const model = resolve(preset.model, models);
  const gpu = resolve(preset.gpu, catalog.gpus);
  if (!model || !gpu) return null;
  return { ...DEFAULTS, mode: preset.mode, model, gpu, ...preset.set };
}
