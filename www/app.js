// Proves to a visitor (and to the browser test) that scripts and styles arrived intact:
// it writes what it found into the page.
(function () {
  "use strict";
  var status = document.getElementById("status");
  if (!status) {
    return;
  }
  var styled = getComputedStyle(document.body).maxWidth !== "none";
  var logo = document.querySelector("header img");
  var logoLoaded = logo && logo.complete && logo.naturalWidth > 0;
  function report() {
    logoLoaded = logo && logo.complete && logo.naturalWidth > 0;
    status.textContent =
      "app.js ran · stylesheet " + (styled ? "loaded" : "missing") +
      " · logo " + (logoLoaded ? "loaded (" + logo.naturalWidth + "px)" : "missing");
    status.className = styled && logoLoaded ? "status ok" : "status";
    status.setAttribute("data-ok", styled && logoLoaded ? "yes" : "no");
  }
  if (logo && !logo.complete) {
    logo.addEventListener("load", report);
    logo.addEventListener("error", report);
  }
  report();
})();
