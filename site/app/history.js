// Saved calculations in localStorage, with a stored-data schema version and migrations. Entries are saved only on
// an explicit action (Save, or sharing / exporting a result), never just because a result was on screen.
// Layout (schema 2): {"schema": 2, "entries": [{id, ts, request, summary, name, pinned}]}, newest first, at most
// 50; pinned entries are kept when older ones make room. `name` is the user's label ("" = none).
// Schema 1 had no name/pinned; schema 0 was an unversioned array of {time, request, total_bytes} (early builds).
// Both are migrated on read. An entry that does not validate is reported and skipped; the others are kept.
import { sanitizeRequest } from "./fields.js";

export const STORE_KEY = "vram-insight:history";
export const SCHEMA = 2;
export const MAX_NAME = 80;
export const MAX_ENTRIES = 50;

const MIGRATIONS = {
  // 0 -> 1: wrap the bare array, rename time -> ts, total_bytes -> summary.total_bytes.
  0: (data) => ({
    schema: 1,
    entries: (Array.isArray(data) ? data : []).map((e, i) =>
      e && typeof e === "object"
        ? {
            id: String(e.id ?? `m${Date.now().toString(36)}${i}`),
            ts: typeof e.time === "number" ? e.time : Date.parse(e.time) || 0,
            request: e.request,
            summary: { total_bytes: e.total_bytes, model_name: e.model_name ?? e.request?.model ?? "?" },
          }
        : e,
    ),
  }),
  // 1 -> 2: every entry gets a name ("" = none) and a pin flag (off).
  1: (data) => ({
    schema: 2,
    entries: (Array.isArray(data.entries) ? data.entries : []).map((e) =>
      e && typeof e === "object" && !Array.isArray(e) ? { name: "", pinned: false, ...e } : e,
    ),
  }),
};

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function validEntry(e) {
  if (!e || typeof e !== "object") return null;
  if (typeof e.id !== "string" || !e.id || typeof e.ts !== "number" || !Number.isFinite(e.ts)) return null;
  const s = e.summary;
  if (!s || typeof s !== "object" || typeof s.total_bytes !== "number" || !Number.isFinite(s.total_bytes)) return null;
  const { ok, request } = sanitizeRequest(e.request);
  if (!ok) return null;
  const comps = s.components && typeof s.components === "object" && !Array.isArray(s.components) ? s.components : {};
  const cleanComps = {};
  for (const [k, v] of Object.entries(comps)) if (typeof v === "number" && Number.isFinite(v)) cleanComps[String(k)] = v;
  const str = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
  return {
    id: e.id,
    ts: e.ts,
    name: typeof e.name === "string" ? e.name.slice(0, MAX_NAME) : "",
    pinned: e.pinned === true,
    request,
    summary: {
      total_bytes: s.total_bytes,
      model_name: str(s.model_name),
      gpu_name: str(s.gpu_name),
      capacity_bytes: typeof s.capacity_bytes === "number" ? s.capacity_bytes : null,
      fits: typeof s.fits === "boolean" ? s.fits : null,
      num_devices: typeof s.num_devices === "number" ? s.num_devices : 1,
      params_total: typeof s.params_total === "number" ? s.params_total : null,
      components: cleanComps,
    },
  };
}

/**
 * Read the history. Returns {entries, skipped, error, readOnly}. `skipped` counts invalid entries (dropped at
 * the next write); `error` is set when the stored value as a whole is unreadable (it is kept aside, not lost).
 */
export function loadHistory() {
  const st = storage();
  const out = { entries: [], skipped: 0, error: null, readOnly: false };
  if (!st) return out;
  let raw;
  try {
    raw = st.getItem(STORE_KEY);
  } catch (e) {
    out.error = String(e.message || e);
    return out;
  }
  if (raw === null) return out;
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    try {
      st.setItem(`${STORE_KEY}:unreadable`, raw);
      st.removeItem(STORE_KEY);
    } catch {
      /* ignore */
    }
    out.error = "unreadable";
    return out;
  }
  let version = Array.isArray(data) ? 0 : data && typeof data.schema === "number" ? data.schema : -1;
  if (version < 0) {
    out.error = "unreadable";
    return out;
  }
  if (version > SCHEMA) {
    // Written by a newer app version: show what we can, never overwrite it.
    out.readOnly = true;
  }
  while (version < SCHEMA && MIGRATIONS[version]) {
    data = MIGRATIONS[version](data);
    version = data.schema;
  }
  const list = Array.isArray(data.entries) ? data.entries : [];
  for (const e of list) {
    const v = validEntry(e);
    if (v) out.entries.push(v);
    else out.skipped += 1;
  }
  out.entries = trimEntries(out.entries);
  return out;
}

/** Pinned entries first, then newest first; at most MAX_ENTRIES, unpinned ones dropped first. */
export function trimEntries(entries) {
  const sorted = [...entries].sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.ts - a.ts);
  return sorted.slice(0, MAX_ENTRIES);
}

export function saveHistory(entries) {
  const st = storage();
  if (!st) return false;
  let list = trimEntries(entries);
  // Drop the oldest entries until it fits the storage quota (pasted configs can be large).
  for (;;) {
    try {
      st.setItem(STORE_KEY, JSON.stringify({ schema: SCHEMA, entries: list }));
      return true;
    } catch {
      // Over quota: drop the oldest unpinned entry (the last one when all are pinned).
      if (!list.length) return false;
      let drop = list.length - 1;
      while (drop > 0 && list[drop].pinned) drop -= 1;
      if (list[drop].pinned) drop = list.length - 1;
      list = list.filter((_, i) => i !== drop);
    }
  }
}

export function makeEntry(request, report) {
  const est = report.estimate;
  return {
    id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`,
    ts: Date.now(),
    name: "",
    pinned: false,
    request,
    summary: {
      total_bytes: est.total_bytes,
      model_name: est.model?.name ?? request.model ?? "",
      gpu_name: report.fit?.gpu_name ?? "",
      capacity_bytes: report.fit?.capacity_bytes ?? null,
      fits: report.fit ? report.fit.fits : null,
      num_devices: est.num_devices ?? 1,
      params_total: est.params?.total ?? null,
      components: { ...est.components },
    },
  };
}
