// Progressive enhancement only: every page works without this file.
// Keeps the position when a repeated item is added or removed (the form is re-rendered
// by the server), and asks before leaving a compose form with typed values.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.compose");
  if (!form) { return; }
  var key = "blo-scroll";
  var y = sessionStorage.getItem(key);
  if (y !== null) { window.scrollTo(0, parseInt(y, 10)); sessionStorage.removeItem(key); }
  form.addEventListener("submit", function (ev) {
    var b = ev.submitter;
    if (b && (b.name === "_add" || b.name === "_remove")) {
      sessionStorage.setItem(key, String(window.scrollY));
    }
  });
});
