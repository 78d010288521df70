// Progressive enhancement, no dependencies: confirmations, select-all, copy, import progress.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches("[data-select-all]")) {
      document.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (b) { b.checked = box.checked; });
    }
    if (box.matches("[data-autosubmit]")) box.form.submit();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    var text = source.textContent.trim();
    var say = function (label) {  // the visible text changes; a live region tells screen readers
      button.textContent = label;
      var status = document.getElementById("copy-status");
      if (status) status.textContent = label;
    };
    var selectIt = function () {  // no clipboard (plain HTTP): select the text for Ctrl-C
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      say("Selected: press Ctrl-C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say("Copied"); }, selectIt);
    } else {
      selectIt();
    }
  });
  var progress = document.querySelector("[data-progress-url]");
  if (progress) {
    var url = progress.getAttribute("data-progress-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
        progress.querySelector(".progress > div").style.width = data.percent + "%";
        progress.querySelector("[data-progress-text]").textContent =
          data.status_label + ": " + data.processed + " of " + data.total + " rows (" + data.percent + "%)";
        if (data.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 500);
  }
})();
