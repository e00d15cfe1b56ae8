// The same engine in a PyScript 0.7.31 worker (PyWorker from the vendored core.js), no UI: engine ready = info
// answered. Same runtime, same lock, packages_cache "passthrough" (no micropip, no IndexedDB). bench/run.py
// replaces the __RUNTIME__ and __PYSCRIPT__ placeholders.
const RUNTIME = __RUNTIME__;
const PYSCRIPT = "__PYSCRIPT__";
window.__bench = { started_at_ms: performance.now() };
const done = (data) => {
  Object.assign(window.__bench, data, { ready_at_ms: performance.now() });
  document.documentElement.dataset.benchState = data.type;
};
try {
  const { PyWorker } = await import(new URL(`../../${PYSCRIPT}/core.js`, import.meta.url).href);
  // #delay: call PyWorker once PyScript's plugins have loaded (as a page that does anything else first would).
  if (location.hash === "#delay") await new Promise((r) => setTimeout(r, 300));
  const pyodide = new URL(`../../${RUNTIME.pyodide}pyodide.mjs`, import.meta.url).href;
  const worker = await PyWorker(new URL("./engine.py", import.meta.url).href, {
    type: "pyodide",
    version: pyodide,
    config: { interpreter: pyodide, packages: RUNTIME.packages, packages_cache: "passthrough" },
  });
  const reply = JSON.parse(await worker.sync.call("info", "{}"));
  if (!reply.ok) throw new Error(`info failed: ${JSON.stringify(reply.error)}`);
  done({ type: "ready" });
} catch (err) {
  done({ type: "fatal", message: String(err?.message || err) });
}
