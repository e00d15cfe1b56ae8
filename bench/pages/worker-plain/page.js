// The shipped engine client (plain module worker), no UI: engine ready = info answered.
window.__bench = { started_at_ms: performance.now() };
const done = (data) => {
  Object.assign(window.__bench, data, { ready_at_ms: performance.now() });
  document.documentElement.dataset.benchState = data.type;
};
try {
  const { engine } = await import("../../engine/engine-client.js");
  await engine.ready;
  await engine.call("info", {});
  done({ type: "ready", timings: engine.stats.timings });
} catch (err) {
  done({ type: "fatal", message: String(err?.message || err) });
}
