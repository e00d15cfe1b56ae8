// Service-worker updates, one version per page (site/pwa/sw.template.js serves each build from its own cache).
//
// A new deploy installs in the background and waits; this module then shows "A new version is ready" with a
// button that activates it (SKIP_WAITING) — every open page of the app then reloads into the new version, so no
// page ever runs old code against new files (or the reverse). A page also checks that the service worker
// controlling it serves its own build (<meta name="vram-build">, stamped by build.py); when it does not (a first
// visit that raced a deploy, another tab that activated an update) it reloads once into the controller's version.
import { $, h } from "./dom.js";
import { t } from "./i18n.js";

const UPDATE_CHECK_MS = 60 * 60 * 1000; // also checked on every navigation and when the tab becomes visible
const VERSION_TIMEOUT_MS = 3000;
const RELOADED_KEY = "vram-insight:reloaded-for"; // sessionStorage: at most one automatic reload per version

export const pageBuild = () => document.querySelector('meta[name="vram-build"]')?.content || "";

/** The build the controlling service worker serves, or null (no controller, no answer). */
export function controllerVersion(sw = navigator.serviceWorker) {
  const ctl = sw && sw.controller;
  if (!ctl) return Promise.resolve(null);
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), VERSION_TIMEOUT_MS);
    channel.port1.onmessage = (ev) => {
      clearTimeout(timer);
      resolve(ev.data && typeof ev.data.version === "string" ? ev.data.version : null);
    };
    ctl.postMessage({ type: "VERSION" }, [channel.port2]);
  });
}

function reloadOnce(version) {
  let done = null;
  try {
    done = sessionStorage.getItem(RELOADED_KEY);
    sessionStorage.setItem(RELOADED_KEY, version);
  } catch {
    /* no session storage: still reload, the version check below stops a loop */
  }
  if (done === version) return false; // already reloaded for it: do not loop
  location.reload();
  return true;
}

function showNotice(onAccept) {
  const box = $("#notices");
  if (!box || $("[data-testid='notice-update']", box)) return;
  const el = h(
    "div.notice.notice-ok",
    { testid: "notice-update", role: "status" },
    h("span", { "data-i18n": "n.update_ready", text: t("n.update_ready") }),
    h("button.btn.small.primary", {
      type: "button",
      testid: "update-reload",
      "data-i18n": "act.update",
      text: t("act.update"),
      onclick: onAccept,
    }),
  );
  box.append(el);
}

/** Watch for a waiting new version and keep this page on one version. Safe to call once at startup. */
export async function watchForUpdates() {
  const sw = navigator.serviceWorker;
  const build = pageBuild();
  if (!sw || !build || build === "dev") return;
  let accepted = false; // the user asked for the update in this page
  let reloading = false;

  // Another version took control (the user accepted an update here or in another tab, or a first install
  // claimed a page that came from the network): reload unless the new controller serves this very build.
  sw.addEventListener("controllerchange", async () => {
    if (reloading) return;
    if (accepted) {
      reloading = true;
      location.reload();
      return;
    }
    const version = await controllerVersion(sw);
    if (version && version !== build) reloading = reloadOnce(version);
  });

  const version = await controllerVersion(sw);
  if (version && version !== build && reloadOnce(version)) return;

  const reg = await sw.ready;
  const offer = (worker) => {
    // Only an update: on a first install there is no controller and nothing to replace.
    if (!worker || !sw.controller) return;
    showNotice(() => {
      accepted = true; // controllerchange follows: this page and every other open one reload
      worker.postMessage({ type: "SKIP_WAITING" });
    });
  };
  if (reg.waiting) offer(reg.waiting);
  reg.addEventListener("updatefound", () => {
    const worker = reg.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed") offer(worker);
    });
  });
  const check = () => reg.update().catch(() => {});
  setInterval(check, UPDATE_CHECK_MS);
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && check());
}
