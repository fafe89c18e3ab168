// Bundles on the map: hulls labelled with their volume and number of sites, sites as dots.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  var el = document.getElementById("bundle-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el, { zoomSnap: 0.25 }).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var layer = L.geoJSON(null, {
    style: function () { return { color: "#0b6e4f", weight: 2, fillOpacity: 0.12 }; },
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, { radius: 5, color: "#fff", weight: 1, fillColor: "#e8a200", fillOpacity: 0.95 });
    },
    onEachFeature: function (f, l) {
      var p = f.properties;
      if (p.kind === "bundle") {
        // A small permanent badge with the rank; the full label on hover, as in the table.
        l.bindTooltip(asText(String(p.rank)), { permanent: true, direction: "center", className: "bundle-label" });
        l.bindPopup(asText("#" + p.rank + " · " + p.label + " · " + p.span_m + " m"));
      } else {
        l.bindTooltip(asText("#" + p.rank + " · " + p.label));
      }
    }
  }).addTo(map);
  fetch(el.dataset.source, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    layer.addData(data);
    if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 16, animate: false });
    el.dataset.featuresLoaded = String(data.features.length);
  });
})();
