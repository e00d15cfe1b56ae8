// Storage and salvage for the calculation history (history.js owns the format: schema, migrations, validation).
//
// The rule: nothing stored is ever lost. Whatever this version does not understand, a value that is not JSON, an
// unknown or missing `schema`, `entries` that is not a list, entries that do not validate, is copied under its
// own key "<key>:aside:<ISO time>" and read back to check the copy before anything may overwrite the original.
// When the copy cannot be made (storage quota) the original is left untouched and the history is read-only for
// this page. Entries are salvaged from any wrapper (any object holding objects with a `request`, a map of them,
// a JSON string of them) and shown. Failures to save (quota) are reported, never swallowed.
//
//   readStore(storage, format)          -> {entries, readOnly, notices, aside}; notices: [{key, params}] (i18n)
//   writeStore(storage, format, list)   -> {ok, dropped}; problems are also sent to onStoreProblem listeners
//   onStoreProblem(cb)                  cb({key, params}) for every save that failed or had to drop entries
// format: {key, schema, migrations: {n: data -> data}, validEntry: raw -> entry|null, legacyEntry: raw -> raw,
//          max}

const MAX_DEPTH = 6; // how deep salvage looks for entries inside an unknown wrapper
const MAX_CANDIDATES = 10_000;

const problemListeners = new Set();
const readOnlyKeys = new Set(); // keys whose stored value must not be overwritten in this page

export function onStoreProblem(cb) {
  problemListeners.add(cb);
  return () => problemListeners.delete(cb);
}

function report(problem) {
  for (const cb of [...problemListeners]) {
    try {
      cb(problem);
    } catch (err) {
      console.error("history problem listener failed", err);
    }
  }
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const utf8Bytes = (s) => new TextEncoder().encode(s).length;
const megabytes = (s) => (utf8Bytes(s) / 1e6).toFixed(1);

/** Copy `value` under a fresh "<key>:aside:<time>" key (or find an identical copy made earlier) and read it back.
 * Returns the key, or null when it could not be stored (quota) or did not read back intact. */
export function setAside(st, key, value, now = new Date()) {
  const prefix = `${key}:aside:`;
  try {
    for (let i = 0; i < st.length; i += 1) {
      const k = st.key(i);
      if (k && k.startsWith(prefix) && st.getItem(k) === value) return k; // already kept (e.g. another tab)
    }
  } catch {
    /* listing failed: just make a new copy */
  }
  const stamp = now.toISOString();
  let asideKey = `${prefix}${stamp}`;
  for (let n = 2; st.getItem(asideKey) !== null; n += 1) asideKey = `${prefix}${stamp}-${n}`;
  try {
    st.setItem(asideKey, value);
    if (st.getItem(asideKey) === value) return asideKey;
  } catch {
    /* quota: fall through */
  }
  try {
    st.removeItem(asideKey); // a partial or failed copy is no copy
  } catch {
    /* ignore */
  }
  return null;
}

/** Every object with a `request` object found in `value` (any wrapper, map, list or JSON string), with its id
 * taken from the map key when it has none. */
export function salvageEntries(value) {
  const found = [];
  const walk = (v, depth, mapKey) => {
    if (found.length >= MAX_CANDIDATES || depth > MAX_DEPTH) return;
    if (typeof v === "string") {
      const s = v.trim();
      if (!/^[[{]/.test(s)) return;
      try {
        walk(JSON.parse(s), depth + 1, mapKey);
      } catch {
        /* not JSON: nothing to salvage */
      }
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1, undefined);
      return;
    }
    if (!isPlainObject(v)) return;
    if (isPlainObject(v.request)) {
      found.push(mapKey !== undefined && v.id === undefined ? { ...v, id: String(mapKey) } : v);
      return;
    }
    for (const [k, child] of Object.entries(v)) walk(child, depth + 1, k);
  };
  walk(value, 0, undefined);
  return found;
}

/** What the stored value is: "ours" (this schema, a list of entries), "older" (migratable), "newer" (a later
 * version's: read-only) or "unknown" (anything else, including a schema that is not a non-negative integer). */
function classify(data, format) {
  if (Array.isArray(data)) return format.migrations[0] ? "older" : "unknown";
  if (!isPlainObject(data)) return "unknown";
  const v = data.schema;
  if (!Number.isInteger(v) || v < 0) return "unknown";
  if (v > format.schema) return "newer";
  if (!Array.isArray(data.entries)) return "unknown";
  if (v === format.schema) return "ours";
  return format.migrations[v] ? "older" : "unknown";
}

function migrate(data, format) {
  let version = Array.isArray(data) ? 0 : data.schema;
  while (version < format.schema) {
    data = format.migrations[version](data);
    version = data.schema;
  }
  return data;
}

function validate(candidates, format) {
  const good = [];
  const goodRaw = []; // as stored, for entries beyond the limit that are set aside
  const bad = [];
  const ids = new Set();
  for (const [i, raw] of candidates.entries()) {
    const entry = format.validEntry(raw) || (format.legacyEntry && format.validEntry(format.legacyEntry(raw, i)));
    if (entry && !ids.has(entry.id)) {
      ids.add(entry.id);
      good.push(entry);
      goodRaw.push(raw);
    } else bad.push(raw); // invalid, or a second entry with the same id: kept aside, not dropped
  }
  return { good, goodRaw, bad };
}

export function readStore(st, format) {
  const out = { entries: [], readOnly: false, notices: [], aside: [] };
  readOnlyKeys.delete(format.key);
  if (!st) return out;
  let raw;
  try {
    raw = st.getItem(format.key);
  } catch {
    out.readOnly = true;
    out.notices.push({ key: "n.history_unavailable", params: {} });
    readOnlyKeys.add(format.key);
    return out;
  }
  if (raw === null) return out;

  let data;
  let parsed = true;
  try {
    data = JSON.parse(raw);
  } catch {
    parsed = false;
  }
  const kind = parsed ? classify(data, format) : "unknown";
  let candidates;
  if (kind === "ours" || kind === "older") candidates = migrate(data, format).entries;
  else candidates = parsed ? salvageEntries(data) : [];
  const { good, goodRaw, bad } = validate(candidates, format);
  out.entries = good.slice(0, format.max);

  if (kind === "newer") {
    // Written by a later version: show what this one can read, never write over it.
    out.readOnly = true;
    out.notices.push({ key: "n.history_newer", params: {} });
    readOnlyKeys.add(format.key);
    return out;
  }
  // What must be kept before the stored value may be replaced: all of it when its shape is not understood, else
  // the entries that do not validate (and any beyond the limit).
  let keep = null;
  if (kind === "unknown") keep = raw;
  else if (kind === "older" && bad.length) keep = raw; // as stored, before the migration rewrote its entries
  else if (bad.length || good.length > format.max) {
    keep = JSON.stringify({ schema: format.schema, entries: [...bad, ...goodRaw.slice(format.max)] });
  }
  if (keep === null) return out;

  const asideKey = setAside(st, format.key, keep);
  const n = out.entries.length;
  if (!asideKey) {
    // No room for a copy: leave the original exactly as it is and never write over it in this page.
    out.readOnly = true;
    readOnlyKeys.add(format.key);
    out.notices.push({ key: "n.history_aside_failed", params: { size: megabytes(keep), n } });
    return out;
  }
  out.aside.push(asideKey);
  if (kind === "unknown") out.notices.push({ key: "n.history_aside_all", params: { aside: asideKey, n } });
  else {
    const n = bad.length + Math.max(0, good.length - format.max);
    out.notices.push({ key: "n.history_aside_bad", params: { aside: asideKey, n } });
  }
  // The original is safe under asideKey: store what was recovered now, so the next load does not set it aside
  // again. If this write fails the original simply stays (and is found identical next time).
  write(st, format, out.entries);
  return out;
}

function write(st, format, entries) {
  let list = entries.slice(0, format.max);
  for (;;) {
    const text = JSON.stringify({ schema: format.schema, entries: list });
    try {
      st.setItem(format.key, text);
      if (st.getItem(format.key) === text) return { ok: true, dropped: entries.length - list.length, kept: list.length };
    } catch {
      /* quota: drop the oldest entry and try again */
    }
    if (!list.length) return { ok: false, dropped: entries.length, kept: 0 };
    list = list.slice(0, -1);
  }
}

/** Save the entries (newest first). When storage is full the oldest entries are dropped until the rest fits, and
 * that is reported; a key read as read-only (see readStore) is never written. */
export function writeStore(st, format, entries) {
  if (!st || readOnlyKeys.has(format.key)) return { ok: false, dropped: 0 };
  const wanted = Math.min(entries.length, format.max);
  const res = write(st, format, entries);
  if (!res.ok) report({ key: "n.history_quota_full", params: {} });
  else if (res.kept < wanted) report({ key: "n.history_quota_dropped", params: { n: wanted - res.kept } });
  return res;
}
