// Bundles on the map: the hulls of bundles of two or more sites, labelled with their number in
// the table; the sites themselves clustered by the server for the part of the map shown (the
// demand map's endpoint), a site's details fetched when it is clicked.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  // A failed request is an error on the page (not a map that silently stays empty).
  function json(r) { if (!r.ok) throw new Error(r.url + ": HTTP " + r.status); return r.json(); }
  var el = document.getElementById("bundle-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el, { zoomSnap: 0.25 }).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  if (el.dataset.extent) {
    var e = JSON.parse(el.dataset.extent);  // [south, west, north, east]
    map.fitBounds([[e[0], e[1]], [e[2], e[3]]], { padding: [20, 20], maxZoom: 16, animate: false });
  }
  var hulls = L.geoJSON(null, {
    style: function () { return { color: "#0b6e4f", weight: 2, fillOpacity: 0.12 }; },
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 8, color: "#0b6e4f", weight: 2, fillOpacity: 0.12 }); },
    onEachFeature: function (f, l) {
      var p = f.properties;
      // A small permanent badge with the number; the full label on click, as in the table.
      l.bindTooltip(asText(String(p.rank)), { permanent: true, direction: "center", className: "bundle-label" });
      l.bindPopup(asText("#" + p.rank + " · " + p.label + " · " + p.span_m + " m"));
    }
  }).addTo(map);
  function clusterIcon(count) {
    var size = count < 10 ? 26 : count < 100 ? 32 : 40;
    var div = document.createElement("div");
    div.textContent = count >= 10000 ? Math.round(count / 1000) + "k" : String(count);
    return L.divIcon({ html: div, className: "map-cluster", iconSize: [size, size] });
  }
  var sites = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      var p = f.properties;
      if (p.kind === "cluster") return L.marker(latlng, { icon: clusterIcon(p.count), title: el.dataset.labelCluster.replace("{n}", p.count) });
      return L.circleMarker(latlng, { radius: 5, color: "#fff", weight: 1, fillColor: "#e8a200", fillOpacity: 0.95, className: "map-site" });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.on("click", function () {
        if (p.kind === "cluster") { map.setView(layer.getLatLng(), Math.min(map.getZoom() + 2, 19)); return; }
        fetch(el.dataset.site.replace("{id}", p.id), { credentials: "same-origin" })
          .then(json).then(function (d) {
            var text = d.organisation + " · " + d.address + " · " + d.demand.map(function (x) { return x.product + ": " + x.quantity + " " + x.unit; }).join(", ");
            // The map's own popup: it stays open when the pan that opens it reloads the sites.
            L.popup().setLatLng(layer.getLatLng()).setContent(asText(text)).openOn(map);
          });
      });
    }
  }).addTo(map);
  var pending = null;
  function refresh() {
    var b = map.getBounds();
    var url = el.dataset.sites + (el.dataset.sites.indexOf("?") < 0 ? "?" : "&") + "bbox=" +
      [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",") +
      "&zoom=" + Math.round(map.getZoom());
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(url, { credentials: "same-origin", signal: pending.signal }).then(json).then(function (data) {
      sites.clearLayers();
      sites.addData(data);
      el.dataset.sitesLoaded = String(data.features.length);
    }).catch(function (err) { if (err.name !== "AbortError") throw err; });
  }
  map.on("moveend", refresh);
  refresh();
  fetch(el.dataset.source, { credentials: "same-origin" }).then(json).then(function (data) {
    hulls.addData(data);
    el.dataset.featuresLoaded = String(data.features.length);
  });
})();
