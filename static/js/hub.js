// Energy hubs: show the fields of the chosen kind of hub (a running analysis: job-progress.js).
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
})();
