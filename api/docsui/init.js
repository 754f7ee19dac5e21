// Renders /openapi.yaml with Redoc (vendored at a pinned version, served by the API itself: no CDN). Redoc's
// styles carry the nonce of this page's Content-Security-Policy, which the page gives this script.
(function () {
  var nonce = document.currentScript.nonce;
  var el = document.getElementById("redoc");
  if (typeof Redoc === "undefined") {
    return; // the page says why: the renderer is not bundled in this build
  }
  Redoc.init("/openapi.yaml", {
    nonce: nonce,
    hideDownloadButton: false,
    expandResponses: "200,201",
    pathInMiddlePanel: true,
    sortTagsAlphabetically: false,
  }, el);
})();
