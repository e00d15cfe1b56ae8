// VRAM Insight UI. Renders the pre-rendered catalog + default report at once, then talks to the Python
// engine (Pyodide in a Web Worker, site/engine/engine-client.js) as inputs change.
import { $, $$, clear, debounce, download, h } from "./dom.js";
import { DEFAULTS, MODES, PRESETS, presetRequest, sanitizeRequest, toRequest } from "./fields.js";
import { buildForm, CONFIG_MAX_BYTES, showErrors, syncControls, updateVisibility } from "./form.js";
import { fmtNum, gb } from "./format.js";
import { applyStatic, getLang, initI18n, setLang, t } from "./i18n.js";
import { loadHistory, makeEntry, MAX_ENTRIES, saveHistory } from "./history.js";
import { onStoreProblem } from "./history-store.js";
import { watchForUpdates } from "./sw-update.js";
import { componentLabel, renderResult } from "./result.js";
import { faultNotice, faultText, isRestartFault } from "./recovery.js";
import { decodeFragment, shareUrl } from "./share.js";
import { toCSV, toJSON, toMarkdown } from "./export.js";

// Start loading the engine before anything else: its boot is the long pole.
const engineModule = import("../engine/engine-client.js").catch((err) => {
  console.error("engine-client failed to load", err);
  return null;
});

const HISTORY_SAVE_MS = 1200;
const THEME_KEY = "vram-insight:theme";

const app = {
  state: { ...DEFAULTS },
  catalog: { models: [], gpus: [] },
  report: null, // last good report
  reportRequest: null, // the request it answers
  status: "prerendered",
  engine: null,
  engineState: "loading",
  engineBusy: false, // a call has been running for a while (engine-client.js's onBusy): the pill says so
  errors: {},
  ui: { search: "", customOpen: false, configSummary: "", lastModel: { text: DEFAULTS.model, multimodal: null } },
  history: [],
  historyReadOnly: false,
  selected: new Set(),
  seq: 0,
  version: 0,
  fromLink: false,
  perf: { boot: null, last: null, count: 0, version: null },
};
window.__vramApp = app; // for debugging and the e2e tests (read-only use)

// ------------------------------------------------------------------------------------------------ helpers
const form = () => $("#inputs");
const resultBody = () => $("#result-body");

function readJsonBlock(id) {
  const el = document.getElementById(id);
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch (err) {
    console.warn(`cannot parse #${id}`, err);
    return null;
  }
}

function notice(kind, text, testid = "notice") {
  const box = $("#notices");
  for (const old of $$(`[data-testid="${testid}"]`, box)) old.remove();
  const el = h(
    `div.notice.notice-${kind}`,
    { testid, role: kind === "error" ? "alert" : "status" },
    h("span", { text }),
    h("button.icon-btn.small", { type: "button", "aria-label": t("act.dismiss"), text: "×", onclick: () => el.remove() }),
  );
  box.append(el);
  return el;
}

function firstLine(msg) {
  const s = String(msg ?? "").split("\n").find((l) => l.trim()) || t("err.unknown");
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

const isMm = (id) => app.catalog.models.find((m) => m.id === id)?.kind === "multimodal";

// ------------------------------------------------------------------------------------------------ render
function renderForm() {
  buildForm(form(), {
    state: app.state,
    catalog: app.catalog,
    ui: app.ui,
    handlers: { setField, applyPreset, applyConfigText, fetchHf, clearConfig, configError },
  });
  showErrors(form(), app.errors);
}

function renderTabs() {
  for (const b of $$("#tabs [role=tab]")) {
    const on = b.dataset.mode === app.state.mode;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    if (on) form().setAttribute("aria-labelledby", b.id);
  }
}

function renderCurrent() {
  if (app.report) {
    renderResult(resultBody(), app.report, app.reportRequest || app.state, app.status);
  } else {
    clear(resultBody()).append(
      h(
        "div.placeholder",
        { testid: "result-placeholder" },
        h("span.spinner", { "aria-hidden": "true" }),
        h("p", { text: app.engineState === "error" ? t("r.engine_failed") : t("r.waiting") }),
      ),
    );
    resultBody().dataset.status = "pending";
  }
}

function setStatus(status) {
  app.status = status;
  const badge = $("[data-testid='result-status']");
  if (badge) {
    badge.dataset.status = status;
    badge.className = `badge status-${status}`;
    badge.textContent = t(`r.status.${status}`);
  }
  resultBody().dataset.status = status;
}

function renderEngineStatus() {
  const pill = $("[data-testid='engine-status']");
  const shown = app.engineState === "ready" && app.engineBusy ? "busy" : app.engineState;
  pill.dataset.state = shown;
  $(".engine-status-text", pill).textContent = t(`eng.${shown}`);
  $("[data-testid='perf-boot']").textContent = app.perf.boot === null ? "—" : `${fmtNum(app.perf.boot / 1000, 2)} s`;
  $("[data-testid='perf-last']").textContent = app.perf.last === null ? "—" : `${fmtNum(app.perf.last, 1)} ms`;
  $("[data-testid='perf-count']").textContent = String(app.perf.count);
  $("[data-testid='perf-version']").textContent = app.perf.version || "—";
}

function renderAll() {
  applyStatic();
  document.title = t("app.doc_title");
  $("#lang-select").value = getLang();
  renderTabs();
  renderForm();
  renderCurrent();
  renderHistory();
  renderEngineStatus();
  renderShortcuts();
}

// ------------------------------------------------------------------------------------------------ state
function setField(key, value) {
  const s = app.state;
  app.fromLink = false; // the user edits: an engine rejection is now about their input, not the link
  s[key] = value;
  if (key === "model") {
    s.config = null;
    app.ui.lastModel[isMm(value) ? "multimodal" : "text"] = value;
  }
  if (key === "method") {
    // QLoRA means a 4-bit base model (bitsandbytes NF4); leaving QLoRA goes back to bf16.
    if (value === "qlora" && !["nf4", "int4", "int8", "fp8"].includes(s.weights)) s.weights = "nf4";
    if (value !== "qlora" && s.weights === "nf4") s.weights = "bf16";
  }
  if (key === "runtime" && value === "llama.cpp" && s.weights === "bf16") {
    // leave as is: llama.cpp runs bf16/f16 GGUF too
  }
  delete app.errors[key];
  delete app.errors._form;
  if (key === "model" || key === "config") {
    renderForm();
  } else {
    updateVisibility(form(), s);
    syncControls(form(), s); // dependent fields (e.g. QLoRA -> NF4); the focused control is left alone
    showErrors(form(), app.errors);
  }
  scheduleRecalc();
}

function ensureModelMatchesMode() {
  const s = app.state;
  if (s.config) return;
  const wantMm = s.mode === "multimodal";
  if (app.catalog.models.length && isMm(s.model) !== wantMm) {
    const group = wantMm ? "multimodal" : "text";
    const remembered = app.ui.lastModel[group];
    const pool = app.catalog.models.filter((m) => (m.kind === "multimodal") === wantMm);
    const pick =
      (remembered && pool.find((m) => m.id === remembered)) ||
      pool.find((m) => m.id === (wantMm ? "qwen2.5-vl-7b" : DEFAULTS.model)) ||
      pool.find((m) => /7b|8b/i.test(m.id)) ||
      pool[0];
    if (pick) s.model = pick.id;
  }
}

function setMode(mode) {
  if (!MODES.includes(mode) || mode === app.state.mode) return;
  app.state.mode = mode;
  app.fromLink = false;
  ensureModelMatchesMode();
  app.errors = {};
  renderTabs();
  renderForm();
  scheduleRecalc(true);
}

function loadRequest(req, { render = true } = {}) {
  app.state = { ...DEFAULTS, ...req };
  app.fromLink = false; // applyFragment sets it again for a link
  if (app.state.config) app.ui.configSummary = String(app.state.config.model_type ?? "");
  else if (app.state.model) app.ui.lastModel[isMm(app.state.model) ? "multimodal" : "text"] = app.state.model;
  app.errors = {};
  app.ui.search = "";
  if (render) {
    renderTabs();
    renderForm();
  }
}

function applyPreset(id) {
  const p = PRESETS.find((x) => x.id === id);
  const req = p && presetRequest(p, app.catalog);
  if (!req) return;
  loadRequest(req);
  scheduleRecalc(true);
}

// ------------------------------------------------------------------------------------------------ engine
// Recalculation runs in two stages. The totals come from the engine's fast "quick" op (estimate + fit, ~1–2 ms
// of Python) as soon as an input changes; the full "report" (recommendations, inverse, throughput: ~15 ms)
// follows once the inputs have been still for REPORT_DELAY_MS. Engine calls are coalesced, not queued: a change
// made while a call is in flight marks that stage pending, and one call for the latest inputs follows.
const REPORT_DELAY_MS = 120;
let engineBusy = false;
const pending = { quick: false, report: false };

function pump() {
  if (engineBusy) return;
  const kind = pending.quick ? "quick" : pending.report ? "report" : null;
  if (!kind) return;
  pending[kind] = false;
  engineBusy = true;
  (kind === "quick" ? recalcQuick() : recalc()).finally(() => {
    engineBusy = false;
    pump();
  });
}

const reportSoon = debounce(() => {
  pending.report = true;
  pump();
}, REPORT_DELAY_MS);

function scheduleRecalc(immediate = false) {
  app.version += 1; // inputs changed: any answer still in flight is for older inputs
  if (app.report) setStatus(app.engineState === "ready" ? "pending" : "waiting");
  else renderCurrent();
  if (!app.report || immediate) {
    // First result, presets, links, tab switches: the full report at once.
    reportSoon.cancel();
    pending.report = true;
  } else {
    pending.quick = true;
    reportSoon();
  }
  pump();
}

function engineReady() {
  if (app.engine && app.engineState === "ready") return true;
  if (app.report) setStatus("waiting");
  return false;
}

async function recalcQuick() {
  if (!engineReady()) return;
  const req = toRequest(app.state);
  const seq = ++app.seq;
  const version = app.version;
  const t0 = performance.now();
  try {
    const quick = await app.engine.call("quick", req);
    if (seq !== app.seq || version !== app.version) return;
    app.perf.last = performance.now() - t0;
    app.errors = {};
    // The previous report's planning answers stay (marked pending) until the full report replaces them.
    renderResult(resultBody(), { ...app.report, estimate: quick.estimate, fit: quick.fit }, req, "pending");
    showErrors(form(), app.errors);
    renderEngineStatus();
  } catch (err) {
    reportSoon.cancel(); // the report would fail the same way
    handleEngineError(err, seq, version, t0);
  }
}

async function recalc() {
  if (!engineReady()) return;
  const req = toRequest(app.state);
  const seq = ++app.seq;
  const version = app.version;
  const t0 = performance.now();
  try {
    const report = await app.engine.call("report", req);
    // Stale: a newer call was made, or the inputs changed since (a call for them follows).
    if (seq !== app.seq || version !== app.version) return;
    app.perf.last = performance.now() - t0;
    app.perf.count += 1;
    app.report = report;
    app.reportRequest = req;
    app.errors = {};
    app.fromLink = false;
    app.status = "live";
    renderResult(resultBody(), report, req, "live");
    showErrors(form(), app.errors);
    renderEngineStatus();
    scheduleHistorySave(req, report);
  } catch (err) {
    handleEngineError(err, seq, version, t0);
  }
}

function handleEngineError(err, seq, version, t0) {
  if (isRestartFault(err)) return recoverFromFault(err); // even when stale: the later inputs waited behind it
  if (seq !== app.seq || version !== app.version) return;
  app.perf.last = performance.now() - t0;
  renderEngineStatus();
  const msg = faultText(err) || firstLine(err && err.message);
  if (app.fromLink) {
    // A link whose values the engine rejects: say so and fall back to the default view.
    app.fromLink = false;
    notice("error", t("n.link_invalid", { msg }), "notice-link");
    history.replaceState(null, "", location.pathname + location.search);
    loadRequest({ ...DEFAULTS });
    scheduleRecalc(true);
    return;
  }
  const field = err && typeof err.field === "string" ? err.field.split(".")[0] : null;
  const visible = field && form().querySelector(`[data-testid="error-${CSS.escape(field)}"]`);
  const wrap = visible && visible.closest(".field");
  app.errors = {};
  if (visible && !(wrap && wrap.hidden)) app.errors[field] = msg;
  else app.errors._form = field ? `${t(`f.${field}`)}: ${msg}` : msg;
  showErrors(form(), app.errors);
  if (app.report) setStatus("invalid");
}

// --- watchdog recovery (site reliability): the engine hung, crashed or answered garbage on some inputs and was
// restarted (engine-client.js). Say which inputs, put the last valid ones back in the form; the result for them is
// recomputed as soon as the new worker is ready (startEngine's onState).
function recoverFromFault(err) {
  const good = app.reportRequest || toRequest({ ...DEFAULTS });
  notice("error", faultNotice(err, good, app.engine?.limits?.call_timeout_ms), "notice-engine-fault");
  if (app.fromLink) history.replaceState(null, "", location.pathname + location.search);
  loadRequest(good);
  scheduleRecalc(true);
}

async function startEngine() {
  const mod = await engineModule;
  if (!mod || !mod.engine) {
    app.engineState = "error";
    renderEngineStatus();
    if (!app.report) renderCurrent();
    return;
  }
  const engine = mod.engine;
  app.engine = engine;
  const onState = (st, detail) => {
    if (st === "ready" && !app.perf.boot) return; // wait for `ready` to resolve (boot time known)
    const was = app.engineState;
    app.engineState = st;
    renderEngineStatus();
    if (st === "ready" && was === "restarting") scheduleRecalc(true); // replay the (restored) inputs
    if (st === "error" && was !== "error" && app.perf.boot) {
      // Restarts did not help (engine-client.js MAX_RESTARTS): say so; the last result stays on screen.
      console.error("engine stopped", detail);
      notice("error", t("n.engine_stopped", { n: engine.stats?.restarts ?? 0 }), "notice-engine");
      if (app.report) setStatus("invalid");
    }
  };
  if (typeof engine.onState === "function") engine.onState(onState);
  engine.onBusy?.((busy) => {
    app.engineBusy = busy;
    renderEngineStatus();
  });
  try {
    const ready = await engine.ready;
    app.perf.boot = ready && typeof ready.boot_ms === "number" ? ready.boot_ms : performance.now();
    app.perf.version = ready?.info?.engine_version ?? null;
    app.engineState = "ready";
    renderEngineStatus();
  } catch (err) {
    console.error("engine failed", err);
    app.engineState = "error";
    renderEngineStatus();
    notice("error", t("n.engine_failed", { msg: firstLine(err && err.message) }), "notice-engine");
    if (!app.report) renderCurrent();
    return;
  }
  if (!app.catalog.models.length) {
    try {
      app.catalog = await engine.call("catalog", {});
      ensureModelMatchesMode();
      renderForm();
    } catch (err) {
      notice("error", firstLine(err.message), "notice-engine");
    }
  }
  // Compute whatever the inputs are now (engine-client.js registers the service worker itself).
  await recalc();
}

// ------------------------------------------------------------------------------------------------ custom config
function configError(errEl, msg) {
  errEl.hidden = !msg;
  errEl.textContent = msg || "";
}

async function applyConfigText(text, { err, note }) {
  configError(err, "");
  note.textContent = "";
  const size = new TextEncoder().encode(text).length;
  if (!text.trim()) return configError(err, t("m.empty"));
  if (size > CONFIG_MAX_BYTES) return configError(err, t("m.too_big", { kb: CONFIG_MAX_BYTES / 1024 }));
  let cfg;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    return configError(err, t("m.bad_json", { msg: e.message }));
  }
  if (!cfg || typeof cfg !== "object" || Array.isArray(cfg)) return configError(err, t("m.not_object"));
  if (!app.engine || app.engineState !== "ready") {
    note.textContent = t("m.wait_engine");
    try {
      await app.engine?.ready;
    } catch {
      return configError(err, t("r.engine_failed"));
    }
    if (!app.engine) return configError(err, t("r.engine_failed"));
  }
  try {
    const info = await app.engine.call("parse_config", { config: cfg });
    app.ui.configSummary = String(info.summary ?? info.model_type ?? "");
    app.ui.customOpen = false;
    app.state.config = cfg;
    delete app.errors.model;
    delete app.errors.config;
    renderForm();
    scheduleRecalc(true);
  } catch (e) {
    note.textContent = "";
    configError(err, faultText(e) || firstLine(e.message));
  }
}

async function fetchHf(repo, { err, note, ta }) {
  configError(err, "");
  repo = String(repo || "").trim();
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) return configError(err, t("m.hf_bad_repo"));
  note.textContent = t("m.hf_fetching");
  try {
    // The only request that ever leaves this site, and only on this explicit click.
    const res = await fetch(`https://huggingface.co/${repo}/resolve/main/config.json`, { credentials: "omit", referrerPolicy: "no-referrer" });
    if (res.status === 401 || res.status === 403) throw new Error(t("m.hf_gated"));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const len = Number(res.headers.get("content-length") || 0);
    if (len > CONFIG_MAX_BYTES) throw new Error(t("m.too_big", { kb: CONFIG_MAX_BYTES / 1024 }));
    const text = await res.text();
    ta.value = text;
    note.textContent = "";
    await applyConfigText(text, { err, note });
  } catch (e) {
    note.textContent = "";
    configError(err, t("m.hf_failed", { msg: firstLine(e.message) }));
  }
}

function clearConfig() {
  app.state.config = null;
  app.ui.configSummary = "";
  ensureModelMatchesMode();
  renderForm();
  scheduleRecalc(true);
}

// ------------------------------------------------------------------------------------------------ history
const saveSoon = debounce((req, report) => {
  if (app.historyReadOnly) return;
  const key = JSON.stringify(req);
  const idx = app.history.findIndex((e) => JSON.stringify(e.request) === key);
  const entry = makeEntry(req, report);
  if (idx >= 0) {
    entry.id = app.history[idx].id;
    app.history.splice(idx, 1);
  }
  app.history.unshift(entry);
  app.history = app.history.slice(0, MAX_ENTRIES);
  saveHistory(app.history);
  renderHistory();
}, HISTORY_SAVE_MS);

function scheduleHistorySave(req, report) {
  saveSoon(req, report);
}

function renderHistory() {
  const list = $("#history-list");
  clear(list);
  if (!app.history.length) list.append(h("li.muted.empty", { testid: "history-empty", text: t("hist.empty") }));
  for (const e of app.history) {
    const s = e.summary;
    const checked = app.selected.has(e.id);
    const when = new Date(e.ts);
    const li = h(
      "li.history-item",
      { testid: "history-item", dataset: { id: e.id } },
      h("input", {
        type: "checkbox",
        testid: "history-select",
        checked,
        disabled: !checked && app.selected.size >= 4,
        "aria-label": t("hist.select"),
        onchange: (ev) => {
          if (ev.target.checked) app.selected.add(e.id);
          else app.selected.delete(e.id);
          renderHistory();
        },
      }),
      h(
        "button.history-restore",
        { type: "button", testid: "history-restore", title: t("hist.restore"), onclick: () => restoreEntry(e) },
        h("span.h-model", { text: s.model_name || e.request.model || "?" }),
        h("span.h-meta.muted", {
          text: [t(`tab.${e.request.mode}`), s.gpu_name ? `${s.num_devices > 1 ? `${s.num_devices}× ` : ""}${s.gpu_name}` : null, when.toLocaleString(getLang() === "zh-CN" ? "zh-CN" : "en-US", { dateStyle: "short", timeStyle: "short" })]
            .filter(Boolean)
            .join(" · "),
        }),
        h(`span.h-total${s.fits === false ? ".bad" : ""}`, { text: `${gb(s.total_bytes)} GB` }),
      ),
      h("button.icon-btn.small", { type: "button", testid: "history-delete", "aria-label": t("hist.delete"), title: t("hist.delete"), text: "×", onclick: () => deleteEntry(e.id) }),
    );
    list.append(li);
  }
  $("#compare-btn").disabled = app.selected.size < 2;
  $("#compare-btn").textContent = t("hist.compare_n", { n: app.selected.size });
  $("#history-clear").disabled = !app.history.length;
}

function restoreEntry(e) {
  loadRequest(e.request);
  scheduleRecalc(true);
  $("#result").focus({ preventScroll: false });
}

function deleteEntry(id) {
  saveSoon.cancel();
  app.history = app.history.filter((e) => e.id !== id);
  app.selected.delete(id);
  if (!app.historyReadOnly) saveHistory(app.history);
  renderHistory();
  if (!$("#compare").hidden) renderCompare();
}

function clearHistory() {
  if (!app.history.length) return;
  if (!confirm(t("hist.confirm_clear"))) return;
  saveSoon.cancel();
  app.history = [];
  app.selected.clear();
  if (!app.historyReadOnly) saveHistory([]);
  renderHistory();
  $("#compare").hidden = true;
}

function renderCompare() {
  const box = $("#compare");
  const entries = app.history.filter((e) => app.selected.has(e.id)).slice(0, 4);
  clear(box);
  if (entries.length < 2) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const compNames = [...new Set(entries.flatMap((e) => Object.keys(e.summary.components)))];
  const row = (label, fn, cls) => h("tr", cls ? { class: cls } : null, h("th", { scope: "row", text: label }), entries.map((e) => h("td", { text: fn(e) })));
  const inputs = ["batch_size", "seq_len", "weights", "method", "precision", "optimizer", "grad_checkpointing", "gpus", "zero", "tp"];
  const table = h(
    "table.compare-table",
    { testid: "compare-table" },
    h("thead", h("tr", h("td"), entries.map((e) => h("th", { scope: "col", text: e.summary.model_name || e.request.model || "?" })))),
    h(
      "tbody",
      row(t("hist.mode"), (e) => t(`tab.${e.request.mode}`)),
      row(t("f.gpu"), (e) => (e.summary.gpu_name ? `${e.summary.num_devices > 1 ? `${e.summary.num_devices}× ` : ""}${e.summary.gpu_name}` : "—")),
      row(`${t("r.total")} (GB)`, (e) => gb(e.summary.total_bytes), "strong"),
      row(t("r.fit"), (e) => (e.summary.fits === null ? "—" : e.summary.fits ? t("r.fits") : t("r.no_fit"))),
      compNames.map((c) => row(`${componentLabel(c)} (GB)`, (e) => (c in e.summary.components ? gb(e.summary.components[c]) : "—"))),
      inputs.map((k) => row(t(`f.${k}`), (e) => String(e.request[k]))),
    ),
  );
  box.append(
    h("div.section-head", h("h3", { text: t("hist.compare_title") }), h("button.btn.small", { type: "button", testid: "compare-close", text: t("act.close"), onclick: () => (box.hidden = true) })),
    h("div.table-scroll", table),
  );
  box.scrollIntoView({ block: "nearest" });
}

// ------------------------------------------------------------------------------------------------ share / export
async function onShare() {
  const req = toRequest(app.state);
  const url = await shareUrl(req);
  history.replaceState(null, "", url);
  const field = $("#share-url");
  field.hidden = false;
  field.value = url;
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(url);
    copied = true;
  } catch {
    copied = false;
  }
  notice("ok", copied ? t("n.link_copied") : t("n.link_ready"), "notice-share");
}

function currentExport() {
  const report = app.report;
  const req = app.reportRequest || toRequest(app.state);
  return { report, req };
}

function exportAs(kind) {
  const { report, req } = currentExport();
  if (!report) return;
  const base = `vram-${(report.estimate.model.id || "custom").replace(/[^\w.-]+/g, "_")}-${req.mode}`;
  if (kind === "md") download(`${base}.md`, "text/markdown;charset=utf-8", toMarkdown(req, report, t));
  if (kind === "csv") download(`${base}.csv`, "text/csv;charset=utf-8", toCSV(req, report));
  if (kind === "json") download(`${base}.json`, "application/json", toJSON(req, report, { engine_version: app.perf.version }));
}

async function applyFragment({ initial }) {
  const frag = location.hash.slice(1);
  if (!frag) return false;
  try {
    const req = await decodeFragment(frag);
    if (!req) return false;
    loadRequest(req, { render: !initial });
    app.fromLink = true;
    app.report = null;
    app.reportRequest = null;
    if (!initial) scheduleRecalc(true);
    return true;
  } catch (err) {
    notice("error", t("n.link_bad", { msg: firstLine(err.message) }), "notice-link");
    history.replaceState(null, "", location.pathname + location.search);
    if (!initial) {
      loadRequest({ ...DEFAULTS });
      scheduleRecalc(true);
    }
    return false;
  }
}

// ------------------------------------------------------------------------------------------------ theme, keys
function applyTheme(pref) {
  if (pref === "light" || pref === "dark") document.documentElement.dataset.theme = pref;
  else delete document.documentElement.dataset.theme;
}

function initTheme() {
  let pref = "system";
  try {
    pref = localStorage.getItem(THEME_KEY) || "system";
  } catch {
    /* ignore */
  }
  const sel = $("#theme-select");
  sel.value = ["light", "dark"].includes(pref) ? pref : "system";
  applyTheme(sel.value);
  sel.addEventListener("change", () => setTheme(sel.value));
}

function setTheme(pref) {
  $("#theme-select").value = pref;
  applyTheme(pref);
  try {
    if (pref === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, pref);
  } catch {
    /* ignore */
  }
}

const SHORTCUTS = [
  ["1 … 5", "keys.tabs"],
  ["/", "keys.search"],
  ["g", "keys.gpu"],
  ["s", "keys.share"],
  ["e", "keys.export"],
  ["h", "keys.history"],
  ["r", "keys.result"],
  ["t", "keys.theme"],
  ["l", "keys.lang"],
  ["?", "keys.help"],
  ["Esc", "keys.close"],
];

function renderShortcuts() {
  const body = clear($("#shortcuts-body"));
  for (const [k, key] of SHORTCUTS) body.append(h("tr", h("td", h("kbd", { text: k })), h("td", { text: t(key) })));
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  const tg = ev.target;
  if (tg && (tg.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(tg.tagName))) return;
  const dlg = $("#shortcuts");
  if (dlg.open && ev.key !== "?") return;
  const k = ev.key;
  let handled = true;
  if (/^[1-5]$/.test(k)) {
    setMode(MODES[Number(k) - 1]);
    $(`#tab-${MODES[Number(k) - 1]}`).focus();
  } else if (k === "/") $("#model-search")?.focus();
  else if (k === "g") $("#gpu-select")?.focus();
  else if (k === "s") onShare();
  else if (k === "e") exportAs("md");
  else if (k === "h") $("#history-list button, #history-list")?.focus();
  else if (k === "r") $("#result").focus();
  else if (k === "t") {
    const order = ["system", "light", "dark"];
    setTheme(order[(order.indexOf($("#theme-select").value) + 1) % 3]);
  } else if (k === "l") switchLang(getLang() === "en" ? "zh-CN" : "en");
  else if (k === "?") {
    if (dlg.open) dlg.close();
    else dlg.showModal();
  } else handled = false;
  if (handled) ev.preventDefault();
}

async function switchLang(code) {
  await setLang(code);
  renderAll();
}

// ------------------------------------------------------------------------------------------------ startup
function wireStatic() {
  for (const b of $$("#tabs [role=tab]")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("#tabs").addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const i = MODES.indexOf(app.state.mode);
    const next = MODES[(i + (ev.key === "ArrowRight" ? 1 : MODES.length - 1)) % MODES.length];
    setMode(next);
    $(`#tab-${next}`).focus();
    ev.preventDefault();
  });
  $("#lang-select").addEventListener("change", (ev) => switchLang(ev.target.value));
  $("#help-btn").addEventListener("click", () => $("#shortcuts").showModal());
  $("#share-btn").addEventListener("click", onShare);
  $("#export-md").addEventListener("click", () => exportAs("md"));
  $("#export-csv").addEventListener("click", () => exportAs("csv"));
  $("#export-json").addEventListener("click", () => exportAs("json"));
  $("#print-btn").addEventListener("click", () => window.print());
  $("#history-clear").addEventListener("click", clearHistory);
  $("#compare-btn").addEventListener("click", renderCompare);
  $("#inputs").addEventListener("submit", (ev) => ev.preventDefault());
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => applyFragment({ initial: false }));
  window.addEventListener("storage", (ev) => {
    if (ev.key && ev.key.startsWith("vram-insight:history")) {
      const h2 = loadHistory();
      app.history = h2.entries;
      renderHistory();
    }
  });
}

async function main() {
  initTheme();
  try {
    await initI18n();
  } catch (err) {
    console.warn("i18n", err);
  }
  // Pre-rendered data: the catalog lists and the default report, computed by CPython at build time.
  const cat = readJsonBlock("prerendered-catalog");
  if (cat && Array.isArray(cat.models) && Array.isArray(cat.gpus)) app.catalog = cat;
  const pre = readJsonBlock("prerendered-report");
  if (pre) {
    const report = pre.estimate ? pre : pre.report;
    const preReq = pre.request || readJsonBlock("prerendered-request");
    const req = preReq ? sanitizeRequest(preReq).request : { ...DEFAULTS };
    if (report && report.estimate) {
      app.report = report;
      app.reportRequest = req;
      app.state = { ...req };
      app.status = "prerendered";
    }
  }
  // History
  const hist = loadHistory();
  app.history = hist.entries;
  app.historyReadOnly = hist.readOnly;
  // A share link replaces the default inputs (validated again by the engine once it is up).
  await applyFragment({ initial: true });
  renderAll();
  // History salvage and quota problems (history-store.js), said in the user's language.
  if (hist.notices.length) notice("warn", hist.notices.map((n) => t(n.key, n.params)).join(" "), "notice-history");
  onStoreProblem((n) => notice("warn", t(n.key, n.params), "notice-history"));
  wireStatic();
  watchForUpdates().catch((err) => console.warn("update check", err)); // one version per page (sw-update.js)
  document.documentElement.dataset.appReady = "1";
  await startEngine();
}

main().catch((err) => {
  console.error(err);
  const box = document.getElementById("notices");
  if (box) {
    const div = document.createElement("div");
    div.className = "notice notice-error";
    div.setAttribute("data-testid", "notice-fatal");
    div.textContent = `Something went wrong while starting the app: ${String(err && err.message).split("\n")[0]}`;
    box.append(div);
  }
});
