/* VRAM Insight service worker. build.py renders this template into sw.js: __CACHE_VERSION__ becomes a hash of
 * every precached byte (the build id, also stamped into index.html's <meta name="vram-build">), __PRECACHE__ the
 * list of precached paths (relative to this file, so the site works under any sub-path).
 *
 * One version per page: every asset of a build (the page, app code, CSS, i18n JSON, the Pyodide runtime, the
 * wheels) is served from that build's cache "vram-insight-<version>", so a page never mixes two deploys.
 * - install: precache everything into the new version's cache, in the background, while the old version keeps
 *   serving open pages. Versioned vendor files are copied from an older cache when present (else taken from the
 *   HTTP cache); everything else is revalidated with the server so a new version never captures a stale file
 *   (GitHub Pages sends max-age=600 for everything). The new worker then WAITS: no skipWaiting here.
 * - message {type: "SKIP_WAITING"}: sent by the page when the user accepts "reload to update"
 *   (site/app/sw-update.js); the new worker activates and every open page reloads into the new version.
 * - message {type: "VERSION"}: answers {type: "VERSION", version} so a page can check it runs the same build.
 * - activate: delete every other "vram-insight-*" cache, take control of open pages;
 * - fetch: same-origin GETs only (cross-origin requests, e.g. the explicit Hugging Face config fetch, are never
 *   touched or cached). Precached files: from this version's cache. Navigations to a precached page (the app as
 *   "./", the engine console as "console/"): the cached page, so each works offline even if it was never visited
 *   online. Other pages (static model pages): network first, cached copy offline, else the app.
 */
const VERSION = "__CACHE_VERSION__";
const PREFIX = "vram-insight-";
const CACHE = `${PREFIX}${VERSION}`;
const PAGES = `${PREFIX}pages-${VERSION}`;
const PRECACHE = __PRECACHE__;

const SCOPE = new URL("./", self.location.href).href;
const APP = SCOPE; // the app page is precached as "./"
const PRECACHED = new Set(PRECACHE.map((p) => new URL(p, SCOPE).href));

// Files under vendor/ sit in release-named folders and never change under the same URL, except our own lock
// file and engine wheel, which every build rewrites.
const isImmutable = (path) =>
  path.startsWith("vendor/") && !/(^|\/)(pyodide-lock\.json|vram_insight-[^/]*)$/.test(path);

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const fetched = [];
      for (const p of PRECACHE) {
        const href = new URL(p, SCOPE).href;
        // A release-named vendor file already cached by an earlier version is the same bytes: reuse it.
        const old = isImmutable(p) ? await caches.match(href) : undefined;
        if (old) await cache.put(href, old);
        else fetched.push(new Request(href, { cache: isImmutable(p) ? "default" : "no-cache" }));
      }
      await cache.addAll(fetched);
    })(),
  );
});

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "SKIP_WAITING") self.skipWaiting();
  else if (type === "VERSION") {
    const answer = { type: "VERSION", version: VERSION };
    if (event.ports && event.ports[0]) event.ports[0].postMessage(answer);
    else event.source?.postMessage(answer);
  }
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith(PREFIX) && key !== CACHE && key !== PAGES) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

const appPage = async () => (await caches.open(CACHE)).match(APP);

// A navigation's page in the precache: "console/" and "console/index.html" are the precached "console/".
function precachedPage(path) {
  const dir = path === "" || path.endsWith("/") ? path : path.endsWith("/index.html") ? path.slice(0, -10) : null;
  if (dir === null) return null;
  const href = new URL(dir || "./", SCOPE).href;
  return PRECACHED.has(href) ? href : null;
}

async function cacheFirst(request, href) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(href);
  if (hit) return hit;
  return fetch(request);
}

async function networkFirstPage(request) {
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    const app = await appPage();
    if (app) return app;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.href.startsWith(SCOPE)) return; // never cross-origin
  const href = url.origin + url.pathname;
  const path = href.slice(SCOPE.length);

  if (path === "sw.js" || path === "health.json") return; // always from the network

  if (request.mode === "navigate") {
    const page = path === "index.html" ? APP : precachedPage(path);
    if (page) {
      event.respondWith(
        (async () => {
          const hit = await (await caches.open(CACHE)).match(page);
          if (hit) return hit;
          return fetch(request);
        })(),
      );
    } else {
      event.respondWith(networkFirstPage(request));
    }
    return;
  }

  if (PRECACHED.has(href)) {
    event.respondWith(cacheFirst(request, href));
  }
});
