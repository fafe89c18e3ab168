// Energy hubs: show the fields of the chosen kind of hub; follow a running analysis.
(function () {
  var form = document.querySelector(".hub-form");
  if (form) {
    var parts = form.querySelectorAll(".hub-source");
    var show = function () {
      var chosen = form.querySelector("input[name=source]:checked");
      var value = chosen ? chosen.value : "";
      parts.forEach(function (part) { part.hidden = part.dataset.source !== value; });
      window.dispatchEvent(new Event("resize"));  // a map that was hidden needs its size again
    };
    form.querySelectorAll("input[name=source]").forEach(function (radio) { radio.addEventListener("change", show); });
    show();
  }
  var progress = document.getElementById("hub-progress");
  if (progress) {
    var poll = function () {
      fetch(progress.dataset.statusUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
        if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
        progress.querySelector("progress").value = s.progress;
        progress.querySelector(".stage").textContent = s.stage;
        window.setTimeout(poll, 1500);
      });
    };
    window.setTimeout(poll, 1500);
  }
})();
