/* VRAM Insight engine console: the page's UI in plain JS; Python (Pyodide + pydantic + vram_insight) runs in a
 * PyScript worker (`PyWorker`, console_worker.py). Why a PyScript page needs its own CSP: see index.html.
 *
 * - PyScript, its interpreter and the packages come from this origin only: `version` (the interpreter module
 *   URL) points at the vendored Pyodide, `packages` are resolved through our own pyodide-lock.json next to it,
 *   `packages_cache: "passthrough"` hands them straight to Pyodide (no micropip, nothing stored in IndexedDB);
 * - output is shown as text nodes only (never parsed as HTML);
 * - Stop terminates the worker (a Python loop cannot be interrupted without cross-origin isolation) and boots a
 *   fresh one;
 * - `window.vramConsole.stats` exposes the boot timings (ms since navigation start) for tests and benchmarks.
 */

import { EXAMPLES } from "./examples.js";

// build.py replaces this block with the real paths of this build (site-relative).
const RUNTIME = /*build:console*/ {
  pyscript: "vendor/pyscript/",
  pyodide: "vendor/pyodide/",
  packages: ["vram-insight"],
} /*end:console*/;

const SITE_ROOT = new URL("../", import.meta.url);
const WORKER_URL = new URL("console_worker.py", import.meta.url).href;
const BOOT_TIMEOUT_MS = 90_000;

const $ = (id) => document.getElementById(id);
const editor = $("editor");
const runBtn = $("run");
const stopBtn = $("stop");
const clearBtn = $("clear");
const examples = $("examples");
const output = $("output");
const status = $("status");
const statusText = $("status-text");
const runInfo = $("run-info");

const stats = {
  started_at_ms: Math.round(performance.now()),
  pyscript_at_ms: null,
  ready_at_ms: null,
  boot_ms: null,
  boots: 0,
  runs: 0,
  last_run_ms: null,
  info: null,
};
window.vramConsole = { stats };

let worker = null; // the PyScript XWorker once ready
let booting = null; // Promise<XWorker>
let running = false;

function setStatus(state, text) {
  status.dataset.state = state;
  statusText.textContent = text;
}

function updateButtons() {
  const ready = status.dataset.state === "ready" || status.dataset.state === "running";
  runBtn.disabled = !ready || running;
  stopBtn.disabled = !running;
}

/* ------------------------------------------------------------------------------------------------- output */
function append(stream, text) {
  if (!text) return;
  const last = output.lastElementChild;
  if (last && last.dataset.stream === stream) {
    last.append(text);
    return;
  }
  const span = document.createElement("span");
  span.className = `out-${stream}`;
  span.dataset.stream = stream;
  span.textContent = text; // text, never HTML
  output.append(span);
}

function clearOutput() {
  output.replaceChildren();
  runInfo.textContent = "";
  output.dataset.state = "idle";
}

/* --------------------------------------------------------------------------------------------------- boot */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function startWorker() {
  const t0 = performance.now();
  stats.boots += 1;
  setStatus("loading", "Loading Python…");
  updateButtons();
  const { PyWorker } = await import(new URL(`${RUNTIME.pyscript}core.js`, SITE_ROOT).href);
  // PyScript's worker hooks (which give the worker its `pyscript` module) exist once its plugins have loaded,
  // and it defines <py-script> right after: a PyWorker created earlier would start without them (the first boot
  // and a restart would differ).
  await customElements.whenDefined("py-script");
  stats.pyscript_at_ms = Math.round(performance.now());
  const interpreter = new URL(`${RUNTIME.pyodide}pyodide.mjs`, SITE_ROOT).href;
  // PyWorker resolves once console_worker.py has run (its imports included), and rejects when it raised.
  const xworker = await withTimeout(
    PyWorker(WORKER_URL, {
      // The worker runs from a blob: URL, so the interpreter URL must be absolute; without `version` PyScript
      // would load Pyodide from its CDN.
      version: interpreter,
      config: { interpreter, packages: RUNTIME.packages, packages_cache: "passthrough" },
    }),
    BOOT_TIMEOUT_MS,
    "starting Python",
  );
  // Health check: a worker whose script failed to export its functions would not answer.
  const info = JSON.parse(await withTimeout(xworker.sync.info(), 15_000, "the console worker's info()"));
  stats.info = info;
  stats.ready_at_ms = Math.round(performance.now());
  stats.boot_ms = Math.round(performance.now() - t0);
  worker = xworker;
  setStatus("ready", `Python ${info.python} · engine ${info.engine_version}`);
  document.documentElement.dataset.consoleReady = "1";
  updateButtons();
  return xworker;
}

function boot() {
  booting = startWorker().catch((err) => {
    console.error("engine console: Python did not start", err);
    setStatus("error", "Python did not start");
    append("stderr", `Python did not start: ${err?.message || err}\n`);
    output.dataset.state = "error";
    updateButtons();
    throw err;
  });
  booting.catch(() => {});
  return booting;
}

/* ---------------------------------------------------------------------------------------------------- run */
async function run() {
  if (running || !worker) return;
  const code = editor.value;
  running = true;
  setStatus("running", "Running…");
  output.dataset.state = "running";
  updateButtons();
  clearOutput();
  output.dataset.state = "running";
  const current = worker;
  const t0 = performance.now();
  try {
    const reply = JSON.parse(await current.sync.run(code));
    if (current !== worker) return; // stopped meanwhile
    for (const [stream, text] of reply.output) append(stream, text);
    stats.runs += 1;
    stats.last_run_ms = reply.ms;
    const roundTrip = formatMs(performance.now() - t0);
    runInfo.textContent = `${reply.ok ? "Done" : "Error"} in ${formatMs(reply.ms)} (Python), ${roundTrip} in all`;
    if (!reply.output.length) append("note", "(no output)\n");
    output.dataset.state = reply.ok ? "ok" : "error";
  } catch (err) {
    if (current !== worker) return;
    append("stderr", `The console could not run the code: ${err?.message || err}\n`);
    output.dataset.state = "error";
  } finally {
    if (current === worker) {
      running = false;
      setStatus("ready", `Python ${stats.info.python} · engine ${stats.info.engine_version}`);
      updateButtons();
    }
  }
}

function stop() {
  if (!running || !worker) return;
  worker.terminate();
  worker = null;
  running = false;
  append("note", "\n[stopped: Python was restarted, nothing is kept]\n");
  output.dataset.state = "stopped";
  runInfo.textContent = "Stopped";
  boot();
}

function formatMs(ms) {
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/* ------------------------------------------------------------------------------------------------ wiring */
for (const ex of EXAMPLES) {
  const opt = document.createElement("option");
  opt.value = ex.id;
  opt.textContent = ex.label;
  examples.append(opt);
}
editor.value = EXAMPLES[0].code;
examples.addEventListener("change", () => {
  const ex = EXAMPLES.find((e) => e.id === examples.value);
  if (ex) editor.value = ex.code;
  editor.focus();
});
runBtn.addEventListener("click", run);
stopBtn.addEventListener("click", stop);
clearBtn.addEventListener("click", clearOutput);
editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    run();
  } else if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
    // Indent with four spaces (Esc then Tab leaves the editor, as in most code editors).
    if (editor.dataset.tabTraps === "off") return;
    event.preventDefault();
    editor.setRangeText("    ", editor.selectionStart, editor.selectionEnd, "end");
  } else if (event.key === "Escape") {
    editor.dataset.tabTraps = "off";
  }
});
editor.addEventListener("blur", () => {
  delete editor.dataset.tabTraps;
});

boot()
  .then(registerServiceWorker)
  .catch(() => {});

/** The site's service worker (sw.js at the site root), registered once Python is up so that precaching does not
 * compete with the first load. Safe when the main page has registered it already. */
async function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !/^https?:$/.test(location.protocol)) return;
  try {
    await navigator.serviceWorker.register(new URL("sw.js", SITE_ROOT), { scope: SITE_ROOT.pathname });
  } catch (err) {
    console.warn("service worker registration failed (the console still works online)", err);
  }
}
