// Saved calculations in localStorage, with a stored-data schema version and migrations. Entries are saved only on
// an explicit action (Save, or sharing / exporting a result), never just because a result was on screen.
// Layout (schema 2): {"schema": 2, "entries": [{id, ts, request, summary, name, pinned}]}, pinned first, then
// newest first, at most 50; pinned entries are kept when older ones make room. `name` is the user's label.
// Schema 1 had no name/pinned; schema 0 was an unversioned array of {time, request, total_bytes} (early builds).
// Both are migrated on read. Reading, salvage and saving are in history-store.js: whatever does not validate is
// set aside under its own key, never lost.
import { sanitizeRequest } from "./fields.js";
import { readStore, writeStore } from "./history-store.js";

export const STORE_KEY = "vram-insight:history";
export const SCHEMA = 2;
export const MAX_NAME = 80;
export const MAX_ENTRIES = 50;

// An entry as early builds stored it ({time, request, total_bytes}) -> the schema-1 shape.
function legacyEntry(e, i = 0) {
  if (!e || typeof e !== "object" || "summary" in e) return e;
  return {
    id: String(e.id ?? `m${Date.now().toString(36)}${i}`),
    ts: typeof e.time === "number" ? e.time : Date.parse(e.time) || 0,
    request: e.request,
    summary: { total_bytes: e.total_bytes, model_name: e.model_name ?? e.request?.model ?? "?" },
  };
}

const MIGRATIONS = {
  // 0 -> 1: wrap the bare array, rename time -> ts, total_bytes -> summary.total_bytes.
  0: (data) => ({ schema: 1, entries: (Array.isArray(data) ? data : []).map((e, i) => legacyEntry(e, i)) }),
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

// What history-store.js needs to read, salvage and write this format.
export const FORMAT = {
  key: STORE_KEY,
  schema: SCHEMA,
  migrations: MIGRATIONS,
  validEntry,
  legacyEntry,
  max: MAX_ENTRIES,
};

/**
 * Read the history. Returns {entries, readOnly, notices, aside} (history-store.js): whatever cannot be read is
 * set aside under its own key first; `readOnly` when the stored value must not be overwritten (written by a newer
 * version, or no room to set it aside); `notices` are i18n keys + params for the user.
 */
export function loadHistory() {
  const out = readStore(storage(), FORMAT);
  out.entries = trimEntries(out.entries);
  return out;
}

/** Pinned entries first, then newest first; at most MAX_ENTRIES, unpinned ones dropped first. */
export function trimEntries(entries) {
  const sorted = [...entries].sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.ts - a.ts);
  return sorted.slice(0, MAX_ENTRIES);
}

/** Save (pinned first, then newest first, at most MAX_ENTRIES); false when nothing could be written. When storage
 * is full the last entries (the oldest unpinned ones first) are dropped until the rest fits; quota problems are
 * reported through history-store.js's onStoreProblem. */
export function saveHistory(entries) {
  return writeStore(storage(), FORMAT, trimEntries(entries)).ok;
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
