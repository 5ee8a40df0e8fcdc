// nxr web mirror: live refresh and filter-as-you-type. Every page works without this file.
(function () {
  "use strict";
  var mark = null;
  var busy = false;
  var seq = 0;
  var timer = null;
  var stepping = false;
  var leaving = false;

  function parse(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  function replace(doc, selector) {
    var next = doc.querySelector(selector);
    var cur = document.querySelector(selector);
    // Leave an unchanged part alone: replacing it would drop a click or focus in flight.
    if (next && cur && next.outerHTML !== cur.outerHTML) {
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
    if (leaving) {
      return Promise.resolve();
    }
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
    if (stepping || leaving) {
      return Promise.resolve();
    }
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
    if (busy || leaving) {
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

  // /setup: the form starts the run (live=1), then each step is one POST /setup/step whose
  // answer (the page after 303) replaces the live part, so every step shows as it finishes.
  function setupState() {
    var s = document.getElementById("setup");
    return s ? s.getAttribute("data-state") : null;
  }

  function show(text) {
    var doc = parse(text);
    replace(doc, "nav.tabs");
    replace(doc, "#live");
  }

  function send(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) { return r.text(); });
  }

  function runSteps() {
    if (setupState() !== "running") {
      stepping = false;
      return;
    }
    stepping = true;
    var token = document.querySelector("#setup input[name=csrf]");
    var body = new URLSearchParams();
    body.set("csrf", token ? token.value : "");
    send("/setup/step", body)
      .then(function (text) { show(text); runSteps(); })
      .catch(function () { stepping = false; });
  }

  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.id !== "setup-form" && f.id !== "picker-form") {
      // The page is being left for a post: a refresh of this page's URL landing after the
      // post would put back what it changed (reopen the picker it closed).
      leaving = true;
    }
    if (!f || f.id !== "setup-form" || !window.fetch) {
      return;
    }
    e.preventDefault();
    var body = new URLSearchParams(new FormData(f));
    body.set("live", "1");
    stepping = true;
    send(f.getAttribute("action"), body)
      .then(function (text) { show(text); runSteps(); })
      .catch(function () { stepping = false; f.submit(); });
  });

  if (setupState() === "running") {
    runSteps();
  }

  poll();
  setInterval(poll, 500);
})();
