// Long work (imports and other jobs): poll the job's status and move the bar; reload the page
// when the job has finished, which then shows its outcome.
(function () {
  var box = document.querySelector("[data-job-status-url]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var count = box.querySelector("[data-job-count]");
  var poll = function () {
    fetch(box.dataset.jobStatusUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
      if (bar) bar.value = s.progress;
      if (count && s.total) count.textContent = new Intl.NumberFormat(document.documentElement.lang).format(s.done) + " / " + new Intl.NumberFormat(document.documentElement.lang).format(s.total);
      window.setTimeout(poll, 1000);
    }).catch(function () { window.setTimeout(poll, 3000); });
  };
  window.setTimeout(poll, 500);
})();
