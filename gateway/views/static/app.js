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

// Live alerts (server-sent events from /app/alerts): the unread count beside "inbox", a
// banner for an urgent message, and a desktop notification where the user allowed it.
// Every text comes from the server, in the user's language.
document.addEventListener("DOMContentLoaded", function () {
  var url = document.body.dataset.alerts;
  if (!url || !window.EventSource) { return; }
  var count = document.getElementById("unread");
  var banner = document.getElementById("alert-banner");
  var link = document.getElementById("alert-link");
  var ask = document.getElementById("notify-enable");
  var canNotify = "Notification" in window;
  function showAsk() {
    if (ask && canNotify && Notification.permission === "default") { ask.hidden = false; }
  }
  if (ask) {
    ask.addEventListener("click", function () {
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }
  document.getElementById("alert-close").addEventListener("click", function () {
    banner.hidden = true;
  });
  function counts(d) {
    count.textContent = d.unread > 0 ? String(d.unread) : "";
    count.hidden = !(d.unread > 0);
    count.classList.toggle("urgent", d.urgent_unread > 0);
  }
  var es = new EventSource(url);
  es.addEventListener("unread", function (ev) { counts(JSON.parse(ev.data)); });
  es.addEventListener("urgent", function (ev) {
    var d = JSON.parse(ev.data);
    counts(d);
    link.textContent = d.text;
    link.href = d.href || "/app/inbox";
    banner.hidden = false;
    showAsk();
    if (canNotify && Notification.permission === "granted") {
      var n = new Notification(d.text, { tag: "blo-urgent" });
      n.onclick = function () { window.focus(); window.location.href = link.href; };
    }
  });
  es.addEventListener("ended", function () { es.close(); });
});

// The print button of a message page (without this script: the browser's own print).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print");
  if (!button || !window.print) { return; }
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
