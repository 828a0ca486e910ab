// Polls a queued or processing scan's status and reloads the page when it is read.
(function () {
  "use strict";
  var reading = document.getElementById("reading");
  if (!reading) { return; }
  var url = reading.getAttribute("data-status-url");
  var label = document.getElementById("scan-status");
  var delay = 1000;

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (status) {
        if (label) {
          label.textContent = status.status_display;
          label.className = "status status-" + status.status;
        }
        if (!status.pending) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.5, 10000);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // The server may be restarting: keep trying, less often.
        delay = Math.min(delay * 2, 30000);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
