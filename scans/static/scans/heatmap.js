// Heatmap overlay on the result and review pages (templates/scans/_heatmap_overlay.html):
// a toggle and an opacity slider; on the result page, while the heatmap is still being
// computed, poll the status and reload once it is there.
(function () {
  "use strict";
  var heatmap = document.getElementById("heatmap");
  var toggle = document.getElementById("heatmap-toggle");
  var opacity = document.getElementById("heatmap-opacity");
  function update() {
    heatmap.style.opacity = toggle.checked ? opacity.value / 100 : 0;
  }
  if (heatmap && toggle && opacity) {
    toggle.addEventListener("change", update);
    opacity.addEventListener("input", update);
    update();
  }
  var pending = document.getElementById("heatmap-pending");
  if (!pending) { return; }
  var tries = 0;
  function poll() {
    fetch(pending.getAttribute("data-status-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.heatmap) { window.location.reload(); return; }
        if (++tries < 30) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { if (++tries < 30) { window.setTimeout(poll, 4000); } });
  }
  window.setTimeout(poll, 1500);
})();
