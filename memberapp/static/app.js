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
  if (!form.hasAttribute("data-once") || e.defaultPrevented) return;
  if (form.dataset.sent === "1") { e.preventDefault(); return; }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});

(function () {
  // Cash offers (docs/member-app.md): the pages that take a card load Stripe.js and carry the publishable key in
  // <body data-stripe-key>. The card never reaches perkflow: Stripe.js makes a PaymentMethod of it, and the claim form
  // is sent with its id (pm_…) and the form's Idempotency-Key, once.
  var stripeKey = document.body.getAttribute("data-stripe-key");
  var stripe = stripeKey && typeof window.Stripe === "function" ? window.Stripe(stripeKey) : null;

  function show(el, text) {
    if (!el) return;
    if (text !== undefined) el.textContent = text;
    el.hidden = false;
  }

  document.querySelectorAll("form[data-cash]").forEach(function (form) {
    var button = form.querySelector("button[type=submit]");
    if (!stripe) { show(form.querySelector("[data-stripe-missing]")); return; }
    var card = stripe.elements({ locale: document.documentElement.lang }).create("card");
    card.mount(form.querySelector("[data-card-field]"));
    form.querySelector("[data-card-box]").hidden = false;
    button.hidden = false;
    var error = form.querySelector("[data-card-error]");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (form.dataset.busy === "1" || form.dataset.sent === "1") return;
      form.dataset.busy = "1";
      button.disabled = true;
      error.hidden = true;
      stripe.createPaymentMethod({ type: "card", card: card }).then(function (res) {
        if (res.error || !res.paymentMethod) {
          show(error, res.error ? res.error.message : "");
          form.dataset.busy = "";
          button.disabled = false;
          return;
        }
        form.elements.payment_method.value = res.paymentMethod.id;
        form.dataset.sent = "1";
        form.submit();
      });
    });
  });

  // A redemption whose status may still change: ask for its status now and then (never its client_secret or code)
  // and reload the page when it changed, for at most two minutes.
  function poll(el) {
    var tries = 0;
    var tick = function () {
      if (++tries > 80) return;
      fetch(el.getAttribute("data-poll"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (r) {
          if (r && r.status && r.status !== el.getAttribute("data-status")) { location.reload(); return; }
          setTimeout(tick, 1500);
        }, function () { setTimeout(tick, 1500); });
    };
    setTimeout(tick, 1500);
  }

  // 3-D Secure: the bank's check runs in Stripe.js's frame; the outcome reaches perkflow through Stripe's webhook, so
  // the page then waits for the redemption to complete or fail.
  var confirmBox = document.getElementById("confirm");
  if (confirmBox) {
    if (!stripe) {
      show(confirmBox.querySelector("[data-stripe-missing]"));
    } else {
      stripe.handleNextAction({ clientSecret: confirmBox.getAttribute("data-client-secret") }).then(function (res) {
        if (res && res.error) show(confirmBox.querySelector("[data-confirm-error]"), res.error.message);
        poll(confirmBox);
      });
    }
  }
  var waiting = document.getElementById("waiting");
  if (waiting) poll(waiting);
})();
