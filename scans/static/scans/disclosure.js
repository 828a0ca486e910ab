// What folds away on a phone (max-width 48rem, as in kidneyweb.css): the site's menu,
// behind its Menu button, and <details data-fold-narrow> panels such as the filters,
// which the server sends open so that the page works without this script; a panel with
// data-keep-open (filters in use, or in error) stays open.
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 48rem)").matches;
  document.querySelectorAll("details[data-fold-narrow]").forEach(function (details) {
    if (narrow && !details.hasAttribute("data-keep-open")) { details.removeAttribute("open"); }
  });

  var toggle = document.querySelector(".menu-toggle");
  var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!menu) { return; }
  document.documentElement.classList.add("js-menu");
  function show(open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }
  show(false);
  toggle.addEventListener("click", function () {
    show(toggle.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      show(false);
      toggle.focus();
    }
  });
})();
