// A fibre demand check's areas coloured by progress (from the check's GeoJSON download).
(function () {
  var el = document.getElementById("fibre-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el).setView(center, 12);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  // Names come from imported and drawn areas: text, never markup (Leaflet parses a string).
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  function colour(p) {
    if (p.hidden) return "#8a99a3";
    return p.passes ? "#0b6e4f" : "#f2a900";
  }
  var layer = L.geoJSON(null, {
    filter: function (f) { return f.properties.kind === "region"; },
    style: function (f) {
      return { color: colour(f.properties), weight: 2, fillOpacity: f.properties.hidden ? 0.08 : 0.3,
               dashArray: f.properties.hidden ? "4 4" : null };
    },
    onEachFeature: function (f, l) {
      var p = f.properties;
      var text = p.name + ": ";
      if (p.hidden) {
        text += el.dataset.labelHidden;
      } else {
        text += p.committed + "/" + p.addresses + " " + el.dataset.labelSigned;
        if (p.percent !== null) text += " (" + String(p.percent).replace(".", ",") + " %)";
        if (p.still_needed !== null) text += ", " + el.dataset.labelNeeded + ": " + p.still_needed;
      }
      l.bindTooltip(asText(text), { sticky: true });
    }
  }).addTo(map);
  fetch(el.dataset.url, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      layer.addData(data);
      if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [12, 12], maxZoom: 15, animate: false });
      el.dataset.featuresLoaded = String(layer.getLayers().length);
    });
})();
