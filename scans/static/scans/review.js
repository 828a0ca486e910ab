// Keyboard shortcuts on the review page: C confirms (a refusal too), 1-4 give a class, X says
// "not a kidney CT slice", N/P move in the worklist.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT")) { return; }
    var key = event.key.toLowerCase();
    var button = document.querySelector('#review-form button[data-key="' + key + '"]');
    if (button) {
      event.preventDefault();
      button.click();
      return;
    }
    var link = key === "n" ? document.getElementById("next-link")
      : key === "p" ? document.getElementById("previous-link") : null;
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });
})();
