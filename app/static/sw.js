/* Regulars' service worker: the app's shell stays available offline, and notifications from
   the app (Web Push: a new text, an alert) are shown and open their conversation.
   Pages always come from the network (they show live texts and customers' numbers, so none is
   ever stored on the phone); without a network the offline page says so. Static files are
   served from the cache and refreshed in the background. */
"use strict";
var VERSION = "regulars-shell-v2";
var SHELL = ["/offline", "/static/app.css", "/static/app.js", "/static/manifest.webmanifest",
             "/static/icons/icon-192.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(VERSION).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== VERSION; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match("/offline"); }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(VERSION).then(function (cache) {
      return cache.match(request).then(function (cached) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        return cached || fresh;
      });
    }));
  }
});

// A push carries {title, body, url, tag} in plain words (app/care/push.py: payload). One
// notification per conversation: a newer one replaces it, and still buzzes.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  var options = { body: data.body || "", icon: "/static/icons/icon-192.png",
                  badge: "/static/icons/icon-192.png", data: { url: conversationUrl(data.url) } };
  if (data.tag) { options.tag = data.tag; options.renotify = true; }
  event.waitUntil(self.registration.showNotification(data.title || "Regulars", options));
});

// Only a page of this app opens from a notification; anything else opens the inbox.
function conversationUrl(url) {
  try {
    var target = new URL(url || "/inbox", self.location.origin);
    if (target.origin === self.location.origin) return target.pathname + target.search;
  } catch (e) { /* not a URL */ }
  return "/inbox";
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var path = conversationUrl(event.notification.data && event.notification.data.url);
  var target = new URL(path, self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true })
    .then(function (windows) {
      var same = windows.filter(function (w) { return w.url === target; })[0];
      if (same) return same.focus(); // that conversation is open already
      var other = windows.filter(function (w) { return "navigate" in w; })[0];
      if (other) {
        return other.focus().then(function (w) { return (w || other).navigate(target); });
      }
      return self.clients.openWindow(target);
    }));
});
