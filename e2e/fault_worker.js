// Test-only fault injection for the engine worker, installed with Playwright's add_init_script (never shipped:
// the production page has no hook for it). The page's `Worker` is replaced by one that starts the real
// engine-worker.mjs inside a small blob: wrapper; calls whose JSON payload contains a marker misbehave:
//   window.__faults = { hang: "777777" }     the worker thread really hangs (busy loop) on that call
//   window.__faults = { garble: "…" }        its reply is cut off (not JSON)
//   window.__faults = { crash: "…" }         the worker reports a crash, with a Python traceback as the message
//   window.__faults = { inf: "…" }           its reply contains a bare Infinity (Python's json.dumps default)
// The wrapper buffers messages until the real worker module has registered its listener, so nothing is lost.
(() => {
  const RealWorker = window.Worker;
  window.__faults = window.__faults || {};
  window.__workers = { started: 0, terminated: 0 };
  const wrapperSource = (realUrl, faults) => `
    const FAULTS = ${JSON.stringify(faults)};
    const hit = (m, kind) => FAULTS[kind] && m && m.type === "call" && typeof m.payload === "string" && m.payload.includes(FAULTS[kind]);
    const handlers = [];
    const buffered = [];
    const realAdd = self.addEventListener.bind(self);
    const realPost = self.postMessage.bind(self);
    const rewrite = new Map();
    self.addEventListener = (type, fn, opts) => (type === "message" ? handlers.push(fn) : realAdd(type, fn, opts));
    self.postMessage = (msg) => {
      const kind = msg && msg.type === "reply" ? rewrite.get(msg.id) : undefined;
      if (kind === "garble") msg = { ...msg, reply: msg.reply.slice(0, 25) };
      if (kind === "inf") msg = { ...msg, reply: '{"ok": true, "result": {"estimate": {"total_bytes": Infinity}}}' };
      if (kind === "crash") {
        msg = { type: "crash", id: msg.id, message: "Traceback (most recent call last):\\n  File \\"<exec>\\", line 1\\nMemoryError", stack: "" };
      }
      realPost(msg);
    };
    realAdd("message", (event) => {
      const m = event.data;
      if (hit(m, "hang")) {
        const t0 = Date.now();
        while (Date.now() - t0 < 600000) {} // a call that never returns (until terminate())
      }
      for (const kind of ["garble", "inf", "crash"]) if (hit(m, kind)) rewrite.set(m.id, kind);
      if (handlers.length) for (const h of handlers) h(event);
      else buffered.push(event);
    });
    import(${JSON.stringify(realUrl)}).then(() => {
      for (const e of buffered.splice(0)) for (const h of handlers) h(e);
    });
  `;
  function FaultyWorker(url, options) {
    const href = new URL(String(url), location.href).href;
    if (!/engine-worker\.mjs$/.test(new URL(href).pathname)) return new RealWorker(url, options);
    const blob = new Blob([wrapperSource(href, window.__faults)], { type: "text/javascript" });
    const worker = new RealWorker(URL.createObjectURL(blob), options);
    window.__workers.started += 1;
    const terminate = worker.terminate.bind(worker);
    worker.terminate = () => {
      window.__workers.terminated += 1;
      terminate();
    };
    return worker;
  }
  FaultyWorker.prototype = RealWorker.prototype;
  window.Worker = FaultyWorker;
})();
