/* Example snippets for the engine console (site/console/). The first one fills the editor on load.
 *
 * `estimate` is imported from its module (`vram_insight.estimate`): `from vram_insight import estimate` returns
 * that submodule, not the function, once any other engine module has imported it.
 */

const ESTIMATE = `# The VRAM Insight engine in Python, running in your browser (Pyodide). Ctrl+Enter runs.
from vram_insight import EstimateRequest
from vram_insight.estimate import estimate

r = estimate(EstimateRequest(model="llama-3.1-8b", mode="inference", seq_len=8192))
print(r.total_bytes / 1e9, "GB")
for name, nbytes in r.components.items():
    print(f"  {name:<12} {nbytes / 1e9:8.2f} GB")
`;

const SWEEP = `# Total and KV cache memory over the context length, as a table.
from vram_insight import EstimateRequest
from vram_insight.estimate import estimate

print(f"{'seq_len':>8}  {'total GB':>9}  {'KV cache GB':>11}")
for seq_len in (2048, 4096, 8192, 16384, 32768, 65536, 131072):
    r = estimate(EstimateRequest(model="llama-3.1-8b", mode="inference", seq_len=seq_len))
    print(f"{seq_len:>8}  {r.total_bytes / 1e9:>9.2f}  {r.components['kv_cache'] / 1e9:>11.2f}")
`;

const CUSTOM = `# A model that is not in the catalog: pass its Hugging Face config.json as a dict.
from vram_insight import EstimateRequest
from vram_insight.estimate import estimate

config = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}
r = estimate(EstimateRequest(config=config, mode="inference", seq_len=32768))
print(f"{r.params.total / 1e9:.2f} B parameters")
print(f"{r.total_bytes / 1e9:.2f} GB at 32k tokens")
`;

const FINETUNE = `# Fine-tuning one model three ways.
from vram_insight import EstimateRequest
from vram_insight.estimate import estimate

for method, weights in (("full", None), ("lora", None), ("qlora", "nf4")):
    extra = {"weights": weights} if weights else {}
    r = estimate(EstimateRequest(model="llama-3.1-8b", mode="finetune", method=method, seq_len=4096, **extra))
    print(f"{method:<6} {r.total_bytes / 1e9:7.2f} GB")
`;

const FIT = `# Does it fit on one GPU? If not, what would?
from vram_insight import EstimateRequest, report

rep = report(EstimateRequest(model="llama-3.1-70b", mode="inference", seq_len=8192, gpu="h100-sxm"))
print(rep.fit.gpu_name, "fits" if rep.fit.fits else "does not fit", f"({rep.fit.utilization:.0%})")
for rec in rep.recommendations:
    print(f"  {rec.count} × {rec.gpu_name}: {rec.strategy} ({rec.reason})")
`;

const CATALOG = `# The catalog: models and GPUs the engine knows.
from vram_insight.catalog import load_catalog

cat = load_catalog()
print(len(cat.models), "models,", len(cat.gpus), "GPUs")
for model_id in sorted(cat.models)[:10]:
    print(" ", model_id)
print("  …")
`;

export const EXAMPLES = [
  { id: "estimate", label: "Estimate one model", code: ESTIMATE },
  { id: "sweep", label: "Sweep the context length", code: SWEEP },
  { id: "custom", label: "Custom config.json", code: CUSTOM },
  { id: "finetune", label: "Fine-tuning: full vs LoRA vs QLoRA", code: FINETUNE },
  { id: "fit", label: "Fit and GPU recommendations", code: FIT },
  { id: "catalog", label: "List the catalog", code: CATALOG },
];
