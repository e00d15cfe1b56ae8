// The result panel: total vs capacity, donut chart, components table (GB and GiB), parameters, assumptions,
// inverse answer, throughput estimates and recommended GPUs. Data is only ever set as text.
import { append, clear, h, s } from "./dom.js";
import { fmtInt, fmtNum, fmtParams, fmtPct, fmtUsd, GB, gb, gib } from "./format.js";
import { has, renderMessage, t } from "./i18n.js";
import { diffFromDefaults, FIELD_BY_KEY } from "./fields.js";

export const PALETTE = 10;

/**
 * One engine message (assumption, warning, note, reason) as an element, in the user's language when the site has
 * a translation of its code (see i18n.js renderMessage). data-msg holds the code ("" for a plain string) and
 * data-translated whether the current language's template was used.
 */
export function msgNode(tag, m, attrs = {}) {
  const r = renderMessage(m);
  return h(tag, { ...attrs, text: r.text, dataset: { ...(attrs.dataset || {}), msg: r.code || "", translated: r.translated ? "1" : "0" } });
}

/**
 * The components worth a row: those that round to at least 0.01 GB, in the engine's order. The others (e.g. the
 * last token's logits in inference, < 1 MB) are still in the total; they are named in a note under the table.
 */
export function splitComponents(components) {
  const shown = [];
  const small = [];
  for (const [name, v] of Object.entries(components)) {
    if (!(v > 0)) continue;
    (v >= 0.005 * GB ? shown : small).push([name, v]);
  }
  return { shown, small };
}

export function componentLabel(name) {
  const key = `c.${name}`;
  return has(key) ? t(key) : name.replace(/_/g, " ");
}

/** SVG donut of the breakdown; segments carry <title> for hover and the legend is the table next to it. */
export function donut(components, total, opts = {}) {
  const size = opts.size || 180;
  const r = size / 2 - 14;
  const c = 2 * Math.PI * r;
  const svg = s("svg", {
    viewBox: `0 0 ${size} ${size}`,
    width: size,
    height: size,
    role: "img",
    "aria-label": t("r.chart_label"),
    class: "donut",
    "data-testid": "donut",
  });
  svg.append(s("circle", { cx: size / 2, cy: size / 2, r, class: "donut-track", "stroke-width": 22, fill: "none" }));
  let offset = 0;
  const entries = splitComponents(components).shown;
  const sum = entries.reduce((a, [, v]) => a + v, 0) || 1;
  entries.forEach(([name, v], i) => {
    const len = (v / sum) * c;
    const seg = s("circle", {
      cx: size / 2,
      cy: size / 2,
      r,
      fill: "none",
      "stroke-width": 22,
      class: `seg seg-${i % PALETTE}`,
      "stroke-dasharray": `${Math.max(len - (entries.length > 1 ? 1 : 0), 0.001)} ${c}`,
      "stroke-dashoffset": -offset,
      transform: `rotate(-90 ${size / 2} ${size / 2})`,
    });
    seg.append(s("title", { text: `${componentLabel(name)}: ${gb(v)} GB (${fmtPct(v / sum, 1)})` }));
    svg.append(seg);
    offset += len;
  });
  svg.append(s("text", { x: size / 2, y: size / 2 - 2, "text-anchor": "middle", class: "donut-value", text: gb(total) }));
  svg.append(s("text", { x: size / 2, y: size / 2 + 16, "text-anchor": "middle", class: "donut-unit", text: "GB" }));
  return svg;
}

function fitBlock(report) {
  const fit = report.fit;
  const e = report.estimate;
  if (!fit) return h("p.muted", { testid: "fit", text: t("r.no_gpu") });
  const ratio = fit.required_bytes / fit.capacity_bytes;
  const level = !fit.fits ? "bad" : ratio > 0.9 ? "warn" : "ok";
  const bar = h(`div.bar.bar-${level}`, {
    role: "meter",
    "aria-valuemin": 0,
    "aria-valuemax": 100,
    "aria-valuenow": Math.round(ratio * 100),
    "aria-label": t("r.capacity_use"),
  });
  const fill = h("div.bar-fill");
  fill.style.width = `${Math.min(ratio, 1) * 100}%`; // CSSOM, not a style attribute: allowed by a strict CSP
  bar.append(fill);
  if (ratio > 1) bar.append(h("div.bar-over", { text: `+${gb(fit.required_bytes - fit.capacity_bytes)} GB` }));
  return h(
    "div.fit",
    { testid: "fit", dataset: { fits: String(fit.fits) } },
    h(
      "div.fit-line",
      h(`span.badge.badge-${level}`, { testid: "fit-verdict", text: fit.fits ? t("r.fits") : t("r.no_fit") }),
      h("span", {
        text: t(e.details && e.details.vllm ? "r.fit_detail_vllm" : "r.fit_detail", {
          used: gb(fit.required_bytes),
          cap: gb(fit.capacity_bytes),
          pct: fmtPct(fit.utilization, 0),
          gpu: fit.gpu_name,
        }),
      }),
      e.num_devices > 1 ? h("span.muted", { text: ` · ${t("r.per_device_of", { n: e.num_devices })}` }) : null,
    ),
    bar,
    h("div.fit-sub.muted", {
      text: fit.fits
        ? t("r.headroom_left", { gb: gb(fit.headroom_bytes) })
        : t("r.short_by", { gb: gb(-fit.headroom_bytes) }),
    }),
    platformFitLines(fit),
  );
}

// ---- Platforms (issue 11): a Mac's wired-memory limit under the fit line, software the chosen card cannot run,
// and the cards the recommendations leave out with the reason. Engine messages, rendered through msg.<code>.
function platformFitLines(fit) {
  const w = fit.wired_limit;
  const software = fit.software || [];
  if (!w && !software.length) return null;
  return h(
    "div.fit-platform",
    { testid: "fit-platform" },
    w
      ? h(
          "div.fit-wired.small",
          { testid: "fit-wired", dataset: { estimated: String(Boolean(w.estimated)) } },
          msgNode("strong", w.summary),
          h("span.muted", { text: " · " }),
          msgNode("span.muted", w.rule),
          (w.notes || []).length ? h("ul.notes", (w.notes || []).map((n) => msgNode("li", n))) : null,
        )
      : null,
    software.length
      ? h("ul.notes.fit-software", { testid: "fit-software" }, software.map((m) => msgNode("li.warn", m, { testid: "fit-software-item" })))
      : null,
  );
}

function leftOutBlock(report) {
  const items = report.left_out || [];
  if (!items.length) return null;
  return h(
    "div.left-out",
    { testid: "left-out" },
    h("p.small", { text: t("r.left_out") }),
    h(
      "ul.notes",
      items.map((item) =>
        h(
          "li",
          { dataset: { gpus: item.gpus.join(" "), msg: item.reason.code } },
          h("span.left-out-names", { text: item.gpu_names.join(", ") }),
          h("span", { text: t("r.left_out_because") }),
          msgNode("span.left-out-reason", item.reason),
        ),
      ),
    ),
  );
}

// ---- vLLM at startup (runtime = vLLM): its reservation, profile, KV pool, blocks and concurrency, worded and
// rounded as vLLM's startup log prints them (GiB = 2^30 bytes, two decimals), the same lines as the CLI.
const gib2 = (n) => (n / 2 ** 30).toFixed(2);

function vllmBlock(report) {
  const v = report.estimate.details && report.estimate.details.vllm;
  if (!v) return null;
  const row = (label, value, testid) => kv(label, value, testid);
  const rows = [];
  if (v.requested_memory_bytes !== undefined) {
    rows.push(row(t("r.vllm_requested"), `${gib2(v.total_gpu_memory_bytes)} GiB × ${v.gpu_memory_utilization.toFixed(2)} = ${gib2(v.requested_memory_bytes)} GiB`, "vllm-requested"));
  }
  rows.push(row(t("r.vllm_weights"), `${gib2(v.weights_bytes)} GiB`, "vllm-weights"));
  rows.push(row(t("r.vllm_activation"), `${gib2(v.activation_peak_bytes)} GiB`, "vllm-activation"));
  rows.push(row(t("r.vllm_non_torch"), `${gib2(v.non_torch_bytes)} GiB`, "vllm-non-torch"));
  if (!v.enforce_eager) rows.push(row(t("r.vllm_graphs"), `${gib2(v.cuda_graph_bytes)} GiB · ${fmtInt(v.cuda_graphs)}`, "vllm-graphs"));
  if (v.requested_memory_bytes !== undefined) {
    rows.push(row(t("r.vllm_kv_pool"), `${gib2(v.kv_cache_bytes)} GiB`, "vllm-kv-pool"));
    rows.push(row(t("r.vllm_blocks"), fmtInt(v.num_gpu_blocks), "vllm-blocks"));
    rows.push(row(t("r.vllm_tokens"), fmtInt(v.kv_cache_tokens), "vllm-tokens"));
    rows.push(row(t("r.vllm_concurrency", { n: fmtInt(v.max_model_len) }), `${v.max_concurrency.toFixed(2)}x`, "vllm-concurrency"));
    rows.push(
      row(
        t("r.vllm_card"),
        `${gib2(v.reserved_total_bytes)} GiB (${t("r.vllm_card_detail", { reserved: gib2(v.requested_memory_bytes), outside: gib2(v.reserved_total_bytes - v.requested_memory_bytes) })})`,
        "vllm-card",
      ),
    );
  }
  return h(
    "section.card.sub",
    { testid: "vllm" },
    h("h3", { text: t("r.vllm") }),
    h("p.muted.small", { text: t("r.vllm_help", { version: v.version }) }),
    h("dl.kvs", rows),
    h("p.muted.small", {
      testid: "vllm-sched",
      text: t("r.vllm_sched", { seqs: fmtInt(v.max_num_seqs), tokens: fmtInt(v.max_num_batched_tokens), block: v.block_size }),
    }),
    v.requested_memory_bytes === undefined ? h("p.muted", { text: t("r.vllm_no_gpu") }) : null,
  );
}
// ---- end vLLM block

function componentsTable(e) {
  const tbody = h("tbody");
  const total = e.total_bytes || 1;
  // Zero-byte and sub-0.01 GB components are left out (see splitComponents); colours follow the donut's order.
  splitComponents(e.components).shown.forEach(([name, v], i) => {
    tbody.append(
      h(
        "tr",
        { dataset: { component: name, bytes: String(v) } },
        h("th", { scope: "row" }, h(`span.swatch.sw-${i % PALETTE}`, { "aria-hidden": "true" }), h("span", { text: componentLabel(name), title: name })),
        h("td.num", { text: gb(v) }),
        h("td.num", { text: gib(v) }),
        h("td.num.muted", { text: fmtPct(v / total, 1) }),
      ),
    );
  });
  return h(
    "table.components",
    { testid: "components-table" },
    h("caption.sr-only", { text: t("r.components") }),
    h(
      "thead",
      h(
        "tr",
        h("th", { scope: "col", text: t("r.component") }),
        h("th.num", { scope: "col", title: t("r.gb_title"), text: "GB (10⁹)" }),
        h("th.num", { scope: "col", title: t("r.gib_title"), text: "GiB (2³⁰)" }),
        h("th.num", { scope: "col", text: "%" }),
      ),
    ),
    tbody,
    h(
      "tfoot",
      h(
        "tr",
        h("th", { scope: "row", text: t("r.total") }),
        h("td.num", { testid: "total-gb", text: gb(e.total_bytes) }),
        h("td.num", { testid: "total-gib", text: gib(e.total_bytes) }),
        h("td.num.muted", { text: "100%" }),
      ),
    ),
  );
}

function smallComponentsNote(e) {
  const { small } = splitComponents(e.components);
  if (!small.length) return null;
  const items = small.map(([name, v]) => `${componentLabel(name)} (${fmtNum(v / 1e6, 1)} MB)`).join(", ");
  return h("p.muted.small.small-components", { testid: "small-components", text: t("r.small_components", { items }) });
}

function kv(label, value, testid) {
  return h("div.kv", { testid }, h("dt", { text: label }), h("dd", { text: value }));
}

function paramsBlock(e) {
  const p = e.params;
  return h(
    "dl.kvs",
    { testid: "params" },
    kv(t("r.params_total"), fmtParams(p.total), "params-total"),
    kv(t("r.params_active"), fmtParams(p.active), "params-active"),
    kv(t("r.params_trainable"), p.trainable ? `${fmtParams(p.trainable)} (${fmtPct(p.trainable / p.total, p.trainable / p.total < 0.01 ? 2 : 1)})` : "0", "params-trainable"),
    kv(t("r.layers"), fmtInt(e.model.num_layers), "layers"),
  );
}

function inverseBlock(report) {
  const i = report.inverse;
  if (!i) return null;
  const notes = (i.notes || []).map((n) => msgNode("li", n));
  return h(
    "section.card.sub",
    { testid: "inverse" },
    h("h3", { text: t("r.inverse") }),
    h("p.muted.small", { text: t("r.inverse_help", { n: i.count, gpu: report.fit?.gpu_name ?? i.gpu }) }),
    h(
      "dl.kvs",
      kv(t("r.max_batch"), i.max_batch_size === null ? "—" : fmtInt(i.max_batch_size), "max-batch"),
      kv(t("r.max_seq"), i.max_seq_len === null ? "—" : fmtInt(i.max_seq_len), "max-seq"),
      kv(t("r.max_conc"), i.max_concurrent_sequences === null ? "—" : fmtInt(i.max_concurrent_sequences), "max-concurrency"),
      i.max_gpu_layers === null || i.max_gpu_layers === undefined ? null : kv(t("r.max_gpu_layers"), fmtInt(i.max_gpu_layers), "max-gpu-layers"),
    ),
    notes.length ? h("ul.notes", notes) : null,
  );
}

// --- llama.cpp / Ollama: buffers per device as llama.cpp's load log prints them, and system RAM ---------------
const MiB = 2 ** 20;
const mib = (n) => `${fmtNum(n / MiB, 2)} MiB`;

function llamaCppBlock(e) {
  const info = e.details && e.details.llama_cpp;
  if (!info) return null;
  const rows = Object.entries(info.devices || {}).map(([name, d]) =>
    h(
      "tr",
      { testid: `llama-device-${name}`, dataset: { device: name, totalBytes: String(d.total_bytes) } },
      h("th", { scope: "row" }, h("span", { text: name }), h("div.muted.small", { text: d.layers ? t("r.llama_layers", { layers: d.layers }) + (d.output_layer ? " + output" : "") : d.output_layer ? "output" : "—" })),
      h("td.num", { text: mib(d.weights_bytes) }),
      h("td.num", { text: mib(d.kv_bytes) }),
      h("td.num", { text: mib(d.compute_bytes), title: d.compute_phase }),
      h("td.num", { text: mib(d.overhead_bytes) }),
    ),
  );
  const host = info.host;
  rows.push(
    h(
      "tr",
      { testid: "llama-device-host", dataset: { device: "host" } },
      h("th", { scope: "row" }, h("span", { text: t("r.llama_host") }), h("div.muted.small", { text: t("r.llama_mapped", { mib: fmtNum(host.cpu_mapped_bytes / MiB, 2) }) })),
      h("td.num", { text: mib(host.weights_bytes) }),
      h("td.num", { text: mib(host.kv_bytes) }),
      h("td.num", { text: mib(host.compute_bytes + host.output_bytes) }),
      h("td.num", { text: "—" }),
    ),
  );
  return h(
    "section.card.sub",
    { testid: "llama-cpp" },
    h("h3", { text: t("r.llama_title") }),
    h(
      "dl.kvs",
      kv(t("r.llama_offloaded"), `${info.offloaded}`, "llama-offloaded"),
      h("div.kv", { testid: "llama-ram", dataset: { ramBytes: String(info.ram_bytes) } }, h("dt", { text: t("r.llama_ram") }), h("dd", { text: `${gb(info.ram_bytes)} GB (${gib(info.ram_bytes)} GiB)` })),
      kv(t("r.llama_ctx"), t("r.llama_ctx_value", { n_ctx: fmtInt(info.n_ctx), slots: info.n_seq_max, per_slot: fmtInt(info.n_ctx_seq), ubatch: info.n_ubatch }), "llama-ctx"),
      kv(t("r.llama_ollama"), info.ollama.processor, "llama-ollama"),
    ),
    h(
      "div.table-scroll",
      h(
        "table.components",
        h(
          "thead",
          h(
            "tr",
            h("th", { scope: "col", text: t("r.llama_device") }),
            h("th.num", { scope: "col", text: t("r.llama_model") }),
            h("th.num", { scope: "col", text: t("r.llama_kv") }),
            h("th.num", { scope: "col", text: t("r.llama_compute") }),
            h("th.num", { scope: "col", text: t("r.llama_outside") }),
          ),
        ),
        h("tbody", rows),
      ),
    ),
  );
}
// --- end llama.cpp / Ollama ---

function throughputBlock(report) {
  const tp = report.throughput;
  if (!tp) return null;
  const rows = [];
  if (tp.decode_tokens_per_s !== null && tp.decode_tokens_per_s !== undefined) rows.push(kv(t("r.decode_tps"), `≈ ${fmtNum(tp.decode_tokens_per_s, 1)} tok/s`, "decode-tps"));
  if (tp.prefill_seconds !== null && tp.prefill_seconds !== undefined) rows.push(kv(t("r.prefill_s"), `≈ ${fmtNum(tp.prefill_seconds, 2)} s`, "prefill-s"));
  if (tp.train_tokens_per_s !== null && tp.train_tokens_per_s !== undefined) rows.push(kv(t("r.train_tps"), `≈ ${fmtInt(tp.train_tokens_per_s)} tok/s`, "train-tps"));
  if (tp.step_seconds !== null && tp.step_seconds !== undefined) rows.push(kv(t("r.step_s"), `≈ ${fmtNum(tp.step_seconds, 2)} s`, "step-s"));
  return h(
    "section.card.sub",
    { testid: "throughput" },
    h("h3", {}, t("r.throughput"), " ", h("span.badge.badge-est", { text: t("r.estimate_badge") })),
    rows.length ? h("dl.kvs", rows) : h("p.muted", { text: "—" }),
    h("ul.notes", [...(tp.notes || []).map((n) => msgNode("li", n)), h("li", { text: t("r.throughput_help") })]),
  );
}

function recsBlock(report) {
  const recs = report.recommendations || [];
  if (!recs.length) return h("section.card.sub", { testid: "recommendations" }, h("h3", { text: t("r.recs") }), h("p.muted", { text: t("r.no_recs") }), leftOutBlock(report));
  // On a phone each row is a card (styles.css): every cell carries its column's name in data-label. Explicit roles
  // keep the table semantics when CSS lays the rows out as blocks.
  const cols = [t("r.per_device_gb"), t("r.headroom"), t("r.price"), t("r.cloud_price")];
  const cell = (i, text) => h("td.num", { role: "cell", dataset: { label: cols[i] }, text });
  const tbody = h("tbody", { role: "rowgroup" });
  for (const r of recs) {
    const why = [r.strategy, r.reason].filter(Boolean);
    tbody.append(
      h(
        "tr",
        { role: "row", dataset: { gpu: r.gpu } },
        h(
          "th.rec-gpu",
          { scope: "row", role: "rowheader" },
          h("span.rec-name", { text: r.count > 1 ? `${r.count}× ${r.gpu_name}` : r.gpu_name }),
          why.length ? h("div.muted.small", why.map((m, i) => [i ? " · " : null, msgNode("span", m)])) : null,
        ),
        cell(0, `${gb(r.per_device_bytes)} / ${gb(r.capacity_bytes)}`),
        cell(1, fmtPct(r.headroom_fraction, 0)),
        // Both prices are for the whole configuration (all `count` cards), as the engine reports them.
        cell(2, r.launch_price_usd ? fmtUsd(r.launch_price_usd) : "—"),
        cell(3, r.cloud_usd_per_hour ? fmtUsd(r.cloud_usd_per_hour, 2) : "—"),
      ),
    );
  }
  return h(
    "section.card.sub",
    { testid: "recommendations" },
    h("h3", { text: t("r.recs") }),
    h(
      "div.table-scroll",
      h(
        "table.recs.stack",
        { role: "table", testid: "recs-table" },
        h(
          "thead",
          { role: "rowgroup" },
          h(
            "tr",
            { role: "row" },
            h("th", { scope: "col", role: "columnheader", text: t("r.gpu") }),
            cols.map((c) => h("th.num", { scope: "col", role: "columnheader", text: c })),
          ),
        ),
        tbody,
      ),
    ),
    h("p.muted.small", { text: t("r.price_note") }),
    leftOutBlock(report),
  );
}

/** The inputs behind this result, for print / PDF (hidden on screen, where the form shows them). */
function inputsBlock(request, report) {
  const diff = diffFromDefaults(request);
  const items = [
    [t("f.model"), report.estimate.model.name],
    [t("f.gpu"), report.fit ? `${request.gpus > 1 ? `${request.gpus}× ` : ""}${report.fit.gpu_name}` : "—"],
  ];
  for (const [k, v] of Object.entries(diff)) {
    if (k === "mode" || k === "model" || k === "gpu" || k === "gpus" || k === "config") continue;
    const f = FIELD_BY_KEY[k];
    const label = has(`o.${k}.${v}`) ? t(`o.${k}.${v}`) : String(v);
    items.push([f ? t(`f.${k}`) : k, label]);
  }
  return h(
    "section.print-only",
    { testid: "print-inputs" },
    h("h3", { text: t("r.inputs") }),
    h("dl.kvs", items.map(([k, v]) => kv(k, v))),
  );
}

/**
 * The compact total + fit bar that stays at the top of a phone's screen while the inputs are edited
 * (#mini-result; main.js shows it when the result's own total is scrolled out of view).
 */
export function renderMini(box, report, status) {
  if (!box) return;
  clear(box);
  if (!report) {
    box.dataset.empty = "1";
    return;
  }
  delete box.dataset.empty;
  const e = report.estimate;
  const fit = report.fit;
  const ratio = fit ? fit.required_bytes / fit.capacity_bytes : null;
  const level = !fit ? "none" : !fit.fits ? "bad" : ratio > 0.9 ? "warn" : "ok";
  box.dataset.status = status;
  const fill = h("span.mini-fill");
  if (ratio !== null) fill.style.width = `${Math.min(ratio, 1) * 100}%`; // CSSOM (strict CSP)
  box.append(
    h("span.mini-model", { text: e.model.name }),
    h(
      "span.mini-total",
      { testid: "mini-total", dataset: { totalBytes: String(e.total_bytes) } },
      h("strong", { text: gb(e.total_bytes) }),
      " GB",
      e.num_devices > 1 ? h("span.muted", { text: ` ${t("r.per_device")}` }) : null,
    ),
    fit ? h(`span.badge.badge-${level}`, { testid: "mini-verdict", text: fit.fits ? t("r.fits") : t("r.no_fit") }) : null,
    fit ? h(`span.mini-bar.bar-${level}`, { "aria-hidden": "true" }, fill) : null,
  );
}

/** One line on why the card number exceeds the tensor peak: the allocator's reserve and memory outside it. */
function whyMore(e) {
  const a = e.details && e.details.allocator;
  if (!a) return null;
  const text = t("r.why_more", {
    peak: gb(e.peak_allocated_bytes),
    reserve: gb(a.reserve_bytes),
    outside: gb(a.outside_allocator_bytes),
  });
  const expandable = a.mode === "default" ? ` ${t("r.why_expandable", { gb: gb(a.expandable_limit_bytes + a.outside_allocator_bytes), setting: a.setting })}` : "";
  return h("div.total-why.muted.small", { testid: "total-why", text: text + expandable });
}

/**
 * Render a report into `root`. status: "prerendered" | "live" | "pending" | "invalid" | "stale".
 */
export function renderResult(root, report, request, status) {
  clear(root);
  const e = report.estimate;
  const head = h(
    "div.result-head",
    h(
      "div",
      h("h2#result-title", { testid: "result-title", text: e.model.name }),
      h("div.muted.small", {
        text: [t(`tab.${e.mode}`), e.mode === "multimodal" ? t(`o.task.${request.task}`) : null, e.model.source === "custom" ? t("r.custom_model") : null]
          .filter(Boolean)
          .join(" · "),
      }),
    ),
    h(`span.badge.status-${status}`, { testid: "result-status", dataset: { status }, text: t(`r.status.${status}`) }),
  );
  const total = h(
    "div.total",
    h("div.total-label", { text: e.num_devices > 1 ? t("r.total_per_gpu", { n: e.num_devices }) : t("r.total") }),
    h(
      "div.total-value",
      { testid: "total-value", dataset: { totalBytes: String(e.total_bytes) }, title: `${e.total_bytes.toLocaleString("en-US")} bytes` },
      h("span.big", { text: gb(e.total_bytes) }),
      h("span.unit", { text: " GB" }),
    ),
    h("div.total-sub.muted", {
      text: `= ${gib(e.total_bytes)} GiB · ${t("r.peak_alloc")} ${gb(e.peak_allocated_bytes)} GB`,
    }),
    whyMore(e),
  );
  const warnings = (e.warnings || []).length
    ? h("ul.warnings", { testid: "warnings", role: "note" }, e.warnings.map((w) => msgNode("li", w)))
    : null;
  append(root, [
    head,
    h("div.result-top", total, fitBlock(report)),
    warnings,
    h("div.breakdown", h("div.chart", donut(e.components, e.total_bytes)), h("div.table-scroll", componentsTable(e))),
    smallComponentsNote(e),
    h("p.muted.small.units-note", { text: t("r.units_note") }),
    vllmBlock(report),
    paramsBlock(e),
    llamaCppBlock(e),
    h(
      "details.assumptions",
      { testid: "assumptions", open: true },
      h("summary", { text: `${t("r.assumptions")} (${e.assumptions.length})` }),
      h(
        "ul",
        e.assumptions.map((a) => msgNode("li", a)),
      ),
    ),
    h("div.subgrid", inverseBlock(report), throughputBlock(report)),
    recsBlock(report),
    inputsBlock(request, report),
  ]);
  root.dataset.status = status;
  renderMini(document.getElementById("mini-result"), report, status);
}
