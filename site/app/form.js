// The input form: model picker (search + custom config.json), GPU picker, presets, and one widget per
// EstimateRequest field, grouped, shown only where the current mode uses it.
import { $, $$, clear, h } from "./dom.js";
import { changedKeys, FIELDS, GROUPS, KV_DTYPES, noteMacGpus, presetRequest, requestKey, tabDefaults, WEIGHT_FORMATS, workload } from "./fields.js";
import { fmtParams } from "./format.js";
import { has, msgText, t } from "./i18n.js";

export const CONFIG_MAX_BYTES = 256 * 1024;

const formCtx = new WeakMap(); // <form> -> the context of its latest build
const wiredForms = new WeakSet();

function optLabel(key, v) {
  if (has(`o.${key}.${v}`)) return t(`o.${key}.${v}`);
  // llama.cpp GGUF types: q4_k_m -> "GGUF Q4_K_M"
  if ((key === "weights" || key === "kv_cache_dtype") && /^i?q\d/.test(String(v))) return `GGUF ${String(v).toUpperCase()}`;
  return String(v);
}

function sizeTag(m) {
  if (!m.params_total) return "";
  const total = fmtParams(m.params_total).replace(/\s/g, "");
  if (m.params_active && m.params_active < m.params_total * 0.9) return `${total} (${fmtParams(m.params_active).replace(/\s/g, "")} ${t("m.active")})`;
  return total;
}

// ------------------------------------------------------------------------------------------------ model search
// A query is tokens separated by spaces, all of which must match: a size ("7b", "0.5b"), a bound ("<10b", ">30b"),
// or words matched against the family, the name, the id and the Hugging Face repo ("qwen", "coder", "moe",
// "vision"). Results are ranked: a family match beats a word in the name beats a substring anywhere, and a size
// written in the model's name ("Qwen2.5 7B") beats its rounded parameter count.
const SIZE_TOKEN = /^(\d+(?:\.\d+)?)b$/;
const BOUND_TOKEN = /^([<>])=?(\d+(?:\.\d+)?)b?$/;
const words = (text) => String(text || "").toLowerCase().split(/[\s/_()·,]+|-(?![\d.]+b\b)/).filter(Boolean);

/** How well model `m` matches `query`: 0 = no match, higher = better. */
export function modelScore(m, query) {
  const tokens = String(query || "").trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!tokens.length) return 1;
  const b = (m.params_total || 0) / 1e9;
  const moe = Boolean(m.params_active && m.params_total && m.params_active < m.params_total * 0.9);
  const family = String(m.family || "").toLowerCase();
  const familyWords = words(m.family);
  const nameWords = words(m.name);
  const idText = String(m.id || "").toLowerCase();
  const named = `${String(m.name || "").toLowerCase()} ${idText}`;
  const hay = [m.name, m.family, m.id, m.hf_repo, ...(m.modalities || []), moe ? "moe" : ""].join(" ").toLowerCase();
  // Sizes the model's name or id states ("7b", "0.5b", "8x7b" -> "7b", "a3b" -> "3b" as well).
  const statedSizes = new Set([...named.matchAll(/(?:^|[^\d.])(\d+(?:\.\d+)?)b(?![a-z\d])/g)].map((x) => Number(x[1])));
  let score = 0;
  for (const tok of tokens) {
    const bound = BOUND_TOKEN.exec(tok);
    const size = SIZE_TOKEN.exec(tok);
    if (bound) {
      const limit = Number(bound[2]);
      if (!(bound[1] === "<" ? b > 0 && b <= limit : b >= limit)) return 0;
      score += 1;
    } else if (size) {
      const want = Number(size[1]);
      if (statedSizes.has(want)) score += 6;
      else if (!statedSizes.size && b > 0 && Math.abs(b - want) <= Math.max(0.05 * want, 0.05)) score += 3;
      else return 0;
    } else if (tok === family || familyWords.includes(tok)) score += 8;
    else if (familyWords.some((w) => w.startsWith(tok)) || family.startsWith(tok)) score += 6;
    else if (nameWords.includes(tok)) score += 4;
    else if (nameWords.some((w) => w.startsWith(tok)) || idText.startsWith(tok)) score += 3;
    else if (tok === "moe" && moe) score += 4;
    else if (hay.includes(tok)) score += 1;
    else return 0;
  }
  return score;
}

/** The models of `pool` matching `query`, best first (ties: shorter name, then catalog order). */
export function rankModels(pool, query) {
  if (!String(query || "").trim()) return [...pool];
  return pool
    .map((m, i) => ({ m, i, s: modelScore(m, query) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || String(a.m.name).length - String(b.m.name).length || a.i - b.i)
    .map((x) => x.m);
}

/** Kept for callers that only need a yes/no. */
export const matchModel = (m, query) => modelScore(m, query) > 0;

function fieldControl(f, value, ctx) {
  const id = `f-${f.key}`;
  const common = { id, name: f.key, testid: `input-${f.key}`, dataset: { field: f.key }, "aria-describedby": `${id}-help ${id}-err` };
  let control;
  if (f.type === "select") {
    let options = f.options;
    // The engine's catalog lists formats as {id, label, bits}; the built-in fallback lists are plain ids.
    const ids = (list) => list.map((o) => (typeof o === "string" ? o : o.id));
    if (f.key === "weights") options = ids(ctx.catalog.weight_formats || WEIGHT_FORMATS);
    if (f.key === "kv_cache_dtype") options = ids(ctx.catalog.kv_cache_dtypes || KV_DTYPES);
    if (!options.includes(value)) options = [...options, value];
    control = h(
      "select",
      common,
      options.map((v) => h("option", { value: String(v), selected: v === value, text: optLabel(f.key, v) })),
    );
  } else if (f.type === "bool") {
    control = h("input", { ...common, type: "checkbox", checked: Boolean(value) });
  } else if (f.type === "text") {
    control = h("input", { ...common, type: "text", value: value ?? "", list: f.list ? `${id}-list` : null, spellcheck: "false" });
  } else {
    control = h("input", {
      ...common,
      type: "number",
      inputmode: f.type === "int" ? "numeric" : "decimal",
      min: f.min,
      max: f.max,
      step: f.step || (f.type === "int" ? 1 : "any"),
      value: value === null || value === undefined ? "" : String(value),
      placeholder: f.optional ? t(f.placeholder || "f.auto") : null,
    });
  }
  const label = h("label", { for: id, text: t(`f.${f.key}`) });
  const help = h("p.help", { id: `${id}-help`, text: t(`h.${f.key}`) });
  const err = h("p.field-error", { id: `${id}-err`, testid: `error-${f.key}`, role: "alert", hidden: true });
  // Shown when the value differs from this tab's default; a click puts the default back.
  const reset = h("button.reset-field", {
    type: "button",
    testid: `reset-${f.key}`,
    hidden: true,
    dataset: { reset: f.key },
    text: "↺",
  });
  const wrap = h(`div.field.field-${f.type}`, { dataset: { key: f.key } });
  if (f.type === "bool") wrap.append(h("div.check", control, label, reset), help, err);
  else wrap.append(h("div.label-row", label, reset), control, help, err);
  if (f.type === "text" && f.list) wrap.append(h("datalist", { id: `${id}-list` }, f.list.map((v) => h("option", { value: v }))));
  return wrap;
}

/** Build the whole form into `form`. ctx: {state, catalog, handlers}. */
export function buildForm(form, ctx) {
  clear(form);
  const { state, catalog } = ctx;
  noteMacGpus(catalog.gpus); // issue 11: Mac-only inputs (macOS version, iogpu.wired_limit_mb)
  form.append(h("div.form-error", { testid: "form-error", role: "alert", hidden: true }));

  // Presets (this tab's first, then the others; choosing one from another tab switches to that tab)
  const presetSel = h("select#preset", { testid: "preset-select" }, h("option", { value: "", testid: "preset-none", text: t("p.choose") }));
  const modes = [state.mode, ...["inference", "finetune", "training", "grpo", "multimodal"].filter((m) => m !== state.mode)];
  for (const mode of modes) {
    const og = h("optgroup", { label: t(`tab.${mode}`) });
    for (const p of (ctx.presets || []).filter((x) => x.mode === mode)) {
      const ok = presetRequest(p, catalog) !== null;
      og.append(h("option", { value: p.id, disabled: !ok, text: t(`preset.${p.id}`) + (ok ? "" : ` (${t("p.unavailable")})`) }));
    }
    if (og.children.length) presetSel.append(og);
  }
  form.append(h("div.field.preset", h("label", { for: "preset", text: t("p.label") }), presetSel));
  form.append(
    h(
      "div.changed-bar",
      { testid: "changed-bar", hidden: true },
      h("span.changed-count", { testid: "changed-count" }),
      h("button.btn.small", { type: "button", testid: "reset-tab", text: t("chg.reset_tab"), onclick: () => ctx.handlers.resetTab() }),
    ),
  );

  // Model picker
  const mm = state.mode === "multimodal";
  const search = h("input#model-search", {
    type: "search",
    testid: "model-search",
    placeholder: t("m.search_ph"),
    "aria-label": t("m.search"),
    "aria-controls": "model-select",
    value: ctx.ui.search || "",
  });
  const modelSel = h("select#model-select", { testid: "model-select", name: "model", dataset: { field: "model" }, "aria-describedby": "f-model-err" });
  const count = h("span.muted.small#model-count", { testid: "model-count", role: "status", "aria-live": "polite" });
  const fillModels = () => {
    clear(modelSel);
    const pool = catalog.models.filter((m) => (m.kind === "multimodal") === mm);
    const query = search.value.trim();
    const current = pool.find((m) => m.id === state.model) || null;
    const option = (m) => h("option", { value: m.id, selected: m.id === state.model, text: `${m.name} · ${sizeTag(m)}` });
    let shown;
    if (!query) {
      // No query: every model, grouped by family in catalog order.
      shown = pool;
      const fams = new Map();
      for (const m of pool) {
        if (!fams.has(m.family)) fams.set(m.family, []);
        fams.get(m.family).push(m);
      }
      for (const [fam, ms] of fams) modelSel.append(h("optgroup", { label: fam }, ms.map(option)));
    } else {
      // A query: the matches, best first; the model in use stays selectable (apart) so the list never lies.
      shown = rankModels(pool, query);
      if (shown.length) modelSel.append(h("optgroup", { label: t("m.matches"), dataset: { group: "matches" } }, shown.map(option)));
      if (current && !shown.includes(current)) modelSel.append(h("optgroup", { label: t("m.current"), dataset: { group: "current" } }, option(current)));
    }
    count.dataset.matches = String(shown.length);
    count.classList.toggle("no-match", Boolean(query) && !shown.length);
    count.textContent = query && !shown.length ? t("m.no_match", { q: query.length > 40 ? `${query.slice(0, 40)}…` : query }) : t("m.count", { n: shown.length, total: pool.length });
  };
  fillModels();
  search.addEventListener("input", () => {
    ctx.ui.search = search.value;
    fillModels();
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      const first = modelSel.querySelector("optgroup:not([data-group=current]) option");
      if (first && first.value !== state.model) ctx.handlers.setField("model", first.value);
    }
  });
  modelSel.addEventListener("change", () => ctx.handlers.setField("model", modelSel.value));

  const customActive = state.config !== null && typeof state.config === "object";
  const customBanner = customActive
    ? h(
        "div.custom-banner",
        { testid: "custom-active" },
        h("strong", { text: t("m.custom_active") }),
        " ",
        h("span", { testid: "config-summary", text: msgText(ctx.ui.configSummary) || String(state.config.model_type ?? "") }),
        " ",
        h("button.btn.small", { type: "button", testid: "config-clear", onclick: () => ctx.handlers.clearConfig(), text: t("m.use_catalog") }),
      )
    : null;

  const modelBox = h(
    "fieldset.group.group-model",
    h("legend", { text: mm ? t("m.legend_mm") : t("m.legend_text") }),
    customBanner,
    h("div.field", { hidden: customActive }, h("label", { for: "model-search", text: t("m.search") }), search, h("label.sr-only", { for: "model-select", text: t("f.model") }), modelSel, count, h("p.field-error", { id: "f-model-err", testid: "error-model", role: "alert", hidden: true })),
    customConfigBox(ctx),
  );
  form.append(modelBox);

  // GPU picker
  const gpuSel = h("select#gpu-select", { testid: "gpu-select", name: "gpu", dataset: { field: "gpu" }, "aria-describedby": "f-gpu-help f-gpu-err" });
  const segs = new Map();
  for (const g of catalog.gpus) {
    if (!segs.has(g.segment)) segs.set(g.segment, []);
    segs.get(g.segment).push(g);
  }
  for (const [seg, gs] of segs) {
    const og = h("optgroup", { label: t(`seg.${seg}`) });
    for (const g of gs) og.append(h("option", { value: g.id, selected: g.id === state.gpu, text: `${g.name} — ${g.memory_gb} GB` }));
    gpuSel.append(og);
  }
  gpuSel.addEventListener("change", () => ctx.handlers.setField("gpu", gpuSel.value));
  form.append(
    h(
      "fieldset.group.group-gpu",
      h("legend", { text: t("g.legend") }),
      h("div.field", h("label", { for: "gpu-select", text: t("f.gpu") }), gpuSel, h("p.help", { id: "f-gpu-help", text: t("h.gpu") }), h("p.field-error", { id: "f-gpu-err", testid: "error-gpu", role: "alert", hidden: true })),
    ),
  );

  // Field groups
  for (const g of GROUPS) {
    const fields = FIELDS.filter((f) => f.group === g);
    const box = h(g === "advanced" ? "details.group.adv" : "fieldset.group", { dataset: { group: g } });
    box.append(h(g === "advanced" ? "summary" : "legend", { text: t(`grp.${g}`) }));
    const grid = h("div.grid");
    for (const f of fields) grid.append(fieldControl(f, state[f.key], ctx));
    box.append(grid);
    form.append(box);
  }

  // The <form> outlives its contents: its listeners are added once and use the context of the latest build
  // (adding them on every build made one keystroke run the handlers once per earlier build).
  formCtx.set(form, ctx);
  if (!wiredForms.has(form)) {
    wiredForms.add(form);
    form.addEventListener("input", (ev) => onFieldEvent(ev, formCtx.get(form)));
    form.addEventListener("change", (ev) => onFieldEvent(ev, formCtx.get(form)));
    form.addEventListener("click", (ev) => {
      const btn = ev.target.closest && ev.target.closest("[data-reset]");
      if (btn) formCtx.get(form).handlers.resetField(btn.dataset.reset);
    });
  }
  presetSel.addEventListener("change", () => {
    if (presetSel.value) ctx.handlers.applyPreset(presetSel.value);
    else syncPreset(form, state, ctx);
  });
  updateVisibility(form, state);
  markChanged(form, state);
  syncPreset(form, state, ctx);
}

/**
 * The preset box shows the preset in use: the one last applied in this tab while the inputs still equal it,
 * "Modified: <name>" once they differ, else the neutral prompt.
 */
export function syncPreset(form, state, ctx) {
  const sel = $("#preset", form);
  if (!sel) return;
  const none = $("[data-testid=preset-none]", sel);
  const id = ctx.ui.preset?.[state.mode] || "";
  const p = id && (ctx.presets || []).find((x) => x.id === id);
  const req = p && presetRequest(p, ctx.catalog);
  const same = Boolean(req) && requestKey(req) === requestKey(state);
  none.textContent = p && !same ? t("p.modified", { name: t(`preset.${p.id}`) }) : t("p.choose");
  sel.value = same ? p.id : "";
  sel.dataset.preset = same ? p.id : "";
}

/** Mark the inputs that differ from this tab's defaults (a dot, a reset button, a count above the form). */
export function markChanged(form, state) {
  const changed = new Set(changedKeys(state));
  const d = tabDefaults(state.mode);
  for (const wrap of $$(".field[data-key]", form)) {
    const key = wrap.dataset.key;
    const on = changed.has(key);
    wrap.classList.toggle("changed", on);
    const btn = $(`[data-reset="${key}"]`, wrap);
    if (btn) {
      btn.hidden = !on;
      if (on) {
        const label = t("chg.reset_field", { value: d[key] === null ? t("f.auto") : optLabel(key, d[key]) });
        btn.title = label;
        btn.setAttribute("aria-label", `${t(`f.${key}`)}: ${label}`);
      }
    }
  }
  for (const [key, sel] of [["model", "#model-select"], ["gpu", "#gpu-select"]]) {
    const el = $(sel, form);
    if (el) el.closest(".field")?.classList.toggle("changed", changed.has(key) || (key === "model" && changed.has("config")));
  }
  // Count what is visible or picked (a value the current inputs do not use still counts: it is part of the link).
  const bar = $("[data-testid=changed-bar]", form);
  if (bar) {
    bar.hidden = changed.size === 0;
    $("[data-testid=changed-count]", bar).textContent = t("chg.count", { n: changed.size });
  }
}

function customConfigBox(ctx) {
  const ta = h("textarea#config-text", {
    testid: "config-input",
    rows: 6,
    spellcheck: "false",
    placeholder: '{"model_type": "llama", "hidden_size": 4096, ...}',
    "aria-describedby": "config-help config-error",
  });
  const file = h("input#config-file", { type: "file", accept: ".json,application/json", testid: "config-file" });
  const err = h("p.field-error#config-error", { testid: "config-error", role: "alert", hidden: true });
  const note = h("p.muted.small#config-note", { testid: "config-note" });
  const apply = h("button.btn", { type: "button", testid: "config-apply", text: t("m.apply") });
  const repo = h("input#hf-repo", { type: "text", testid: "hf-repo", placeholder: "Qwen/Qwen2.5-7B-Instruct", spellcheck: "false", "aria-label": t("m.hf_repo") });
  const fetchBtn = h("button.btn", { type: "button", testid: "hf-fetch", text: t("m.hf_fetch") });
  apply.addEventListener("click", () => ctx.handlers.applyConfigText(ta.value, { err, note }));
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > CONFIG_MAX_BYTES) {
      ctx.handlers.configError(err, t("m.too_big", { kb: CONFIG_MAX_BYTES / 1024 }));
      return;
    }
    const text = await f.text();
    ta.value = text;
    ctx.handlers.applyConfigText(text, { err, note });
  });
  fetchBtn.addEventListener("click", () => ctx.handlers.fetchHf(repo.value, { err, note, ta }));
  return h(
    "details.custom",
    { testid: "custom-config", open: ctx.ui.customOpen || false, ontoggle: (ev) => (ctx.ui.customOpen = ev.target.open) },
    h("summary", { text: t("m.custom") }),
    h("p.help#config-help", { text: t("m.custom_help", { kb: CONFIG_MAX_BYTES / 1024 }) }),
    h("label.sr-only", { for: "config-text", text: t("m.paste") }),
    ta,
    h("div.row", h("label.file", { text: t("m.upload") }, file), apply),
    h("div.row.hf", repo, fetchBtn),
    h("p.muted.small", { text: t("m.hf_note") }),
    err,
    note,
  );
}

function parseValue(f, el) {
  if (f.type === "bool") return el.checked;
  if (f.type === "select") {
    const opt = f.options.find((o) => String(o) === el.value);
    return opt === undefined ? el.value : opt;
  }
  if (f.type === "text") return el.value;
  const raw = el.value.trim();
  if (raw === "") return f.optional ? null : el.validity && el.validity.badInput ? "not a number" : "";
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
}

function onFieldEvent(ev, ctx) {
  const el = ev.target;
  const key = el.dataset && el.dataset.field;
  if (!key || key === "model" || key === "gpu") return;
  const f = FIELDS.find((x) => x.key === key);
  if (!f) return;
  // Selects and checkboxes fire both events; text fields recalc on input.
  if (ev.type === "change" && (f.type === "int" || f.type === "float" || f.type === "text")) return;
  ctx.handlers.setField(key, parseValue(f, el), { fromInput: true });
}

/** Show only the fields the current inputs use; keep the others (they are still part of the state). */
export function updateVisibility(form, state) {
  for (const f of FIELDS) {
    const wrap = form.querySelector(`.field[data-key="${f.key}"]`);
    if (wrap) wrap.hidden = f.show ? !f.show(state) : false;
  }
  for (const box of $$("[data-group]", form)) {
    box.hidden = $$(".field", box).every((w) => w.hidden);
  }
  const wl = workload(state);
  form.dataset.workload = wl;
  const bs = form.querySelector('.field[data-key="batch_size"] label');
  if (bs) {
    // The label and help name what the batch is in this workload (no trainer argument names for inference).
    const suffix = wl === "inference" ? "_inf" : state.mode === "grpo" ? `_${state.rl_algorithm}` : "";
    bs.textContent = t(`f.batch_size${suffix}`);
    const help = form.querySelector("#f-batch_size-help");
    if (help) help.textContent = t(has(`h.batch_size${suffix}`) ? `h.batch_size${suffix}` : "h.batch_size");
  }
  // llama.cpp: seq_len is its -c/--ctx-size, shared by the slots.
  const sl = form.querySelector('.field[data-key="seq_len"] label');
  if (sl) sl.textContent = t(wl === "inference" && state.runtime === "llama.cpp" ? "f.seq_len_llama" : "f.seq_len");
}

/** Put state values into controls (after a preset / link / history restore), leaving the focused one alone. */
export function syncControls(form, state) {
  for (const f of FIELDS) {
    const el = $(`#f-${f.key}`, form);
    if (!el || el === document.activeElement) continue;
    const v = state[f.key];
    if (f.type === "bool") el.checked = Boolean(v);
    else if (f.type === "select") {
      if (![...el.options].some((o) => o.value === String(v))) el.append(h("option", { value: String(v), text: String(v) }));
      el.value = String(v);
    } else el.value = v === null || v === undefined ? "" : String(v);
  }
}

/**
 * Show the engine's errors: errors[field] is a message (string or {code, params, text}) shown under that input;
 * errors._form is {field, msg} for one that cannot be shown there (named by the form's label for it).
 */
export function showErrors(form, errors) {
  for (const el of $$(".field-error[data-testid^='error-']", form)) {
    const key = el.dataset.testid.slice(6);
    const msg = errors[key] ? msgText(errors[key]) : "";
    el.hidden = !msg;
    el.textContent = msg || "";
    const folded = msg && el.closest("details");
    if (folded && !folded.open) folded.open = true; // an error in "Advanced" must not stay folded away
    const ctl = key === "model" ? $("#model-select", form) : key === "gpu" ? $("#gpu-select", form) : $(`#f-${key}`, form);
    if (ctl) {
      if (msg) ctl.setAttribute("aria-invalid", "true");
      else ctl.removeAttribute("aria-invalid");
    }
  }
  const general = $("[data-testid='form-error']", form);
  const f = errors._form;
  general.hidden = !f;
  general.textContent = !f ? "" : f.field && !namesField(f.msg) ? `${fieldLabel(form, f.field)}: ${msgText(f.msg)}` : msgText(f.msg);
}

/** Whether an engine message already names its field (a {field} parameter, rendered as the form's label). */
export const namesField = (m) => !!m && typeof m === "object" && typeof m.params?.field === "string";

/** A field as the form labels it (translated; the batch label follows the workload), for error lines. */
export function fieldLabel(form, key) {
  const k = key === "config" ? "model" : key;
  const sel = k === "model" ? 'label[for="model-search"]' : k === "gpu" ? 'label[for="gpu-select"]' : `label[for="f-${k}"]`;
  const text = form && $(sel, form)?.textContent?.trim();
  return text || (has(`f.${k}`) ? t(`f.${k}`) : k);
}
