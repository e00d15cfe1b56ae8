// The input form: model picker (search + custom config.json), GPU picker, presets, and one widget per
// EstimateRequest field, grouped, shown only where the current mode uses it.
import { $, $$, clear, h } from "./dom.js";
import { FIELDS, GROUPS, PRESETS, WEIGHT_FORMATS, KV_DTYPES, presetRequest, workload } from "./fields.js";
import { fmtParams } from "./format.js";
import { has, t } from "./i18n.js";

export const CONFIG_MAX_BYTES = 256 * 1024;

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

/** Search by name, family, id or size: "qwen 7b", "llama", "<10b", ">30b", "moe". */
export function matchModel(m, query) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  const b = (m.params_total || 0) / 1e9;
  const hay = [m.name, m.family, m.id, m.hf_repo, ...(m.modalities || []), m.params_active && m.params_active < m.params_total * 0.9 ? "moe" : "", `${Math.round(b)}b`, `${b.toFixed(1)}b`]
    .join(" ")
    .toLowerCase();
  return q.split(/\s+/).every((tok) => {
    const cmp = /^([<>])=?(\d+(?:\.\d+)?)b?$/.exec(tok);
    if (cmp) return cmp[1] === "<" ? b <= Number(cmp[2]) : b >= Number(cmp[2]);
    return hay.includes(tok);
  });
}

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
  const wrap = h(`div.field.field-${f.type}`, { dataset: { key: f.key } });
  if (f.type === "bool") wrap.append(h("div.check", control, label), help, err);
  else wrap.append(label, control, help, err);
  if (f.type === "text" && f.list) wrap.append(h("datalist", { id: `${id}-list` }, f.list.map((v) => h("option", { value: v }))));
  return wrap;
}

/** Build the whole form into `form`. ctx: {state, catalog, handlers}. */
export function buildForm(form, ctx) {
  clear(form);
  const { state, catalog } = ctx;
  form.append(h("div.form-error", { testid: "form-error", role: "alert", hidden: true }));

  // Presets
  const presetSel = h("select#preset", { testid: "preset-select" }, h("option", { value: "", text: t("p.choose") }));
  for (const mode of ["inference", "finetune", "training", "grpo", "multimodal"]) {
    const og = h("optgroup", { label: t(`tab.${mode}`) });
    for (const p of PRESETS.filter((x) => x.mode === mode)) {
      const ok = presetRequest(p, catalog) !== null;
      og.append(h("option", { value: p.id, disabled: !ok, text: t(`preset.${p.id}`) + (ok ? "" : ` (${t("p.unavailable")})`) }));
    }
    presetSel.append(og);
  }
  form.append(h("div.field.preset", h("label", { for: "preset", text: t("p.label") }), presetSel));

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
  const count = h("span.muted.small#model-count", { testid: "model-count" });
  const fillModels = () => {
    clear(modelSel);
    const pool = catalog.models.filter((m) => (m.kind === "multimodal") === mm);
    const list = pool.filter((m) => matchModel(m, search.value) || m.id === state.model);
    const fams = new Map();
    for (const m of list) {
      if (!fams.has(m.family)) fams.set(m.family, []);
      fams.get(m.family).push(m);
    }
    for (const [fam, ms] of fams) {
      const og = h("optgroup", { label: fam });
      for (const m of ms) og.append(h("option", { value: m.id, selected: m.id === state.model, text: `${m.name} · ${sizeTag(m)}` }));
      modelSel.append(og);
    }
    count.textContent = t("m.count", { n: list.length, total: pool.length });
  };
  fillModels();
  search.addEventListener("input", () => {
    ctx.ui.search = search.value;
    fillModels();
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      const first = modelSel.querySelector("option");
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
        h("span", { testid: "config-summary", text: ctx.ui.configSummary || String(state.config.model_type ?? "") }),
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

  form.addEventListener("input", (ev) => onFieldEvent(ev, ctx));
  form.addEventListener("change", (ev) => onFieldEvent(ev, ctx));
  presetSel.addEventListener("change", () => {
    if (presetSel.value) ctx.handlers.applyPreset(presetSel.value);
  });
  updateVisibility(form, state);
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
    const key = wl === "inference" ? "f.batch_size_inf" : state.mode === "grpo" ? `f.batch_size_${state.rl_algorithm}` : "f.batch_size";
    bs.textContent = t(key);
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

export function showErrors(form, errors) {
  for (const el of $$(".field-error[data-testid^='error-']", form)) {
    const key = el.dataset.testid.slice(6);
    const msg = errors[key];
    el.hidden = !msg;
    el.textContent = msg || "";
    const ctl = key === "model" ? $("#model-select", form) : key === "gpu" ? $("#gpu-select", form) : $(`#f-${key}`, form);
    if (ctl) {
      if (msg) ctl.setAttribute("aria-invalid", "true");
      else ctl.removeAttribute("aria-invalid");
    }
  }
  const general = $("[data-testid='form-error']", form);
  general.hidden = !errors._form;
  general.textContent = errors._form || "";
}
