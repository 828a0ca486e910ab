// Sizes and shades the server computes travel as data attributes and are applied
// here: the Content-Security-Policy allows no inline style attribute (setting a
// property through the DOM is allowed), and no inline script or handler.
"use strict";
document.querySelectorAll("[data-width]").forEach(function (element) {
  element.style.width = element.dataset.width;
});
document.querySelectorAll("[data-shade]").forEach(function (element) {
  element.style.setProperty("--shade", element.dataset.shade);
});
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
