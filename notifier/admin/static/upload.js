// Shows an import file's upload progress. Optional: without it the form
// posts as any form does, only without a progress bar. The form is sent
// with XMLHttpRequest (fetch reports no upload progress) and the page the
// server answers replaces this one's body; the listener is on the
// document, so the new page's upload form is handled too.
(function () {
  "use strict";
  if (!window.FormData || !window.DOMParser) {
    return;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-upload]")) {
      return;
    }
    e.preventDefault();
    var action = (e.submitter && e.submitter.getAttribute("formaction")) || form.getAttribute("action");
    var box = form.querySelector(".upload-progress");
    var bar = box.querySelector("progress");
    var percent = box.querySelector(".upload-percent");
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true; // one upload at a time
    }
    box.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", action);
    xhr.upload.addEventListener("progress", function (p) {
      if (p.lengthComputable) {
        bar.value = Math.floor(p.loaded * 100 / p.total);
        percent.textContent = bar.value + "%";
      }
    });
    xhr.upload.addEventListener("load", function () {
      percent.textContent = "uploaded; checking the file…";
    });
    xhr.addEventListener("load", function () {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      document.title = doc.title;
      document.body.replaceWith(document.importNode(doc.body, true));
      window.scrollTo(0, 0);
    });
    xhr.addEventListener("error", function () {
      percent.textContent = "the upload failed (network); try again";
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = false;
      }
    });
    xhr.send(new FormData(form));
  });
})();
