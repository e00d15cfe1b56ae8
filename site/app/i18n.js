// UI strings: site/i18n/<lang>.json, flat keys. zh-CN or en, auto-detected, switchable, remembered.
export const LANGS = ["en", "zh-CN"];
const KEY = "vram-insight:lang";
const tables = {};
let lang = "en";

export function detectLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    /* storage may be disabled */
  }
  if (LANGS.includes(stored)) return stored;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return /^zh/i.test(nav) ? "zh-CN" : "en";
}

async function load(code) {
  if (tables[code]) return tables[code];
  const url = new URL(`../i18n/${code}.json`, import.meta.url);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load ${code}.json`);
  tables[code] = await res.json();
  return tables[code];
}

export async function initI18n() {
  const wanted = detectLang();
  await Promise.all([load("en"), wanted !== "en" ? load(wanted).catch(() => null) : null]);
  lang = tables[wanted] ? wanted : "en";
  document.documentElement.lang = lang;
}

export async function setLang(code, remember = true) {
  if (!LANGS.includes(code)) return;
  await load(code);
  lang = code;
  document.documentElement.lang = code;
  if (remember) {
    try {
      localStorage.setItem(KEY, code);
    } catch {
      /* ignore */
    }
  }
}

export const getLang = () => lang;

/** t("key", {n: 3}) -> string with {n} replaced; falls back to English, then to the key itself. */
export function t(key, params) {
  let s = tables[lang]?.[key] ?? tables.en?.[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/** The raw template of a key in the current language (English as fallback), or null when neither has it. */
function template(key) {
  return tables[lang]?.[key] ?? tables.en?.[key] ?? null;
}

const NUMBER_LOCALES = { en: "en-US", "zh-CN": "zh-CN" };

/**
 * Fill `{name}` / `{name:spec}` placeholders, spec one of `,` (digit grouping), `.Nf` or `,.Nf` (N decimals):
 * the subset of Python's format mini-language the engine's messages use (engine/vram_insight/messages.py).
 * Numbers with a spec are formatted for the current language; a parameter that is itself a message
 * ({code, params, text}) is rendered in the current language; an unknown name is left as written.
 */
export function fillTemplate(text, params) {
  const p = params || {};
  return String(text).replace(/\{(\w+)(?::(,|\.\d+f|,\.\d+f))?\}/g, (whole, name, spec) => {
    if (!Object.prototype.hasOwnProperty.call(p, name)) return whole;
    const v = p[name];
    if (isMessage(v)) return renderMessage(v).text;
    if (spec && typeof v === "number" && Number.isFinite(v)) {
      const grouping = spec.startsWith(",");
      const fixed = /\.(\d+)f$/.exec(spec);
      const opts = { useGrouping: grouping };
      if (fixed) opts.minimumFractionDigits = opts.maximumFractionDigits = Number(fixed[1]);
      else opts.maximumFractionDigits = 20;
      return new Intl.NumberFormat(NUMBER_LOCALES[lang] || "en-US", opts).format(v);
    }
    return v === null || v === undefined ? "" : String(v);
  });
}

const isMessage = (v) => v !== null && typeof v === "object" && (typeof v.code === "string" || typeof v.text === "string");

// How the page names a request field in messages ({field}): the form's label for it (set by main.js), else
// the f.<field> label, else the field as the engine wrote it. A config.json key (config.<key>) shows the key.
let fieldLabeler = null;
export function setFieldLabeler(fn) {
  fieldLabeler = typeof fn === "function" ? fn : null;
}
function fieldName(v) {
  if (typeof v !== "string" || !v) return v;
  if (v.startsWith("config.")) return v.slice("config.".length);
  const label = fieldLabeler ? fieldLabeler(v) : has(`f.${v}`) ? t(`f.${v}`) : null;
  return label || v;
}

/**
 * Render an engine message in the current language. A message is a plain string (shown as is) or
 * {code, params, text}: the template `msg.<code>` of site/i18n/<lang>.json filled with `params` (a nested message
 * rendered the same way, a `field` named as the form labels it), else the engine's English `text`. Returns
 * {text, code, translated}: `translated` is true when templates in the current language were used for the message
 * and every message nested in it.
 */
export function renderMessage(m) {
  if (m === null || m === undefined) return { text: "", code: null, translated: true };
  if (typeof m !== "object") return { text: String(m), code: null, translated: false };
  const code = typeof m.code === "string" && m.code ? m.code : null;
  const fallback = typeof m.text === "string" ? m.text : typeof m.message === "string" ? m.message : "";
  if (!code) return { text: fallback, code: null, translated: false };
  const own = tables[lang]?.[`msg.${code}`];
  const tpl = own ?? template(`msg.${code}`);
  if (tpl === null) return { text: fallback, code, translated: false };
  let translated = own !== undefined;
  const shown = {};
  for (const [k, v] of Object.entries(m.params || {})) {
    if (isMessage(v)) {
      const inner = renderMessage(v);
      translated = translated && inner.translated;
      shown[k] = inner.text;
    } else shown[k] = k === "field" ? fieldName(v) : v;
  }
  return { text: fillTemplate(tpl, shown), code, translated };
}

/** A message as text in the current language (see renderMessage). */
export const msgText = (m) => renderMessage(m).text;

/** Whether a key exists (used for optional translations such as component names). */
export const has = (key) => key in (tables[lang] || {}) || key in (tables.en || {});

/** Re-apply data-i18n / data-i18n-attr on static markup. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    // data-i18n-attr="aria-label:key;title:key2"
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}
