/* VRAM Insight engine worker: CPython (Pyodide) + pydantic + vram_insight in a dedicated module Web Worker.
 *
 * Protocol (engine-client.js is the only user):
 *   main -> worker  {type: "init", indexURL, packages, wheels, module}   once, right after the worker starts
 *   main -> worker  {type: "call", id, op, payload}                 payload is a JSON string
 *   worker -> main  {type: "ready", info, timings}                  `info` is web_api.call("info") 's result
 *   worker -> main  {type: "reply", id, reply, ms}                  reply is web_api's JSON string; ms: time in Python
 *   worker -> main  {type: "crash", id, message, stack}             the call raised through web_api.call: the
 *                                                                   runtime is suspect and the page replaces it
 *   worker -> main  {type: "fatal", message, stack}                 boot failed; the worker is useless
 * Calls that arrive before the engine is ready wait for it.
 *
 * Everything is loaded from this origin: Pyodide from the vendored runtime folder, the wheels through our own
 * pyodide-lock.json (no micropip, no IndexedDB package cache, no CDN), so it works offline once the service
 * worker has precached the files.
 *
 * Why a plain module worker and not a PyScript worker: PyScript 0.7.31 cannot run under the site's CSP. Its
 * worker hooks (and its plugins' hooks) are compiled with Function() in the page and in the worker, which needs
 * script-src 'unsafe-eval'; PyWorker(...) only succeeds under our CSP when it is called before PyScript's plugins
 * have loaded (a race: 300 ms later it fails with an EvalError). bench/run.py --pyscript measures both workers
 * (CSP bypassed) and records the CSP failure; docs/performance.md has the numbers.
 *
 * Earlier measurements. Both were measured on the same built site, served by
 * build.py's server, cold loads in fresh headless Debian Chromium 150 contexts, alternating A/B rounds on a
 * shared 2-core container (absolute times are noisy there; compare within a round):
 *   - PyScript 0.7.31 `PyWorker(engine.py, {config: {interpreter, packages, packages_cache: "passthrough"}})`
 *     with `__export__ = ["call"]`, reached through `xworker.sync.call`: slower than this worker in 9 of 9
 *     rounds while the runtime shipped .py sources (median 14.6 s vs 12.4 s; 12.5 vs 7.7 s on a quieter run);
 *     after build.py started precompiling .pyc the two are within noise (median 4.5 s vs 4.8 s, 4 rounds).
 *     It always costs 9 more requests and +41 KB (core.js and its eagerly imported chunks), needs the
 *     `interpreter` URL passed as `version` (else PyScript loads Pyodide from a CDN), runs from a blob: URL, and
 *     a Python error in the worker surfaces only through PyScript's own channel.
 *   - This worker: engine ready 3.8 s median (6 rounds; 7.5 s with .py sources and the full stdlib, paired
 *     ratio 0.48), 14 requests, 6.15 MB transferred (brotli); a missing worker script fails `ready` in 0.1 s,
 *     a bad wheel (sha256 mismatch) in 2.4 s, each with the reason.
 *   - MicroPython on the page (PyScript `<script type="mpy">`) adds ~0.6 MB and competes for the CPU while
 *     Pyodide boots; the UI needs no Python on the main thread, so the page does not load it (build.py still
 *     vendors PyScript and MicroPython; they are precached only if a page references them).
 */

let engineCall = null;
let bootPromise = null;
const queued = [];

const now = () => performance.now();

async function boot({ indexURL, packages, wheels, module }) {
  const t0 = now();
  const timings = {};
  // Pyodide downloads the packages only after the runtime is up; fetch them now, in parallel with the runtime,
  // so its own requests are answered by the HTTP cache (or the service worker).
  for (const file of wheels || []) {
    fetch(indexURL + file)
      .then((r) => r.arrayBuffer())
      .catch(() => {});
  }
  const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
  timings.import_ms = now() - t0;
  const pyodide = await loadPyodide({
    indexURL,
    stdout: () => {},
    stderr: (line) => console.warn("[engine]", line),
  });
  timings.runtime_ms = now() - t0;
  // Resolved through our pyodide-lock.json next to the runtime (sha256-checked). Pyodide only logs a failed
  // package, and the import would then fail with a misleading hint about micropip: collect and report it.
  const errors = [];
  await pyodide.loadPackage(packages, { messageCallback: () => {}, errorCallback: (m) => errors.push(m) });
  if (errors.length) throw new Error(`could not load the engine's packages: ${errors.join("; ")}`);
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
  // Size of the wasm linear memory after boot (it only grows): the engine's memory footprint in the worker.
  timings.heap_bytes = pyodide._module?.HEAP8?.length ?? null;
  engineCall = (op, payload) => call(op, payload);
  return { info: infoReply.result, timings };
}

function handleCall({ id, op, payload }) {
  let reply;
  const t0 = now();
  try {
    reply = engineCall(String(op), typeof payload === "string" ? payload : JSON.stringify(payload ?? {}));
  } catch (err) {
    // web_api.call never raises by contract, so an exception here means the Python runtime itself failed (a
    // fatal Pyodide error, a wasm trap, memory exhaustion): this worker's state is suspect. The page replaces the
    // worker; the traceback goes to its console, never into the page.
    self.postMessage({ type: "crash", id, message: String(err?.message || err), stack: String(err?.stack || "") });
    return;
  }
  self.postMessage({ type: "reply", id, reply, ms: now() - t0 });
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
