// Bare Pyodide + pydantic: what a naive page does before it could run any pydantic code.
const t0 = performance.now();
const base = new URL("./pyodide/", import.meta.url).href;
try {
  const { loadPyodide } = await import(`${base}pyodide.mjs`);
  const py = await loadPyodide({ indexURL: base, stdout: () => {}, stderr: () => {} });
  const runtime_ms = performance.now() - t0;
  await py.loadPackage(["pydantic"], { messageCallback: () => {} });
  const packages_ms = performance.now() - t0;
  py.runPython("import pydantic\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)\n");
  const total_ms = performance.now() - t0;
  self.postMessage({
    type: "ready",
    timings: { runtime_ms, packages_ms, total_ms, heap_bytes: py._module?.HEAP8?.length ?? null },
  });
} catch (err) {
  self.postMessage({ type: "fatal", message: String(err?.message || err) });
}
