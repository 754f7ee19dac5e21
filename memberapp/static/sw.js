// perkflow member app's service worker. It caches the shell only — the style sheet, the script, the icons and an
// offline page — and never a page or an answer of the API: points and personal data are never kept by it.
"use strict";
const CACHE = "perkflow-app-shell-v2";
const SHELL = ["/app/static/app.css", "/app/static/app.js", "/app/static/icon.svg", "/app/static/icon-192.png",
  "/app/static/icon-512.png", "/app/static/offline.html"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(e.request)));
    return;
  }
  // Pages go to the network, uncached; offline, the offline page stands in.
  if (e.request.mode === "navigate") {
    e.respondWith(fetch(e.request).catch(() => caches.match("/app/static/offline.html")));
  }
});
