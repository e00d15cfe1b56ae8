/* VRAM Insight engine client: the only interface between the UI and the Python engine.
 *
 *   import { engine } from "../engine/engine-client.js";
 *   engine.state                       "loading" | "ready" | "error"
 *   engine.onState(cb)                 cb(state, detail) now and on every change; returns an unsubscribe function
 *   await engine.ready                 -> { boot_ms, info }   (rejects with an Error if the engine cannot start)
 *   await engine.call(op, payload)     -> the `result` of vram_insight.web_api.call(op, JSON)
 *                                         rejects with Error(message) and `.field` (string|null), `.code` and
 *                                         `.params` (the message code, for translation; null when the engine
 *                                         sends none) when the engine answers {"ok": false, ...}; `.op` names the op
 *   engine.stats                       { boot_ms, last_call_ms, last_engine_ms, calls, timings, started_at_ms,
 *                                           ready_at_ms }   last_call_ms: round trip; last_engine_ms: in Python
 *                                         timings: the worker's boot phases (ms) and heap_bytes (wasm memory);
 *                                         *_at_ms: performance.now() of this document (0 = navigation start)
 *
 * Importing this module starts the worker at once (build.py also puts it in <head> so the worker starts before
 * the UI's code). payload may be an object (serialised here) or a JSON string. Calls made while the engine is
 * loading are queued. The service worker (offline support) is registered once the engine has settled, so its
 * precaching never competes with the first load.
 */

// build.py replaces this block with the real paths of this build.
const RUNTIME = /*build:runtime*/ {
  pyodide: "vendor/pyodide/",
  pyodideVersion: "",
  packages: ["vram-insight"],
  wheels: [],
  module: "vram_insight.web_api",
} /*end:runtime*/;

const BOOT_TIMEOUT_MS = 60_000;
const SITE_ROOT = new URL("../", import.meta.url);
const t0 = performance.now();

const listeners = new Set();
const pending = new Map();
let nextId = 1;
let worker = null;

const stats = {
  boot_ms: null,
  last_call_ms: null,
  last_engine_ms: null,
  calls: 0,
  timings: null,
  started_at_ms: Math.round(t0),
  ready_at_ms: null,
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

function engineError(message, extra = {}) {
  const err = new Error(message);
  err.field = extra.field ?? null;
  err.code = typeof extra.code === "string" && extra.code ? extra.code : null;
  err.params = extra.params && typeof extra.params === "object" ? extra.params : null;
  if (extra.op) err.op = extra.op;
  if (extra.cause) err.cause = extra.cause;
  return err;
}

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});

function fail(message, cause) {
  if (engine.state === "error") return;
  const err = engineError(message, { cause });
  engine.error = err;
  clearTimeout(timer);
  try {
    worker?.terminate();
  } catch {
    /* already gone */
  }
  for (const { reject } of pending.values()) reject(err);
  pending.clear();
  setState("error", err);
  rejectReady(err);
}

const timer = setTimeout(
  () => fail(`The Python engine did not start within ${BOOT_TIMEOUT_MS / 1000} s (slow device or blocked download).`),
  BOOT_TIMEOUT_MS,
);

function onMessage(event) {
  const msg = event.data || {};
  if (msg.type === "reply") {
    const entry = pending.get(msg.id);
    if (!entry) return;
    pending.delete(msg.id);
    stats.last_call_ms = performance.now() - entry.started;
    stats.last_engine_ms = typeof msg.ms === "number" ? msg.ms : null;
    stats.calls += 1;
    let reply;
    try {
      reply = JSON.parse(msg.reply);
    } catch (err) {
      entry.reject(engineError("The engine returned malformed JSON.", { op: entry.op, cause: err }));
      return;
    }
    if (reply && reply.ok === true) entry.resolve(reply.result);
    else {
      const e = (reply && reply.error) || {};
      entry.reject(
        engineError(e.message || "The engine rejected the request.", {
          field: e.field ?? null,
          code: e.code,
          params: e.params,
          op: entry.op,
        }),
      );
    }
  } else if (msg.type === "ready") {
    if (engine.state === "error") return;
    clearTimeout(timer);
    stats.ready_at_ms = Math.round(performance.now());
    stats.boot_ms = Math.round(stats.ready_at_ms - t0);
    stats.timings = msg.timings || null;
    engine.info = msg.info;
    setState("ready", msg.info);
    resolveReady({ boot_ms: stats.boot_ms, info: msg.info });
  } else if (msg.type === "fatal") {
    if (msg.stack) console.error("[engine]", msg.stack);
    fail(`The Python engine failed to start: ${msg.message}`);
  }
}

function start() {
  if (typeof Worker === "undefined") {
    fail("This browser cannot run Web Workers, which the engine needs.");
    return;
  }
  const workerURL = new URL("./engine-worker.mjs", import.meta.url);
  try {
    worker = new Worker(workerURL, { type: "module", name: "vram-engine" });
  } catch (err) {
    fail(`Could not start the engine worker: ${err?.message || err}`, err);
    return;
  }
  worker.onmessage = onMessage;
  // A worker script that fails to load or throws at top level only shows up here; without it `ready` would hang.
  worker.onerror = (event) => {
    event.preventDefault?.();
    const where = event.filename ? ` (${event.filename}:${event.lineno})` : ` (${workerURL.pathname})`;
    fail(`The engine worker failed to load${where}: ${event.message || "network or script error"}`);
  };
  worker.onmessageerror = () => fail("The engine worker sent a message that could not be read.");
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
    pending.set(id, { resolve, reject, op, started: performance.now() });
    worker.postMessage({ type: "call", id, op, payload: body });
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
  onState,
  info: null,
  error: null,
  stats,
  runtime: RUNTIME,
};

start();
ready.catch(() => {}); // the UI handles failures through onState / ready; avoid an unhandled-rejection log
const afterLoad = () =>
  ready.then(registerServiceWorker, registerServiceWorker).catch(() => {});
if (document.readyState === "complete") afterLoad();
else addEventListener("load", afterLoad, { once: true });

export default engine;
