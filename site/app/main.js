// VRAM Insight UI. Renders the pre-rendered catalog + default report at once, then talks to the Python
// engine (Pyodide in a Web Worker, site/engine/engine-client.js) as inputs change.
import { $, $$, clear, debounce, download, h } from "./dom.js";
import { DEFAULTS, diffFromDefaults, MODES, presetRequest, requestKey, sanitizeRequest, tabDefaults, toRequest } from "./fields.js";
import { buildForm, CONFIG_MAX_BYTES, fieldLabel, markChanged, namesField, showErrors, syncControls, syncPreset, updateVisibility } from "./form.js";
import { fmtNum, gb } from "./format.js";
import { applyStatic, getLang, initI18n, msgText, setFieldLabeler, setLang, t } from "./i18n.js";
import { loadHistory, makeEntry, MAX_NAME, saveHistory, trimEntries } from "./history.js";
import { onStoreProblem } from "./history-store.js";
import { watchForUpdates } from "./sw-update.js";
import { componentLabel, renderMini, renderResult } from "./result.js";
import { faultNotice, faultText, isRestartFault } from "./recovery.js";
import { decodeFragment, encodeState, encodeStateSync, LinkError } from "./share.js";
import { toCSV, toJSON, toMarkdown } from "./export.js";

// Start loading the engine before anything else: its boot is the long pole.
const engineModule = import("../engine/engine-client.js").catch((err) => {
  console.error("engine-client failed to load", err);
  return null;
});

const THEME_KEY = "vram-insight:theme";
// The inputs of every tab and the last result, for this browser tab only (a reload restores them).
const SESSION_TABS = "vram-insight:tabs";
const SESSION_LAST = "vram-insight:last";
// The address follows the inputs (replaceState), coalesced: at most one write per URL_SYNC_MS of typing.
const URL_SYNC_MS = 250;
// What a state link's fragment starts with (#v1.…; share.js); other fragments (#result) are plain anchors.
const STATE_FRAGMENT = /^v\d+\./;
// A link whose values the engine rejects: that many rejected fields are put back to their defaults, one by one,
// before the whole link is given up.
const MAX_LINK_FIXES = 4;

const app = {
  state: tabDefaults("inference"), // the current tab's inputs: always tabs[state.mode]
  tabs: {}, // mode -> that tab's inputs (each tab keeps its own)
  presets: [],
  catalog: { models: [], gpus: [] },
  report: null, // last good report
  reportRequest: null, // the request it answers
  status: "prerendered",
  engine: null,
  engineState: "loading",
  engineBusy: false, // a call has been running for a while (engine-client.js's onBusy): the pill says so
  errors: {},
  ui: { search: "", customOpen: false, configSummary: "", configSummaries: {}, preset: {}, editing: null, ownNf4: {} },
  history: [],
  historyReadOnly: false,
  selected: new Set(),
  seq: 0,
  version: 0,
  fromLink: false,
  linkFixes: 0,
  saveWanted: false,
  url: { written: null, lastKey: null, leaving: null },
  perf: { boot: null, last: null, count: 0, version: null },
};
app.tabs.inference = app.state;
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

function session() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

function readSession(key) {
  try {
    const raw = session()?.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/** Show a notice. `extra`: elements after the text (e.g. a button); `keep`: do not replace one with this testid. */
function notice(kind, text, testid = "notice", { extra = null, keep = false } = {}) {
  const box = $("#notices");
  if (!keep) for (const old of $$(`[data-testid="${testid}"]`, box)) old.remove();
  const el = h(
    `div.notice.notice-${kind}`,
    { testid, role: kind === "error" ? "alert" : "status" },
    h("span.notice-text", h("span", { text }), extra ? [" ", extra] : null),
    h("button.icon-btn.small", { type: "button", "aria-label": t("act.dismiss"), text: "×", onclick: () => el.remove() }),
  );
  box.append(el);
  return el;
}

const clearNotices = (testid) => $$(`#notices [data-testid="${testid}"]`).forEach((n) => n.remove());

function firstLine(msg) {
  const s = String(msg ?? "").split("\n").find((l) => l.trim()) || t("err.unknown");
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/**
 * An engine error as a message for the UI: {code, params, text} when the engine sent a code (translated by
 * msgText), else its text. A leading "field: " (the engine's name for the input) is dropped: the message is shown
 * next to that input, or after the form's own label for it.
 */
function errorMessage(err, field) {
  let text = firstLine(err && err.message);
  if (field) text = text.replace(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\.[\\w.]+)?: `), "");
  return err && err.code ? { code: err.code, params: err.params || {}, text } : text;
}

const isMm = (id) => app.catalog.models.find((m) => m.id === id)?.kind === "multimodal";

// ------------------------------------------------------------------------------------------------ render
function renderForm() {
  app.ui.configSummary = app.ui.configSummaries[app.state.mode] || "";
  buildForm(form(), {
    state: app.state,
    catalog: app.catalog,
    presets: app.presets,
    ui: app.ui,
    handlers: { setField, resetField, resetTab, applyPreset, applyConfigText, fetchHf, clearConfig, configError },
  });
  showErrors(form(), app.errors);
}

function renderTabs() {
  for (const b of $$("#tabs [role=tab]")) {
    const on = b.dataset.mode === app.state.mode;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    if (on) form().setAttribute("aria-labelledby", b.id);
    // A tab whose inputs differ from its defaults says so (each tab keeps its own inputs).
    const st = app.tabs[b.dataset.mode];
    b.classList.toggle("tab-changed", Boolean(st) && requestKey(st) !== requestKey(tabDefaults(b.dataset.mode)));
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
    renderMini($("#mini-result"), null, "pending");
  }
  watchTotal();
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
  const mini = $("#mini-result");
  if (mini) mini.dataset.status = status;
  renderSaveState();
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
  renderSaveState();
}

// The compact total at the top of a phone's screen (#mini-result) shows while the result's own total is out of
// view, i.e. while the inputs below are edited. One observer; it follows the total element across re-renders.
let totalObserver = null;
let observedTotal = null;
function watchTotal() {
  const mini = $("#mini-result");
  const target = $("#result-body .result-top");
  if (!mini || typeof IntersectionObserver !== "function") return;
  if (!totalObserver) {
    totalObserver = new IntersectionObserver((entries) => {
      for (const en of entries) mini.dataset.show = en.isIntersecting || en.boundingClientRect.top > 0 ? "0" : "1";
    });
  }
  if (target === observedTotal) return;
  if (observedTotal) totalObserver.unobserve(observedTotal);
  observedTotal = target;
  if (target) totalObserver.observe(target);
  else mini.dataset.show = "0";
}

// ------------------------------------------------------------------------------------------------ state
/** A tab's starting inputs, with a model of the right kind from this catalog. */
function newTab(mode) {
  const s = { ...tabDefaults(mode) };
  ensureModelMatchesMode(s);
  return s;
}

/** Make `state` the current tab's inputs (and that tab's stored inputs). */
function activate(state) {
  app.tabs[state.mode] = state;
  app.state = state;
}

function setField(key, value) {
  const s = app.state;
  app.fromLink = false; // the user edits: an engine rejection is now about their input, not the link
  s[key] = value;
  if (key === "model") s.config = null;
  // NF4 chosen by the user outside QLoRA (e.g. LoRA on a 4-bit base) stays when they leave QLoRA later.
  if (key === "weights") app.ui.ownNf4[s.mode] = value === "nf4" && s.method !== "qlora";
  if (key === "method") {
    // QLoRA means a 4-bit base model (bitsandbytes NF4); leaving QLoRA goes back to bf16 unless the user chose
    // NF4 themselves. Only in this tab.
    if (value === "qlora" && !["nf4", "int4", "int8", "fp8"].includes(s.weights)) s.weights = "nf4";
    if (value !== "qlora" && s.weights === "nf4" && !app.ui.ownNf4[s.mode]) s.weights = "bf16";
  }
  delete app.errors[key];
  delete app.errors._form;
  if (key === "model" || key === "config") {
    renderForm();
  } else {
    const f = form();
    updateVisibility(f, s);
    syncControls(f, s); // dependent fields (e.g. QLoRA -> NF4); the focused control is left alone
    showErrors(f, app.errors);
    markChanged(f, s);
    syncPreset(f, s, { ui: app.ui, presets: app.presets, catalog: app.catalog });
  }
  scheduleRecalc();
}

/** Put one input back to this tab's default (the ↺ next to a changed input). */
function resetField(key) {
  const d = tabDefaults(app.state.mode);
  if (!(key in d)) return;
  setField(key, d[key]);
  $(`#f-${CSS.escape(key)}`, form())?.focus();
}

/** Put every input of the current tab back to its defaults. */
function resetTab() {
  activate(newTab(app.state.mode));
  app.ui.preset[app.state.mode] = null;
  app.ui.configSummaries[app.state.mode] = "";
  app.errors = {};
  app.fromLink = false;
  renderTabs();
  renderForm();
  scheduleRecalc(true);
}

/** When the catalog has no model of this tab's kind under `state.model`, pick one that it has. */
function ensureModelMatchesMode(s = app.state) {
  if (s.config) return;
  const wantMm = s.mode === "multimodal";
  if (app.catalog.models.length && (isMm(s.model) !== wantMm || !app.catalog.models.some((m) => m.id === s.model))) {
    const pool = app.catalog.models.filter((m) => (m.kind === "multimodal") === wantMm);
    const pick =
      pool.find((m) => m.id === tabDefaults(s.mode).model) ||
      pool.find((m) => /7b|8b/i.test(m.id)) ||
      pool[0];
    if (pick) s.model = pick.id;
  }
}

function setMode(mode) {
  if (!MODES.includes(mode) || mode === app.state.mode) return;
  activate(app.tabs[mode] || newTab(mode));
  app.fromLink = false;
  app.errors = {};
  renderTabs();
  renderForm();
  scheduleRecalc(true);
}

/**
 * Load a complete request into its tab and show that tab. `resetTabs`: the other tabs go back to their
 * defaults too (a link opened in this page replaces the whole workspace).
 */
function loadRequest(req, { render = true, resetTabs = false } = {}) {
  const s = { ...DEFAULTS, ...req };
  if (resetTabs) {
    app.tabs = {};
    app.ui.preset = {};
    app.ui.ownNf4 = {};
    app.ui.configSummaries = {};
  }
  activate(s);
  app.ui.preset[s.mode] = null;
  app.ui.configSummaries[s.mode] = s.config ? String(s.config.model_type ?? "") : "";
  app.fromLink = false; // applyFragment sets it again for a link
  app.errors = {};
  app.ui.search = "";
  if (render) {
    renderTabs();
    renderForm();
  }
}

function applyPreset(id) {
  const p = app.presets.find((x) => x.id === id);
  const req = p && presetRequest(p, app.catalog);
  if (!req) return;
  loadRequest(req, { render: false });
  app.ui.preset[req.mode] = id; // the preset box shows it while the inputs still equal it
  renderTabs();
  renderForm();
  scheduleRecalc(true);
}

// ------------------------------------------------------------------------------------------------ address
// The address always holds the current tab's inputs (#v1.… as a share link has them), written with replaceState:
// a reload, Back/Forward or a bookmark restores them. The other tabs' inputs and the last result live in
// sessionStorage (this browser tab only). Writes are coalesced (URL_SYNC_MS) and never on the recalculation path.
const syncUrlSoon = debounce(() => {
  syncUrl().catch((err) => console.warn("cannot update the address", err));
}, URL_SYNC_MS);

async function syncUrl() {
  renderTabs(); // which tabs differ from their defaults
  const req = toRequest(app.state);
  // Synchronous for the usual small state (so a flush on pagehide completes); a pasted config.json compresses.
  const frag = requestKey(req) === requestKey(DEFAULTS) ? "" : (encodeStateSync(req) ?? (await encodeState(req)));
  if (requestKey(app.state) !== requestKey(req)) return; // changed while encoding: the next call writes it
  const here = location.hash.slice(1);
  // A state link this page did not write (pasted into the address bar, Back/Forward) whose hashchange has not run
  // yet: leave it for applyFragment instead of overwriting it with the inputs it is about to replace.
  if (app.url.written !== null && here !== app.url.written && STATE_FRAGMENT.test(here)) return;
  if (here !== frag) {
    app.url.written = frag;
    history.replaceState(history.state, "", location.pathname + location.search + (frag ? `#${frag}` : ""));
  }
  writeSession();
}

/**
 * Store every tab's inputs (and the last result) for this browser tab, with app.url.leaving: the address the page
 * is being left with (set on pagehide). A reload or Back opens that address, which can be up to URL_SYNC_MS older than the inputs
 * (a reload's address is fixed before pagehide runs); at load, a matching address means the session is fresher.
 */
function writeSession() {
  const st = session();
  if (!st) return;
  try {
    const tabs = {};
    for (const m of MODES) if (app.tabs[m]) tabs[m] = diffFromDefaults(toRequest(app.tabs[m]));
    st.setItem(SESSION_TABS, JSON.stringify({ active: app.state.mode, tabs, leaving: app.url.leaving }));
    if (app.report && app.reportRequest && app.status === "live") {
      const key = requestKey(app.reportRequest);
      if (key !== app.url.lastKey) {
        st.setItem(SESSION_LAST, JSON.stringify({ request: app.reportRequest, report: app.report }));
        app.url.lastKey = key;
      }
    }
  } catch {
    /* storage full or disabled: the address alone still restores the current tab */
  }
}

/**
 * The tabs' inputs from this browser tab's session (a reload, Back). Returns {active, fresh}: the tab that was
 * shown, and whether the session is fresher than the address (the page is reopened with the address it left).
 */
function restoreSessionTabs() {
  const saved = readSession(SESSION_TABS);
  if (!saved || typeof saved !== "object" || !saved.tabs || typeof saved.tabs !== "object") return { active: null, fresh: false };
  for (const m of MODES) {
    const diff = saved.tabs[m];
    if (!diff || typeof diff !== "object") continue;
    const { ok, request } = sanitizeRequest({ ...diff, mode: m });
    if (ok) app.tabs[m] = request;
  }
  const active = MODES.includes(saved.active) && app.tabs[saved.active] ? saved.active : null;
  const fresh = Boolean(active) && typeof saved.leaving === "string" && saved.leaving === location.hash.slice(1);
  return { active, fresh };
}

/** The result shown before the engine answers: the pre-rendered one, else this session's last one, if either is
 * for exactly the current inputs. */
function pickInitialReport() {
  const key = requestKey(app.state);
  if (app.report && app.reportRequest && requestKey(app.reportRequest) === key) return;
  const last = readSession(SESSION_LAST);
  if (last && last.report && last.report.estimate && last.request && requestKey(last.request) === key) {
    app.report = last.report;
    app.reportRequest = toRequest(app.state);
    app.status = "prerendered";
  } else {
    app.report = null;
    app.reportRequest = null;
  }
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
  syncUrlSoon();
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
    app.status = "pending";
    // The previous report's planning answers stay (marked pending) until the full report replaces them.
    renderResult(resultBody(), { ...app.report, estimate: quick.estimate, fit: quick.fit }, req, "pending");
    watchTotal();
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
    watchTotal();
    showErrors(form(), app.errors);
    renderEngineStatus();
    renderSaveState();
    syncUrlSoon(); // the session keeps the last result too
    if (app.saveWanted) {
      app.saveWanted = false;
      saveEntry(req, report);
    }
  } catch (err) {
    handleEngineError(err, seq, version, t0);
  }
}

function handleEngineError(err, seq, version, t0) {
  if (isRestartFault(err)) return recoverFromFault(err); // even when stale: the later inputs waited behind it
  if (seq !== app.seq || version !== app.version) return;
  app.perf.last = performance.now() - t0;
  renderEngineStatus();
  const field = err && typeof err.field === "string" && err.field ? err.field.split(".")[0] : null;
  const msg = faultText(err) || errorMessage(err, field);
  if (app.fromLink) return linkRejected(field, msg);
  // Shown under the input it is about (model for a config.json), or above the form naming the input.
  const key = field === "config" ? "model" : field;
  const slot = key && form().querySelector(`[data-testid="error-${CSS.escape(key)}"]`);
  const wrap = slot && slot.closest(".field");
  app.errors = {};
  if (slot && !(wrap && wrap.hidden)) app.errors[key] = msg;
  else app.errors._form = { field: key, msg };
  showErrors(form(), app.errors);
  if (app.report) setStatus("invalid");
  app.saveWanted = false;
}

/**
 * The engine rejects a value that came with a link (or a reload of the address): that input goes back to its
 * default, with a notice naming it as the form does, and the rest of the link is kept. A model that is not in
 * the catalog gets the site's own model picker. What cannot be repaired that way falls back to the defaults.
 */
function linkRejected(field, msg) {
  const s = app.state;
  const d = tabDefaults(s.mode);
  const fixable =
    field && field !== "mode" && field in DEFAULTS && app.linkFixes < MAX_LINK_FIXES && (JSON.stringify(s[field]) !== JSON.stringify(d[field]) || (field === "model" && s.config));
  if (fixable) {
    app.linkFixes += 1;
    const label = fieldLabel(form(), field);
    if (field === "model" || field === "config") {
      const bad = field === "config" ? String(s.config?.model_type ?? "config.json") : String(s.model ?? "");
      s.model = d.model;
      s.config = null;
      ensureModelMatchesMode(s);
      const name = app.catalog.models.find((m) => m.id === s.model)?.name || s.model;
      const pick = h("button.btn.small", {
        type: "button",
        testid: "link-pick-model",
        text: t("act.choose_model"),
        onclick: () => {
          const search = $("#model-search");
          search?.scrollIntoView({ block: "center" });
          search?.focus();
        },
      });
      notice("warn", t("n.link_model", { model: bad.length > 60 ? `${bad.slice(0, 60)}…` : bad, name }), "notice-link", { extra: pick, keep: true });
    } else {
      s[field] = d[field];
      notice("warn", t("n.link_field", { field: label, msg: msgText(msg), value: String(d[field]) }), "notice-link", { keep: true });
    }
    app.fromLink = true; // the link's other values still need the engine's yes
    renderTabs();
    renderForm();
    scheduleRecalc(true);
    return;
  }
  // A link whose values cannot be repaired one by one: say so and fall back to the default view.
  app.fromLink = false;
  notice("error", t("n.link_invalid", { msg: field && !namesField(msg) ? `${fieldLabel(form(), field)}: ${msgText(msg)}` : msgText(msg) }), "notice-link");
  app.url.written = "";
  history.replaceState(history.state, "", location.pathname + location.search);
  loadRequest({ ...DEFAULTS }, { resetTabs: true });
  scheduleRecalc(true);
}

// --- watchdog recovery (site reliability): the engine hung, crashed or answered garbage on some inputs and was
// restarted (engine-client.js). Say which inputs, put the last valid ones back in the form; the result for them is
// recomputed as soon as the new worker is ready (startEngine's onState).
function recoverFromFault(err) {
  const good = app.reportRequest || toRequest({ ...DEFAULTS });
  notice("error", faultNotice(err, good, app.engine?.limits?.call_timeout_ms), "notice-engine-fault");
  if (app.fromLink) history.replaceState(null, "", location.pathname + location.search);
  // The faulting inputs may belong to another tab than the last good result: that tab starts afresh, or going
  // back to it (or reloading, which restores every tab) would send them again.
  const badMode = faultingMode(err);
  if (badMode && badMode !== good.mode) app.tabs[badMode] = newTab(badMode);
  loadRequest(good);
  scheduleRecalc(true);
}

/** The tab whose inputs the failed call carried (its payload's mode), or null when the payload cannot tell. */
function faultingMode(err) {
  try {
    const payload = typeof err?.payload === "string" ? JSON.parse(err.payload) : err?.payload;
    const mode = payload?.mode ?? app.state.mode;
    return MODES.includes(mode) ? mode : null;
  } catch {
    return app.state.mode;
  }
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
    notice("error", t("n.engine_failed", { msg: msgText(errorMessage(err, null)) }), "notice-engine");
    if (!app.report) renderCurrent();
    return;
  }
  if (!app.catalog.models.length) {
    try {
      app.catalog = await engine.call("catalog", {});
      ensureModelMatchesMode();
      renderForm();
    } catch (err) {
      notice("error", msgText(errorMessage(err, null)), "notice-engine");
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
    // The summary is an engine message (rendered in the page's language by form.js), or the model_type.
    app.ui.configSummaries[app.state.mode] = info.summary ?? String(info.model_type ?? "");
    app.ui.customOpen = false;
    app.state.config = cfg;
    delete app.errors.model;
    delete app.errors.config;
    renderForm();
    scheduleRecalc(true);
  } catch (e) {
    note.textContent = "";
    configError(err, faultText(e) || msgText(errorMessage(e, "config")));
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
    configError(err, t("m.hf_failed", { msg: msgText(errorMessage(e, "config")) }));
  }
}

function clearConfig() {
  app.state.config = null;
  app.ui.configSummaries[app.state.mode] = "";
  ensureModelMatchesMode();
  renderForm();
  scheduleRecalc(true);
}

// ------------------------------------------------------------------------------------------------ history
// Saved calculations: only on an explicit action (Save, or sharing / exporting a result), with a name and a pin.

/** Save `req` with its `report` (an entry for the same inputs moves to the top, keeping its name and pin). */
function saveEntry(req, report) {
  if (!req || !report) return null;
  if (app.historyReadOnly) {
    notice("warn", t("n.history_newer"), "notice-history");
    return null;
  }
  const key = requestKey(req);
  const entry = makeEntry(toRequest(req), report);
  const old = app.history.find((e) => requestKey(e.request) === key);
  if (old) Object.assign(entry, { id: old.id, name: old.name, pinned: old.pinned });
  app.history = trimEntries([entry, ...app.history.filter((e) => e !== old)]);
  saveHistory(app.history);
  renderHistory();
  renderSaveState();
  return entry;
}

/** The result on screen is for the current inputs (what Save stores). */
const resultIsCurrent = () =>
  Boolean(app.report && app.reportRequest) && app.status !== "invalid" && requestKey(app.reportRequest) === requestKey(app.state);

/** The Save button: saves the result on screen, or the next one when it is still being computed. */
function onSave() {
  if (resultIsCurrent() && app.status !== "pending" && app.status !== "waiting") {
    saveEntry(app.reportRequest, app.report);
  } else if (app.status !== "invalid") {
    app.saveWanted = true; // saved when the report for these inputs arrives
    renderSaveState();
  }
}

function renderSaveState() {
  const btn = $("#save-btn");
  if (!btn) return;
  const saved = resultIsCurrent() && app.history.some((e) => requestKey(e.request) === requestKey(app.reportRequest));
  btn.disabled = app.status === "invalid" || (!app.report && app.engineState === "error");
  btn.dataset.saved = saved ? "1" : "0";
  btn.setAttribute("aria-pressed", String(saved));
  btn.textContent = saved ? t("hist.saved") : app.saveWanted ? t("hist.saving") : t("hist.save");
}

function updateEntry(id, changes) {
  const e = app.history.find((x) => x.id === id);
  if (!e || app.historyReadOnly) return;
  Object.assign(e, changes);
  app.history = trimEntries(app.history);
  saveHistory(app.history);
  renderHistory();
}

function startRename(id) {
  app.ui.editing = id;
  renderHistory();
  const input = $(`#history-list [data-id="${CSS.escape(id)}"] [data-testid=history-name-input]`);
  input?.focus();
  input?.select();
}

function finishRename(id, value, commit) {
  if (app.ui.editing !== id) return;
  app.ui.editing = null;
  if (commit) updateEntry(id, { name: String(value || "").trim().slice(0, MAX_NAME) });
  else renderHistory();
}

function renderHistory() {
  const list = $("#history-list");
  clear(list);
  if (!app.history.length) list.append(h("li.muted.empty", { testid: "history-empty", text: t("hist.empty") }));
  const locale = getLang() === "zh-CN" ? "zh-CN" : "en-US";
  for (const e of app.history) {
    const s = e.summary;
    const checked = app.selected.has(e.id);
    const when = new Date(e.ts);
    const title = e.name || s.model_name || e.request.model || "?";
    const meta = [
      e.name ? s.model_name || e.request.model : null,
      t(`tab.${e.request.mode}`),
      s.gpu_name ? `${s.num_devices > 1 ? `${s.num_devices}× ` : ""}${s.gpu_name}` : null,
      when.toLocaleString(locale, { dateStyle: "short", timeStyle: "short" }),
    ];
    const editing = app.ui.editing === e.id;
    const nameInput = editing
      ? h("input.history-name", {
          type: "text",
          testid: "history-name-input",
          value: e.name,
          maxlength: MAX_NAME,
          placeholder: s.model_name || "",
          "aria-label": t("hist.name_label"),
          onkeydown: (ev) => {
            if (ev.key === "Enter") finishRename(e.id, ev.target.value, true);
            else if (ev.key === "Escape") finishRename(e.id, "", false);
            else return;
            ev.preventDefault();
          },
          onblur: (ev) => finishRename(e.id, ev.target.value, true),
        })
      : null;
    const li = h(
      `li.history-item${e.pinned ? ".pinned" : ""}`,
      { testid: "history-item", dataset: { id: e.id, pinned: e.pinned ? "1" : "0" } },
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
      nameInput ||
        h(
          "button.history-restore",
          { type: "button", testid: "history-restore", title: t("hist.restore"), onclick: () => restoreEntry(e) },
          h("span.h-model", { testid: "history-title", text: title }),
          h("span.h-meta.muted", { text: meta.filter(Boolean).join(" · ") }),
          h(`span.h-total${s.fits === false ? ".bad" : ""}`, { text: `${gb(s.total_bytes)} GB` }),
        ),
      h("div.h-actions", [
        h("button.icon-btn.small.h-pin", {
          type: "button",
          testid: "history-pin",
          "aria-pressed": String(e.pinned),
          "aria-label": e.pinned ? t("hist.unpin") : t("hist.pin"),
          title: e.pinned ? t("hist.unpin") : t("hist.pin"),
          text: e.pinned ? "★" : "☆",
          disabled: app.historyReadOnly,
          onclick: () => updateEntry(e.id, { pinned: !e.pinned }),
        }),
        h("button.icon-btn.small", {
          type: "button",
          testid: "history-rename",
          "aria-label": t("hist.rename"),
          title: t("hist.rename"),
          text: "✎",
          disabled: app.historyReadOnly,
          onclick: () => (editing ? finishRename(e.id, $("[data-testid=history-name-input]", li)?.value, true) : startRename(e.id)),
        }),
        h("button.icon-btn.small", { type: "button", testid: "history-delete", "aria-label": t("hist.delete"), title: t("hist.delete"), text: "×", onclick: () => deleteEntry(e.id) }),
      ]),
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
  app.history = app.history.filter((e) => e.id !== id);
  app.selected.delete(id);
  if (!app.historyReadOnly) saveHistory(app.history);
  renderHistory();
  renderSaveState();
  if (!$("#compare").hidden) renderCompare();
}

function clearHistory() {
  if (!app.history.length) return;
  if (!confirm(t("hist.confirm_clear"))) return;
  app.history = [];
  app.selected.clear();
  if (!app.historyReadOnly) saveHistory([]);
  renderHistory();
  renderSaveState();
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
    h("thead", h("tr", h("td"), entries.map((e) => h("th", { scope: "col", text: e.name || e.summary.model_name || e.request.model || "?" })))),
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
  const frag = await encodeState(req);
  const url = new URL(location.href);
  url.hash = frag;
  app.url.written = frag;
  history.replaceState(history.state, "", url.href);
  // Sharing a result saves it (when the result on screen is for these inputs).
  if (resultIsCurrent()) saveEntry(app.reportRequest, app.report);
  const field = $("#share-url");
  field.hidden = false;
  field.value = url.href;
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(url.href);
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
  saveEntry(req, report); // an exported result is saved too
  const base = `vram-${(report.estimate.model.id || "custom").replace(/[^\w.-]+/g, "_")}-${req.mode}`;
  if (kind === "md") download(`${base}.md`, "text/markdown;charset=utf-8", toMarkdown(req, report, t));
  if (kind === "csv") download(`${base}.csv`, "text/csv;charset=utf-8", toCSV(req, report));
  if (kind === "json") download(`${base}.json`, "application/json", toJSON(req, report, { engine_version: app.perf.version }));
}

/** Why a share link could not be read, in the page's language (share.js LinkError codes). */
function linkErrorText(err) {
  if (!(err instanceof LinkError)) return firstLine(err?.message ?? String(err));
  if (err.code !== "fields") return t(`link.${err.code}`, err.params);
  return err.params.issues.map((i) => t(`link.${i.code}`, { field: i.field ? fieldLabel(form(), i.field) : "" })).join(t("link.sep"));
}

/**
 * Apply the state in the address. initial: at page load (before the first render). Later (hashchange: a link
 * pasted into this page, Back/Forward between such entries) it replaces every tab; an empty address means the
 * defaults; a plain anchor such as #result is not a state and is ignored.
 */
async function applyFragment({ initial }) {
  const frag = location.hash.slice(1);
  if (!initial && frag === app.url.written) return false; // what this page wrote itself
  let req;
  try {
    req = await decodeFragment(frag);
  } catch (err) {
    notice("error", t("n.link_bad", { msg: linkErrorText(err) }), "notice-link");
    app.url.written = "";
    history.replaceState(history.state, "", location.pathname + location.search);
    if (!initial) {
      loadRequest({ ...DEFAULTS }, { resetTabs: true });
      scheduleRecalc(true);
    }
    return false;
  }
  if (!req) {
    if (frag || initial) return false;
    app.url.written = "";
    loadRequest({ ...DEFAULTS }, { resetTabs: true });
    scheduleRecalc(true);
    return true;
  }
  clearNotices("notice-link");
  app.linkFixes = 0;
  app.url.written = frag;
  loadRequest(req, { render: !initial, resetTabs: !initial });
  app.fromLink = true;
  if (initial) pickInitialReport();
  else {
    app.report = null;
    app.reportRequest = null;
    scheduleRecalc(true);
  }
  return true;
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
  $("#save-btn").addEventListener("click", onSave);
  $("#mini-result").addEventListener("click", () => {
    $("#result").scrollIntoView({ block: "start" });
    $("#result").focus({ preventScroll: true });
  });
  $("#export-md").addEventListener("click", () => exportAs("md"));
  $("#export-csv").addEventListener("click", () => exportAs("csv"));
  $("#export-json").addEventListener("click", () => exportAs("json"));
  $("#print-btn").addEventListener("click", () => window.print());
  $("#history-clear").addEventListener("click", clearHistory);
  $("#compare-btn").addEventListener("click", renderCompare);
  $("#inputs").addEventListener("submit", (ev) => ev.preventDefault());
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => applyFragment({ initial: false }));
  // Leaving or hiding the page (reload, another page, a phone's app switcher): write a pending address now, and
  // note which address the page is left with (see writeSession).
  window.addEventListener("pagehide", () => {
    app.url.leaving = location.hash.slice(1);
    syncUrlSoon.cancel();
    syncUrl().catch(() => {});
    writeSession();
  });
  window.addEventListener("pageshow", (ev) => {
    if (ev.persisted) app.url.leaving = null; // back from the back/forward cache: still this page
  });
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && syncUrlSoon.flush());
  window.addEventListener("storage", (ev) => {
    if (ev.key && ev.key.startsWith("vram-insight:history")) {
      const h2 = loadHistory();
      app.history = h2.entries;
      renderHistory();
      renderSaveState();
    }
  });
}

/** The presets: put into the page by build.py, else site/app/presets.json. */
async function loadPresets() {
  const inline = readJsonBlock("prerendered-presets");
  if (Array.isArray(inline)) return inline;
  try {
    const res = await fetch(new URL("./presets.json", import.meta.url));
    const list = res.ok ? await res.json() : [];
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

async function main() {
  initTheme();
  try {
    await initI18n();
  } catch (err) {
    console.warn("i18n", err);
  }
  // An engine message's {field} is named as the form labels that input (translated, following the workload).
  setFieldLabeler((key) => fieldLabel(form(), key));
  // Pre-rendered data: the catalog lists and the default report, computed by CPython at build time.
  const cat = readJsonBlock("prerendered-catalog");
  if (cat && Array.isArray(cat.models) && Array.isArray(cat.gpus)) app.catalog = cat;
  app.presets = await loadPresets();
  const pre = readJsonBlock("prerendered-report");
  if (pre) {
    const report = pre.estimate ? pre : pre.report;
    const preReq = pre.request || readJsonBlock("prerendered-request");
    const req = preReq ? sanitizeRequest(preReq).request : { ...DEFAULTS };
    if (report && report.estimate) {
      app.report = report;
      app.reportRequest = req;
      activate({ ...req });
      app.status = "prerendered";
    }
  }
  // History
  const hist = loadHistory();
  app.history = hist.entries;
  app.historyReadOnly = hist.readOnly;
  // Inputs: the other tabs from this browser tab's session (a reload), then the address (a share link, or this
  // page's own state before a reload); both are validated again by the engine once it is up.
  const { active, fresh } = restoreSessionTabs();
  if (fresh) {
    // Reopened with the address it was left with (reload, Back): the session has the latest inputs.
    activate(app.tabs[active]);
    pickInitialReport();
    app.url.written = location.hash.slice(1);
    syncUrlSoon();
  } else if (!(await applyFragment({ initial: true }))) {
    if (location.hash.length > 1 && active) activate(app.tabs[active]); // e.g. #result
    else activate(app.report && app.reportRequest ? { ...app.reportRequest } : newTab("inference"));
    pickInitialReport();
  }
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
