// Long work (matching runs, hub analyses, imports and other jobs): poll the job's status, move
// the bar, the count and the stage, and reload the page when the job has finished, which then
// shows its outcome. The box: [data-job-status-url] holding a <progress>, and optionally
// [data-job-count] and [data-job-stage].
(function () {
  var box = document.querySelector("[data-job-status-url]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var count = box.querySelector("[data-job-count]");
  var stage = box.querySelector("[data-job-stage]");
  var number = function (n) { return new Intl.NumberFormat(document.documentElement.lang).format(n); };
  var poll = function () {
    fetch(box.dataset.jobStatusUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
      if (bar) bar.value = s.progress;
      if (count && s.total) count.textContent = number(s.done) + " / " + number(s.total);
      if (stage && s.stage) stage.textContent = s.stage;
      window.setTimeout(poll, 1000);
    }).catch(function () { window.setTimeout(poll, 3000); });
  };
  window.setTimeout(poll, 500);
})();
