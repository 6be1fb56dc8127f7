// Gatehouse's service worker: what makes the console installable as an
// app and open without a network. It caches the app shell only (the wasm
// bundle, its JavaScript, the stylesheet, icons, the manifest and an
// offline page; the console pages' lazily loaded chunks once fetched) and
// never API responses or rendered pages, which hold live security data.
// It also shows the console's alert notifications (the page asks it to,
// so they arrive while the window is in the background) and opens an
// alert's page when one is clicked.
const CACHE = "gatehouse-shell-v3";
const SHELL = [
  "/pkg/gatehouse.js",
  "/pkg/gatehouse.wasm",
  "/pkg/gatehouse.css",
  "/icon.svg",
  "/icon-192.png",
  "/icon-512.png",
  "/favicon.ico",
  "/manifest.webmanifest",
  "/offline.html",
  "/offline.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return; // the network, untouched
  }
  if (SHELL.includes(url.pathname) || url.pathname.startsWith("/pkg/")) {
    // Network first, so a new release is picked up at once; the cached
    // copy only when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request)),
    );
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline.html")));
  }
});

// A click on an alert's notification opens its page in the app window:
// an open console window goes there, else a new one opens.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const wanted = (event.notification.data && event.notification.data.url) || "/console/alerts";
  const url = new URL(wanted, self.location.origin);
  if (url.origin !== self.location.origin) {
    return;
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const console = windows.find((client) => new URL(client.url).pathname.startsWith("/console"));
      if (console && "navigate" in console) {
        // Focusing needs the user's click; navigating does not.
        return console.navigate(url.href).then((client) => client && client.focus().catch(() => client));
      }
      return self.clients.openWindow(url.href);
    }),
  );
});
