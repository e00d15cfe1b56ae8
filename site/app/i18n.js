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
