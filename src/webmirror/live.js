// nxr web mirror: live refresh and filter-as-you-type. Every page works without this file.
(function () {
  "use strict";
  var mark = null;
  var busy = false;
  var seq = 0;
  var timer = null;

  function parse(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  function replace(doc, selector) {
    var next = doc.querySelector(selector);
    var cur = document.querySelector(selector);
    if (next && cur) {
      cur.replaceWith(next);
    }
  }

  function typing() {
    var a = document.activeElement;
    if (!a) {
      return false;
    }
    var t = (a.getAttribute("type") || "").toLowerCase();
    return (a.tagName === "INPUT" && t !== "submit" && t !== "checkbox") ||
      a.tagName === "TEXTAREA" || a.tagName === "SELECT";
  }

  function filter(form) {
    var params = new URLSearchParams(new FormData(form));
    var url = form.getAttribute("action") + "?" + params.toString();
    var mine = ++seq;
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null || mine !== seq) {
          return;
        }
        replace(parse(text), "#picker-results");
        history.replaceState(null, "", url);
        document.body.setAttribute("data-filtered", String(mine));
      });
  }

  function refresh() {
    var form = document.getElementById("picker-form");
    if (typing()) {
      // Keep the field being typed in; refresh what it shows.
      return form ? filter(form) : Promise.resolve();
    }
    return fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) {
          return;
        }
        var doc = parse(text);
        replace(doc, "nav.tabs");
        replace(doc, "#live");
        document.body.setAttribute("data-mark", String(mark));
      });
  }

  function poll() {
    if (busy) {
      return;
    }
    busy = true;
    fetch("/api/changes", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (mark === null) {
          mark = j.mark;
          document.body.setAttribute("data-mark", String(mark));
          return;
        }
        if (j.mark !== mark) {
          mark = j.mark;
          return refresh();
        }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  document.addEventListener("input", function (e) {
    var f = e.target && e.target.form;
    if (f && f.id === "picker-form" && e.target.name === "q") {
      clearTimeout(timer);
      timer = setTimeout(function () { filter(f); }, 120);
    }
  });
  document.addEventListener("change", function (e) {
    var f = e.target && e.target.form;
    if (f && f.id === "picker-form" && e.target.name !== "q") {
      filter(f);
    }
  });

  poll();
  setInterval(poll, 500);
})();
