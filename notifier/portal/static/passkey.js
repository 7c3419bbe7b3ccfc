// Passkey ceremonies of the portal's second factor: asks the browser to
// create (enrolment) or use (verification) a passkey and posts the answer,
// with the page's form token, to the server, which checks everything.
// Served from the binary; the only script of the portal, and only on the
// pages that offer a passkey.
(function () {
  "use strict";
  var box = document.getElementById("passkey");
  if (!box || !window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  box.hidden = false;
  function dec(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), a = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { a[i] = bin.charCodeAt(i); }
    return a.buffer;
  }
  function enc(buf) {
    var a = new Uint8Array(buf), s = "";
    for (var i = 0; i < a.length; i++) { s += String.fromCharCode(a[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, fields) {
    return fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }
  var status = document.getElementById("passkey-status");
  document.getElementById("passkey-button").addEventListener("click", function () {
    var create = box.dataset.mode === "create", csrf = box.dataset.csrf;
    status.textContent = "";
    post(box.dataset.options, { csrf: csrf }).then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = dec(pk.challenge);
      if (create) {
        pk.user.id = dec(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = dec(c.id); });
        return navigator.credentials.create({ publicKey: pk });
      }
      (pk.allowCredentials || []).forEach(function (c) { c.id = dec(c.id); });
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      var out = { id: cred.id, rawId: enc(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
        response: { clientDataJSON: enc(r.clientDataJSON) } };
      if (create) {
        out.response.attestationObject = enc(r.attestationObject);
        if (r.getTransports) { out.response.transports = r.getTransports(); }
      } else {
        out.response.authenticatorData = enc(r.authenticatorData);
        out.response.signature = enc(r.signature);
        if (r.userHandle) { out.response.userHandle = enc(r.userHandle); }
      }
      return post(box.dataset.finish, { csrf: csrf, next: box.dataset.next, response: JSON.stringify(out) });
    }).then(function (res) {
      window.location.assign(res.next);
    }).catch(function () {
      status.textContent = box.dataset.failed;
    });
  });
})();
