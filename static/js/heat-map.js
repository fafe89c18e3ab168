// Candidate heat networks: trench sketches coloured by viability, sources and users as dots.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  var el = document.getElementById("heat-map");
  if (!el || !window.L) return;
  var colours = { good: "#0b6e4f", sufficient: "#e8a200", critical: "#b42318" };
  var map = L.map(el, { zoomSnap: 0.25 }).setView(el.dataset.center.split(",").map(Number), 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var layer = L.geoJSON(null, {
    style: function (f) {
      // Only the trench sketches; the sites keep the style given in pointToLayer.
      return f.properties.kind === "network" ? { color: colours[f.properties.viability], weight: 5, opacity: 0.9 } : {};
    },
    pointToLayer: function (f, latlng) {
      var source = f.properties.kind === "source";
      var inNetwork = f.properties.network_id !== null;
      return L.circleMarker(latlng, { radius: source ? 8 : (inNetwork ? 5 : 4), color: "#fff", weight: 1,
        fillColor: source ? "#c2255c" : (inNetwork ? "#1c7ed6" : "#8a97a0"), fillOpacity: 0.95 });
    },
    onEachFeature: function (f, l) {
      var p = f.properties;
      if (p.kind === "network") {
        // The network's number in the table, always on the map; its density on hover.
        l.bindTooltip(asText(String(p.network_id + 1)), { permanent: true, direction: "center", className: "bundle-label" });
        l.bindPopup(asText("#" + (p.network_id + 1) + " · " + (p.density === null ? "–" : p.density + " MWh/m")));
      }
      else l.bindTooltip(asText(p.name + " · " + p.mwh + " MWh"));
    }
  }).addTo(map);
  fetch(el.dataset.source, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    layer.addData(data);
    // Frame the networks (and their sites); heat users outside every network are context.
    var focus = L.featureGroup(layer.getLayers().filter(function (l) {
      return l.feature.properties.network_id !== null && l.feature.properties.network_id !== undefined;
    }));
    var frame = focus.getLayers().length ? focus : layer;
    if (frame.getLayers().length) map.fitBounds(frame.getBounds(), { padding: [30, 30], animate: false });
    el.dataset.featuresLoaded = String(data.features.length);
  });
})();
