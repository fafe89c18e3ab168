// A group buy's map: its areas with the participants as aggregates; a member's own sites.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  var el = document.getElementById("campaign-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var layer = L.geoJSON(null, {
    style: function (f) {
      if (f.properties.kind === "own") return { color: "#fff", weight: 2, fillColor: "#f2a900", fillOpacity: 1 };
      return f.properties.suppressed
        ? { color: "#5b6b76", weight: 2, dashArray: "4 4", fillOpacity: 0.05 }
        : { color: "#0b6e4f", weight: 2, fillOpacity: 0.18 };
    },
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, { radius: 7, color: "#fff", weight: 2, fillColor: "#f2a900", fillOpacity: 1 });
    },
    onEachFeature: function (f, l) {
      if (f.properties.kind === "area" && f.properties.badge) {
        // The number of participating members, always on the area; the details on click.
        l.bindTooltip(asText(f.properties.badge), { permanent: true, direction: "center", className: "bundle-label" });
        l.bindPopup(asText(f.properties.text));
      } else {
        l.bindTooltip(asText(f.properties.text), { sticky: f.properties.kind === "area" });
      }
    }
  }).addTo(map);
  fetch(el.dataset.url, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      layer.addData(data);
      if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [16, 16], maxZoom: 15, animate: false });
      el.dataset.featuresLoaded = String(data.features.length);
    });
})();
