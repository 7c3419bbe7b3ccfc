// Refreshes the parts of a dashboard page marked data-live every few
// seconds (main[data-refresh]), so wave progress moves without reloading
// the page. Optional: without it the page is the same, only static, with
// a <noscript> refresh instead. A part holding the keyboard focus is left
// alone, so a button is never pulled from under the user.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = Math.max(2, Number(main.getAttribute("data-refresh")) || 5) * 1000;

  function update(doc) {
    var parts = document.querySelectorAll("[data-live][id]");
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      var fresh = doc.getElementById(part.id);
      if (fresh && part.isConnected && !part.contains(document.activeElement)) {
        part.replaceWith(document.importNode(fresh, true));
      }
    }
  }

  function tick() {
    fetch(location.href, { credentials: "same-origin", cache: "no-store", redirect: "follow", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected) {
          // The session ended: show the sign-in page it leads to.
          location.reload();
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          setTimeout(tick, every);
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        update(doc);
        // Nothing on the page moves any more: stop asking.
        if (doc.querySelector("main[data-refresh]")) {
          setTimeout(tick, every);
        }
      })
      .catch(function () {
        setTimeout(tick, every); // offline for a moment: try again
      });
  }
  setTimeout(tick, every);
})();
