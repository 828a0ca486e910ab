// Every admin page (templates/admin/base_site.html). On a phone an inline's table is
// wider than the screen and scrolls sideways inside its box; a read-only inline holds
// no control to focus, so the box itself takes the focus: arrow keys scroll it.
"use strict";
document.querySelectorAll(".inline-group").forEach((group) => {
  if (group.scrollWidth > group.clientWidth && !group.hasAttribute("tabindex")) {
    group.tabIndex = 0;
  }
});
