// Keeps the rows of a scan table up to date without a reload (history, worklist, batch).
// The table names the address to poll (data-live-url) and the cells to refresh
// (data-live-cells); each row names its scan (data-scan-id). The server renders the
// cells as the page did, so the text is translated there and not here. A table with
// data-live-every polls at that pace for as long as the page is open (the worklist:
// reviews and new readings by others); any other table polls while one of its rows is
// pending, more slowly as time passes, and stops once all are read.
(function () {
  "use strict";
  var table = document.querySelector("[data-live-url]");
  if (!table) { return; }
  var summary = document.getElementById("live-summary");
  var every = parseInt(table.getAttribute("data-live-every") || "0", 10);
  var delay = every || 1000;

  function rows() { return Array.prototype.slice.call(table.querySelectorAll("[data-scan-id]")); }
  function pending() { return rows().filter(function (row) { return row.getAttribute("data-pending") === "true"; }); }

  function address() {
    var ids = rows().map(function (row) { return row.getAttribute("data-scan-id"); });
    var url = new URL(table.getAttribute("data-live-url"), window.location.href);
    url.searchParams.set("ids", ids.join(","));
    url.searchParams.set("cells", table.getAttribute("data-live-cells"));
    return url.toString();
  }

  function apply(answer) {
    answer.scans.forEach(function (scan) {
      var row = table.querySelector('[data-scan-id="' + scan.id + '"]');
      if (!row) { return; }
      Object.keys(scan.cells).forEach(function (name) {
        var cell = row.querySelector('[data-cell="' + name + '"]');
        if (cell && cell.innerHTML !== scan.cells[name]) { cell.innerHTML = scan.cells[name]; }
      });
      row.setAttribute("data-pending", scan.pending ? "true" : "false");
      row.setAttribute("data-status", scan.status);
    });
    if (summary && summary.textContent !== answer.summary) { summary.textContent = answer.summary; }
  }

  function next(wait) {
    if (every || pending().length) { window.setTimeout(poll, wait); }
  }

  function poll() {
    if (!rows().length) { return; }
    if (document.hidden) { next(delay); return; }  // a background tab asks nothing
    fetch(address(), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        apply(answer);
        delay = every || Math.min(delay * 1.3, 10000);
        next(delay);
      })
      .catch(function () {
        // The server may be restarting: keep trying, less often.
        delay = Math.min(delay * 2, 30000);
        next(delay);
      });
  }
  next(delay);
})();
