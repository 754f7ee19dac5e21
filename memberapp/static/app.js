// perkflow member app: the little the pages need from a script (they all work without it).
"use strict";
// Installable: the service worker caches the app's shell (style, script, icons, offline page) and nothing else.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
}
// A form marked data-once is sent once: its button is disabled on the first tap. (A claim sent twice anyway carries
// the same Idempotency-Key, and the API claims once.)
document.addEventListener("submit", function (e) {
  var form = e.target;
  if (!form.hasAttribute("data-once")) return;
  if (form.dataset.sent === "1") { e.preventDefault(); return; }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});
