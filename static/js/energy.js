// Matching runs: draw the matches (width by kWh); a running job: job-progress.js.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  var el = document.getElementById("energy-map");
  if (!el || !window.L) return;
  var map = L.map(el, { zoomSnap: 0.25 }).setView(el.dataset.center.split(",").map(Number), 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var layer = L.geoJSON(null, {
    style: function (f) { return { color: "#e8a200", weight: f.properties.weight, opacity: 0.85 }; },
    onEachFeature: function (f, l) {
      var p = f.properties;
      l.bindTooltip(asText(p.producer + " → " + p.consumer + ": " + p.kwh + " kWh · " + p.distance_m + " m"));
    }
  }).addTo(map);
  fetch(el.dataset.source, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    layer.addData(data);
    if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [20, 20], animate: false });
    el.dataset.featuresLoaded = String(data.features.length);
  });
})();
