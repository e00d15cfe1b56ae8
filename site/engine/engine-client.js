/* VRAM Insight engine client: the only interface between the UI and the Python engine.
 *
 *   import { engine } from "../engine/engine-client.js";
 *   engine.state                       "loading" | "ready" | "restarting" | "error"
 *   engine.onState(cb)                 cb(state, detail) now and on every change; returns an unsubscribe function
 *   engine.busy, engine.onBusy(cb)     whether a call has been running for more than BUSY_AFTER_MS; cb(busy)
 *   await engine.ready                 -> { boot_ms, info }   (rejects with an Error if the engine cannot start)
 *   await engine.call(op, payload)     -> the `result` of vram_insight.web_api.call(op, JSON)
 *                                         rejects with Error(message), `.field` (string|null), `.code` and
 *                                         `.params` (the engine's message code, for translation; null when the
 *                                         engine sends none) when it answers {"ok": false, ...}, `.op` the op,
 *                                         `.payload` the request (JSON) and `.fault`: null for the engine's own
 *                                         rejections, else "timeout", "crashed", "non_finite", "unavailable"
 *   engine.stats                       { boot_ms, last_call_ms, last_engine_ms, calls, timings, started_at_ms,
 *                                           ready_at_ms, restarts, last_restart }   last_call_ms: round trip;
 *                                         last_engine_ms: in Python; timings: the worker's boot phases (ms) and
 *                                         heap_bytes (wasm memory); *_at_ms: performance.now() of this document
 *
 * Importing this module starts the worker at once (build.py also puts it in <head> so the worker starts before
 * the UI's code). payload may be an object (serialised here) or a JSON string. Calls made while the engine is
 * loading or restarting are queued. The service worker (offline support) is registered once the engine has
 * settled, so its precaching never competes with the first load.
 *
 * Watchdog (watchdog.js): a call unanswered after CALL_TIMEOUT_MS, a worker crash and a reply that is not the
 * engine's JSON all terminate the worker and start a fresh one (state "restarting", then "ready"); the call is
 * rejected with fault "timeout" / "crashed" and the UI restores the last valid inputs.
 */
import { checkReply, Watchdog } from "./watchdog.js";

// build.py replaces this block with the real paths of this build.
const RUNTIME = /*build:runtime*/ {
  pyodide: "vendor/pyodide/",
  pyodideVersion: "",
  packages: ["vram-insight"],
  wheels: [],
  module: "vram_insight.web_api",
} /*end:runtime*/;

const BOOT_TIMEOUT_MS = 60_000;
// Watchdog: a call the worker has not answered after CALL_TIMEOUT_MS is taken as hung (Pyodide cannot be
// interrupted from inside): the worker is terminated and a fresh one booted (files come from the cache).
// Slowest legitimate calls measured in headless Chromium on a shared 2-core container (bench/site_fuzz.py: every
// catalog model × every mode as a full "report", 581 calls): "catalog" 0.33 s, slowest report 0.35 s, median
// 15 ms; with a site build running alongside, 1.6 s and 1.1 s (docs/reliability.md). 10 s leaves ≥ 6× headroom
// over the worst of these for a phone several times slower, and is short enough that a hang reads as a fault.
const CALL_TIMEOUT_MS = 10_000;
// The status pill says "busy" only for calls longer than this, so ~2–50 ms recalculations do not make it flicker.
const BUSY_AFTER_MS = 400;
// A worker that keeps dying is not restarted forever: after MAX_RESTARTS restarts with no good reply in between
// (the fresh worker cannot even answer the last valid inputs) the engine is reported as failed. Each restart
// caused by one bad input is followed by a good reply, so a user may hit any number of them.
const MAX_RESTARTS = 3;
const SITE_ROOT = new URL("../", import.meta.url);
const t0 = performance.now();

const listeners = new Set();
const busyListeners = new Set();
const pending = new Map(); // id -> {resolve, reject, op, body, started}; Map keeps send order = answer order
let nextId = 1;
let worker = null;
let generation = 0; // bumped on every (re)start: messages from a terminated worker are ignored
let bootTimer = null;
let booted = false; // the current worker said "ready"
let restartsInARow = 0; // restarts since the last good reply

const stats = {
  boot_ms: null,
  last_call_ms: null,
  last_engine_ms: null,
  calls: 0,
  timings: null,
  started_at_ms: Math.round(t0),
  ready_at_ms: null,
  restarts: 0,
  last_restart: null, // {reason, op, ms}: why the worker was last restarted
};

function setState(state, detail) {
  engine.state = state;
  for (const cb of [...listeners]) {
    try {
      cb(state, detail);
    } catch (err) {
      console.error("engine.onState listener failed", err);
    }
  }
}

/** fault: null for the engine's own rejections (err.field names the input; err.code/err.params its message code),
 * else what went wrong around it:
 * "timeout" (the call hung; the worker was restarted), "crashed" (the worker died or answered garbage; restarted),
 * "non_finite" (the engine answered Infinity/NaN), "restarted" (collateral of a restart), "unavailable". */
function engineError(message, extra = {}) {
  const err = new Error(message);
  err.field = extra.field ?? null;
  err.fault = extra.fault ?? null;
  err.code = typeof extra.code === "string" && extra.code ? extra.code : null;
  err.params = extra.params && typeof extra.params === "object" ? extra.params : null;
  if (extra.op) err.op = extra.op;
  if (extra.payload !== undefined) err.payload = extra.payload;
  if (extra.cause) err.cause = extra.cause;
  return err;
}

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});

const watchdog = new Watchdog({
  timeoutMs: CALL_TIMEOUT_MS,
  busyAfterMs: BUSY_AFTER_MS,
  onHang: () => {
    const [id, entry] = pending.entries().next().value || [];
    if (entry) {
      pending.delete(id);
      entry.reject(
        engineError(`The engine did not answer within ${CALL_TIMEOUT_MS / 1000} s and was restarted.`, {
          fault: "timeout",
          op: entry.op,
          payload: entry.body,
        }),
      );
    }
    restart("timeout", entry?.op);
  },
  onBusy: (busy) => {
    engine.busy = busy;
    for (const cb of [...busyListeners]) {
      try {
        cb(busy);
      } catch (err) {
        console.error("engine.onBusy listener failed", err);
      }
    }
  },
});

const rearm = () => watchdog.update(pending.size, booted && engine.state === "ready");

function terminate() {
  generation += 1;
  booted = false;
  clearTimeout(bootTimer);
  watchdog.stop();
  try {
    worker?.terminate();
  } catch {
    /* already gone */
  }
  worker = null;
}

function fail(message, cause) {
  if (engine.state === "error") return;
  const err = engineError(message, { cause, fault: "unavailable" });
  engine.error = err;
  terminate();
  for (const { reject } of pending.values()) reject(err);
  pending.clear();
  setState("error", err);
  rejectReady(err);
}

/** Replace the worker with a fresh one. Calls still owed by the old worker are sent again to the new one (the
 * call that caused the restart has already been rejected by the caller of this function). */
function restart(reason, op) {
  if (engine.state === "error") return;
  const now = performance.now();
  if (restartsInARow >= MAX_RESTARTS) {
    fail(`The engine stopped working (${restartsInARow + 1} failures in a row; last: ${reason}).`);
    return;
  }
  restartsInARow += 1;
  stats.restarts += 1;
  stats.last_restart = { reason, op: op ?? null, ms: Math.round(now) };
  console.warn(`[engine] restarting the worker (${reason}${op ? `, op ${op}` : ""})`);
  terminate();
  setState("restarting", { reason, op });
  start();
  for (const [id, entry] of pending) post(id, entry);
}

function post(id, entry) {
  worker.postMessage({ type: "call", id, op: entry.op, payload: entry.body });
}

function onReply(msg) {
  const entry = pending.get(msg.id);
  if (!entry) return;
  pending.delete(msg.id);
  rearm();
  stats.last_call_ms = performance.now() - entry.started;
  stats.last_engine_ms = typeof msg.ms === "number" ? msg.ms : null;
  stats.calls += 1;
  const checked = checkReply(msg.reply);
  if (!checked.ok) {
    console.error(`[engine] unusable reply to ${entry.op}: ${checked.detail}`);
    if (checked.kind === "non_finite") {
      // The engine is fine; this input overflowed somewhere. Say so; no restart.
      entry.reject(
        engineError("The engine produced a non-finite number (infinity or NaN) for these inputs.", {
          fault: "non_finite",
          op: entry.op,
          payload: entry.body,
        }),
      );
      return;
    }
    entry.reject(
      engineError("The engine sent an unreadable reply and was restarted.", {
        fault: "crashed",
        op: entry.op,
        payload: entry.body,
      }),
    );
    restart("malformed reply", entry.op);
    return;
  }
  const reply = checked.reply;
  restartsInARow = 0; // this worker answers properly
  if (reply.ok) entry.resolve(reply.result);
  else {
    const e = reply.error;
    const message = typeof e.message === "string" && e.message ? e.message : "The engine rejected the request.";
    entry.reject(
      engineError(message, {
        field: typeof e.field === "string" ? e.field : null,
        op: entry.op,
        payload: entry.body,
        code: e.code,
        params: e.params,
      }),
    );
  }
}

function onCrash(msg) {
  // The worker's Python runtime raised through web_api.call (which never raises by contract) or Pyodide hit a
  // fatal error: its state is suspect, so it is replaced. The details go to the console, never to the page.
  console.error("[engine] crashed", msg.message || "", msg.stack || "");
  const entry = pending.get(msg.id);
  if (entry) {
    pending.delete(msg.id);
    entry.reject(
      engineError("The engine crashed on these inputs and was restarted.", {
        fault: "crashed",
        op: entry.op,
        payload: entry.body,
      }),
    );
  }
  restart("crash", entry?.op);
}

function onReady(msg) {
  clearTimeout(bootTimer);
  booted = true;
  engine.info = msg.info;
  if (!stats.ready_at_ms) {
    stats.ready_at_ms = Math.round(performance.now());
    stats.boot_ms = Math.round(stats.ready_at_ms - t0);
    stats.timings = msg.timings || null;
    setState("ready", msg.info);
    resolveReady({ boot_ms: stats.boot_ms, info: msg.info });
  } else {
    setState("ready", msg.info);
  }
  rearm();
}

function onMessage(event) {
  const msg = event.data;
  if (engine.state === "error") return;
  if (!msg || typeof msg !== "object") {
    if (booted) restart("malformed message");
    else fail("The engine worker sent an unreadable message.");
    return;
  }
  if (msg.type === "reply") onReply(msg);
  else if (msg.type === "crash") onCrash(msg);
  else if (msg.type === "ready") onReady(msg);
  else if (msg.type === "fatal") {
    if (msg.stack) console.error("[engine]", msg.stack);
    fail(`The Python engine failed to start: ${String(msg.message ?? "").split("\n")[0]}`);
  } else if (booted) restart("malformed message");
}

function start() {
  if (typeof Worker === "undefined") {
    fail("This browser cannot run Web Workers, which the engine needs.");
    return;
  }
  const workerURL = new URL("./engine-worker.mjs", import.meta.url);
  const gen = generation;
  try {
    worker = new Worker(workerURL, { type: "module", name: "vram-engine" });
  } catch (err) {
    fail(`Could not start the engine worker: ${err?.message || err}`, err);
    return;
  }
  bootTimer = setTimeout(
    () => fail(`The Python engine did not start within ${BOOT_TIMEOUT_MS / 1000} s (slow device or blocked download).`),
    BOOT_TIMEOUT_MS,
  );
  worker.onmessage = (event) => gen === generation && onMessage(event);
  // A worker script that fails to load or throws at top level only shows up here; without it `ready` would hang.
  // After boot, an uncaught error in the worker means its state is suspect: restart it.
  worker.onerror = (event) => {
    event.preventDefault?.();
    if (gen !== generation) return;
    if (booted) {
      const [id, entry] = pending.entries().next().value || [];
      if (entry) {
        pending.delete(id);
        entry.reject(engineError("The engine crashed and was restarted.", { fault: "crashed", op: entry.op, payload: entry.body }));
      }
      restart("worker error", entry?.op);
      return;
    }
    const where = event.filename ? ` (${event.filename}:${event.lineno})` : ` (${workerURL.pathname})`;
    fail(`The engine worker failed to load${where}: ${event.message || "network or script error"}`);
  };
  worker.onmessageerror = () => gen === generation && (booted ? restart("unreadable message") : fail("The engine worker sent a message that could not be read."));
  worker.postMessage({
    type: "init",
    indexURL: new URL(RUNTIME.pyodide, SITE_ROOT).href,
    packages: RUNTIME.packages,
    wheels: RUNTIME.wheels,
    module: RUNTIME.module,
  });
}

function call(op, payload = {}) {
  if (engine.state === "error") return Promise.reject(engine.error);
  let body;
  try {
    body = typeof payload === "string" ? payload : JSON.stringify(payload);
  } catch (err) {
    return Promise.reject(engineError(`Cannot serialise the request: ${err.message}`, { op }));
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const entry = { resolve, reject, op, body, started: performance.now() };
    pending.set(id, entry);
    post(id, entry);
    if (pending.size === 1) rearm(); // the clock runs for the oldest call only; replies re-arm it
  });
}

function onState(cb) {
  listeners.add(cb);
  try {
    cb(engine.state, engine.state === "ready" ? engine.info : engine.error);
  } catch (err) {
    console.error("engine.onState listener failed", err);
  }
  return () => listeners.delete(cb);
}

/** cb(busy) whenever a call has been running for more than BUSY_AFTER_MS (true) or the worker is idle again. */
function onBusy(cb) {
  busyListeners.add(cb);
  return () => busyListeners.delete(cb);
}

/** Register the service worker (sw.js at the site root). Safe to call more than once. */
export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !/^https?:$/.test(location.protocol)) return null;
  try {
    return await navigator.serviceWorker.register(new URL("sw.js", SITE_ROOT), { scope: SITE_ROOT.pathname });
  } catch (err) {
    console.warn("service worker registration failed (the app still works online)", err);
    return null;
  }
}

export const engine = {
  ready,
  call,
  state: "loading",
  busy: false,
  onState,
  onBusy,
  info: null,
  error: null,
  stats,
  runtime: RUNTIME,
  limits: { call_timeout_ms: CALL_TIMEOUT_MS, busy_after_ms: BUSY_AFTER_MS, max_restarts: MAX_RESTARTS },
};

start();
ready.catch(() => {}); // the UI handles failures through onState / ready; avoid an unhandled-rejection log
const afterLoad = () =>
  ready.then(registerServiceWorker, registerServiceWorker).catch(() => {});
if (document.readyState === "complete") afterLoad();
else addEventListener("load", afterLoad, { once: true });

export default engine;
