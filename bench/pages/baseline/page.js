// bench/run.py's baseline: the naive boot (stock Pyodide runtime, PyPI wheels, pydantic imported and used once)
// with no engine, in a module worker. The bench reads window.__bench.
const worker = new Worker(new URL("./worker.mjs", import.meta.url), { type: "module" });
window.__bench = { started_at_ms: performance.now() };
worker.onmessage = (event) => {
  Object.assign(window.__bench, event.data, { ready_at_ms: performance.now() });
  document.getElementById("state").textContent = event.data.type;
  document.documentElement.dataset.benchState = event.data.type;
};
worker.onerror = (event) => {
  Object.assign(window.__bench, { type: "fatal", message: String(event.message || "worker error") });
  document.documentElement.dataset.benchState = "fatal";
};
