// Draw an area for a group buy: click to add corners; the polygon goes into a hidden field
// as GeoJSON (WGS84). Existing areas are shown for orientation.
(function () {
  var el = document.getElementById("draw-map");
  if (!el || !window.L) return;
  var input = document.getElementsByName(el.dataset.input)[0];
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el, { doubleClickZoom: false }).setView(center, 12);  // clicks add corners
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  fetch(el.dataset.areas, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var outlines = L.geoJSON(data, {
        style: function (f) {
          return f.properties.kind === "kring"
            ? { color: "#5b6b76", weight: 1, dashArray: "4 4", fill: false, interactive: false }
            : { color: "#0b6e4f", weight: 1, fillOpacity: 0.04, interactive: false };
        }
      }).addTo(map);
      if (!shape && outlines.getLayers().length) map.fitBounds(outlines.getBounds(), { padding: [10, 10], animate: false });
      el.dataset.areasLoaded = String(data.features.length);
    });
  var points = [];
  var shape = null;
  function load() {
    if (!input || !input.value) return;
    try {
      var g = JSON.parse(input.value);
      g = g.geometry || g;
      if (g.type === "Polygon") {
        points = g.coordinates[0].slice(0, -1).map(function (c) { return L.latLng(c[1], c[0]); });
      }
    } catch (e) { points = []; }
  }
  function redraw() {
    if (shape) { map.removeLayer(shape); shape = null; }
    if (points.length >= 3) {
      shape = L.polygon(points, { color: "#f2a900", weight: 3 }).addTo(map);
    } else if (points.length) {
      shape = L.polyline(points, { color: "#f2a900", weight: 3 }).addTo(map);
    }
    if (!input) return;
    if (points.length >= 3) {
      var ring = points.map(function (p) { return [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))]; });
      ring.push(ring[0]);
      input.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    } else {
      input.value = "";
    }
  }
  map.on("click", function (e) { points.push(e.latlng); redraw(); });
  var undo = document.getElementById("draw-undo");
  var clear = document.getElementById("draw-clear");
  if (undo) undo.addEventListener("click", function () { points.pop(); redraw(); });
  if (clear) clear.addEventListener("click", function () { points = []; redraw(); });
  load();
  redraw();
  if (shape) map.fitBounds(shape.getBounds(), { padding: [20, 20], animate: false });
})();
