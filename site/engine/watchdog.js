/* Engine watchdog: notices a worker that stopped answering and checks every reply before the UI sees it.
 *
 * The engine runs in Pyodide inside a Web Worker; a Python call that runs away (a pathological input) cannot be
 * interrupted from inside. engine-client.js therefore terminates the worker and starts a fresh one when
 * Watchdog says it hung, and treats a reply that is not the engine's JSON as a crash.
 *
 *   const dog = new Watchdog({ timeoutMs, busyAfterMs, onHang, onBusy });
 *   dog.update(outstanding, active)   after every send / reply / state change: the number of calls the worker
 *                                     owes and whether it is up (timing only runs while it is); each call restarts
 *                                     the clock (the worker answers in order, so the clock measures one call)
 *   dog.stop()                        forget everything (worker terminated)
 *   checkReply(text)                  -> {ok: true, reply} | {ok: false, kind: "non_finite" | "malformed", detail}
 */

export class Watchdog {
  constructor({ timeoutMs, busyAfterMs, onHang, onBusy }) {
    this.timeoutMs = timeoutMs;
    this.busyAfterMs = busyAfterMs;
    this.onHang = onHang;
    this.onBusy = onBusy || (() => {});
    this.hangTimer = null;
    this.busyTimer = null;
    this.busy = false;
  }

  setBusy(busy) {
    if (busy === this.busy) return;
    this.busy = busy;
    this.onBusy(busy);
  }

  stop() {
    clearTimeout(this.hangTimer);
    clearTimeout(this.busyTimer);
    this.hangTimer = this.busyTimer = null;
    this.setBusy(false);
  }

  /** Re-arm for the next outstanding call (or disarm when there is none or the worker is not up). */
  update(outstanding, active) {
    this.stop();
    if (!active || outstanding <= 0) return;
    this.busyTimer = setTimeout(() => this.setBusy(true), this.busyAfterMs);
    this.hangTimer = setTimeout(() => {
      this.hangTimer = null;
      this.onHang();
    }, this.timeoutMs);
  }
}

// Python's json.dumps writes bare Infinity / -Infinity / NaN (allow_nan=True), which JSON.parse rejects. Only
// these tokens outside strings: a string value that merely contains the word is not the problem.
const NON_FINITE = /(?:^|[[:,\s])-?(?:Infinity|NaN)(?=\s*[\],}]|\s*$)/;

function stripStrings(text) {
  return text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** Check a raw reply from the worker: the engine's JSON envelope {"ok": true, "result": …} or
 * {"ok": false, "error": {…}}, nothing else. */
export function checkReply(text) {
  if (typeof text !== "string") return { ok: false, kind: "malformed", detail: `a ${typeof text}, not text` };
  let reply;
  try {
    reply = JSON.parse(text);
  } catch (err) {
    if (NON_FINITE.test(stripStrings(text))) {
      return { ok: false, kind: "non_finite", detail: "Infinity or NaN in the reply" };
    }
    return { ok: false, kind: "malformed", detail: `not JSON (${err.message})` };
  }
  if (!reply || typeof reply !== "object" || Array.isArray(reply) || typeof reply.ok !== "boolean") {
    return { ok: false, kind: "malformed", detail: "not the engine's reply envelope" };
  }
  if (reply.ok && !("result" in reply)) return { ok: false, kind: "malformed", detail: "a success without a result" };
  if (!reply.ok && (!reply.error || typeof reply.error !== "object")) {
    return { ok: false, kind: "malformed", detail: "a failure without an error" };
  }
  return { ok: true, reply };
}
