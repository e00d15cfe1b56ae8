/* VRAM Insight engine worker: CPython (Pyodide) + pydantic + vram_insight in a dedicated module Web Worker.
 *
 * Protocol (engine-client.js is the only user):
 *   main -> worker  {type: "init", indexURL, packages, module}      once, right after the worker starts
 *   main -> worker  {type: "call", id, op, payload}                 payload is a JSON string
 *   worker -> main  {type: "ready", info, timings}                  `info` is web_api.call("info") 's result
 *   worker -> main  {type: "reply", id, reply}                      reply is web_api's JSON string
 *   worker -> main  {type: "fatal", message, stack}                 boot failed; the worker is useless
 * Calls that arrive before the engine is ready wait for it.
 *
 * Everything is loaded from this origin: Pyodide from the vendored runtime folder, the wheels through our own
 * pyodide-lock.json (no micropip, no IndexedDB package cache, no CDN), so it works offline once the service
 * worker has precached the files.
 *
 * Why a plain module worker and not a PyScript `<script type="py" worker>` (both measured, built site served by
 * `python build.py --serve`, headless Debian Chromium 150, 2-core container, median of 5 cold loads, see the
 * final report of the build session for the raw runs):
 *   PLACEHOLDER_MEASUREMENTS
 */

let engineCall = null;
let bootPromise = null;
const queued = [];

const now = () => performance.now();

async function boot({ indexURL, packages, module }) {
  const t0 = now();
  const timings = {};
  const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
  timings.import_ms = now() - t0;
  const pyodide = await loadPyodide({
    indexURL,
    packages, // resolved through our pyodide-lock.json next to the runtime
    stdout: () => {},
    stderr: (line) => console.warn("[engine]", line),
  });
  timings.pyodide_ms = now() - t0;
  const webApi = pyodide.pyimport(module);
  timings.import_engine_ms = now() - t0;
  const call = webApi.call;
  const infoReply = JSON.parse(call("info", "{}"));
  if (!infoReply || infoReply.ok !== true) {
    const msg = infoReply?.error?.message || "unexpected reply";
    throw new Error(`engine info check failed: ${msg}`);
  }
  timings.total_ms = now() - t0;
  engineCall = (op, payload) => call(op, payload);
  return { info: infoReply.result, timings };
}

function handleCall({ id, op, payload }) {
  let reply;
  try {
    reply = engineCall(String(op), typeof payload === "string" ? payload : JSON.stringify(payload ?? {}));
  } catch (err) {
    // web_api.call never raises by contract; a Python crash (e.g. MemoryError) still gets a JSON reply.
    reply = JSON.stringify({ ok: false, error: { message: `engine crashed: ${err?.message || err}`, field: null } });
  }
  self.postMessage({ type: "reply", id, reply });
}

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type === "init") {
    if (bootPromise) return;
    bootPromise = boot(msg).then(
      ({ info, timings }) => {
        self.postMessage({ type: "ready", info, timings });
        for (const call of queued.splice(0)) handleCall(call);
      },
      (err) => {
        self.postMessage({ type: "fatal", message: String(err?.message || err), stack: String(err?.stack || "") });
      },
    );
  } else if (msg.type === "call") {
    if (engineCall) handleCall(msg);
    else queued.push(msg);
  }
});
