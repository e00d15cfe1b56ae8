// What the page says when the engine had to be restarted (engine-client.js's watchdog: a call that hung, a
// crash, an unreadable reply) or answered something unusable. The page then restores the last valid inputs
// (main.js, recoverFromFault); this module only names the cause, in the user's language, without tracebacks.
import { has, t } from "./i18n.js";

/** Errors after which the worker was restarted and the last valid inputs must be restored. */
export const isRestartFault = (err) => !!err && (err.fault === "timeout" || err.fault === "crashed");

const MAX_FIELDS = 3;

function show(value) {
  if (value !== null && typeof value === "object") return t("fault.custom_config");
  const s = String(value);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** "Sequence length (tokens) = 10000000, …": the inputs of `bad` that differ from `good` (top-level keys). */
export function changedInputs(bad, good) {
  if (!bad || typeof bad !== "object" || Array.isArray(bad)) return [];
  const base = good && typeof good === "object" ? good : {};
  const out = [];
  for (const [key, value] of Object.entries(bad)) {
    if (JSON.stringify(value) === JSON.stringify(base[key])) continue;
    const label = has(`f.${key}`) ? t(`f.${key}`) : key;
    out.push(`${label} = ${show(value)}`);
  }
  return out;
}

function parsePayload(payload) {
  if (typeof payload !== "string") return payload ?? null;
  try {
    return JSON.parse(payload);
  } catch {
    return null;
  }
}

/** The notice shown after a restart: what happened and which inputs caused it. */
export function faultNotice(err, goodRequest, timeoutMs) {
  const changed = changedInputs(parsePayload(err?.payload), goodRequest);
  const list = changed.slice(0, MAX_FIELDS).join("; ") + (changed.length > MAX_FIELDS ? "; …" : "");
  const inputs = list ? t("fault.inputs", { list }) : "";
  if (err?.fault === "timeout") return t("fault.timeout", { s: Math.round((timeoutMs || 0) / 1000), inputs });
  return t("fault.crashed", { inputs });
}

/** A translated one-line text for the watchdog's error codes, or null for the engine's own messages. */
export function faultText(err) {
  if (!err || !err.fault) return null;
  if (err.fault === "timeout") return t("fault.timeout_short");
  if (err.fault === "crashed") return t("fault.crashed_short");
  if (err.fault === "non_finite") return t("fault.non_finite");
  return null;
}
