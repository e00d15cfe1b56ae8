// Export the current result as Markdown, CSV or JSON (the request travels with it, so it can be reproduced).
import { diffFromDefaults } from "./fields.js";
import { GB, GiB } from "./format.js";
import { msgText } from "./i18n.js";

const n2 = (x) => (x === null || x === undefined ? "" : (Math.round(x * 100) / 100).toFixed(2));

export function toJSON(request, report, meta) {
  return JSON.stringify({ app: "vram-insight", exported_at: new Date().toISOString(), ...meta, request, report }, null, 2);
}

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  // Quote, and neutralise spreadsheet formulas in text coming from configs.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCSV(request, report) {
  const e = report.estimate;
  const rows = [["section", "name", "bytes", "GB (1e9)", "GiB (2^30)"]];
  for (const [k, v] of Object.entries(e.components)) rows.push(["component", k, v, n2(v / GB), n2(v / GiB)]);
  rows.push(["total", "total_bytes", e.total_bytes, n2(e.total_bytes / GB), n2(e.total_bytes / GiB)]);
  rows.push(["total", "peak_allocated_bytes", e.peak_allocated_bytes, n2(e.peak_allocated_bytes / GB), n2(e.peak_allocated_bytes / GiB)]);
  if (report.fit) rows.push(["fit", report.fit.gpu_name, report.fit.capacity_bytes, n2(report.fit.capacity_bytes / GB), n2(report.fit.capacity_bytes / GiB)]);
  rows.push(["params", "total", e.params.total, "", ""]);
  rows.push(["params", "active", e.params.active, "", ""]);
  rows.push(["params", "trainable", e.params.trainable, "", ""]);
  for (const [k, v] of Object.entries(diffFromDefaults(request))) {
    rows.push(["input", k, typeof v === "object" && v !== null ? JSON.stringify(v) : v, "", ""]);
  }
  return rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

const mdEscape = (s) => String(s ?? "").replace(/([\\`*_{}[\]<>|#])/g, "\\$1").replace(/\n/g, " ");

export function toMarkdown(request, report, t) {
  const e = report.estimate;
  const L = [];
  L.push(`# ${t("app.title")}: ${mdEscape(e.model.name)} — ${t(`tab.${request.mode}`)}`);
  L.push("");
  L.push(`**${t("r.total")}:** ${n2(e.total_bytes / GB)} GB (${n2(e.total_bytes / GiB)} GiB) ${t("r.per_device")}` + (e.num_devices > 1 ? ` × ${e.num_devices}` : ""));
  if (report.fit) {
    L.push("");
    L.push(`**${t("r.gpu")}:** ${mdEscape(report.fit.gpu_name)} — ${n2(report.fit.capacity_bytes / GB)} GB — ${report.fit.fits ? t("r.fits") : t("r.no_fit")} (${n2(report.fit.utilization * 100)}%)`);
  }
  L.push("");
  L.push(`| ${t("r.component")} | GB (10^9) | GiB (2^30) |`);
  L.push("|---|---:|---:|");
  for (const [k, v] of Object.entries(e.components)) L.push(`| ${mdEscape(k)} | ${n2(v / GB)} | ${n2(v / GiB)} |`);
  L.push(`| **${t("r.total")}** | **${n2(e.total_bytes / GB)}** | **${n2(e.total_bytes / GiB)}** |`);
  L.push("");
  L.push(`${t("r.params")}: ${t("r.params_total")} ${e.params.total.toLocaleString("en-US")}, ${t("r.params_active")} ${e.params.active.toLocaleString("en-US")}, ${t("r.params_trainable")} ${e.params.trainable.toLocaleString("en-US")}`);
  L.push("");
  L.push(`## ${t("r.assumptions")}`);
  // Messages in the page's language (the JSON export keeps the engine's codes, parameters and English text).
  for (const a of e.assumptions) L.push(`- ${mdEscape(msgText(a))}`);
  for (const w of e.warnings || []) L.push(`- ⚠ ${mdEscape(msgText(w))}`);
  if (report.inverse) {
    const i = report.inverse;
    L.push("");
    L.push(`## ${t("r.inverse")}`);
    L.push(`- ${t("r.max_batch")}: ${i.max_batch_size ?? "—"}`);
    L.push(`- ${t("r.max_seq")}: ${i.max_seq_len ?? "—"}`);
    L.push(`- ${t("r.max_conc")}: ${i.max_concurrent_sequences ?? "—"}`);
    for (const n of i.notes || []) L.push(`- ${mdEscape(msgText(n))}`);
  }
  if (report.recommendations?.length) {
    L.push("");
    L.push(`## ${t("r.recs")}`);
    L.push(`| GPU | × | ${t("r.per_device")} (GB) | ${t("r.headroom")} | ${t("r.price")} | $/h | |`);
    L.push("|---|---:|---:|---:|---:|---:|---|");
    for (const r of report.recommendations) {
      const why = [r.strategy, r.reason].filter(Boolean).map((m) => mdEscape(msgText(m))).join(" · ");
      L.push(`| ${mdEscape(r.gpu_name)} | ${r.count} | ${n2(r.per_device_bytes / GB)} | ${Math.round(r.headroom_fraction * 100)}% | ${r.launch_price_usd ?? "—"} | ${r.cloud_usd_per_hour ?? "—"} | ${why} |`);
    }
  }
  L.push("");
  L.push(`## ${t("r.inputs")}`);
  L.push("```json");
  L.push(JSON.stringify(diffFromDefaults(request), null, 2));
  L.push("```");
  L.push("");
  return L.join("\n");
}
