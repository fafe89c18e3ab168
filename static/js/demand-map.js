// The coordinator's demand map: areas as outlines; sites clustered by the server for the part
// of the map shown (matchmaker.mapgrid), so 50,000 sites never travel at once. A cluster shows
// how many sites it holds (a click zooms in); a lone site is a dot in its product's colour
// whose details are fetched when it is clicked.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  // A failed request is an error on the page (not a map that silently stays empty).
  function json(r) { if (!r.ok) throw new Error(r.url + ": HTTP " + r.status); return r.json(); }
  var el = document.getElementById("demand-map");
  if (!el || !window.L) return;
  var colors = JSON.parse(el.dataset.colors || "{}");
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  if (el.dataset.extent) {
    var e = JSON.parse(el.dataset.extent);  // [south, west, north, east]
    map.fitBounds([[e[0], e[1]], [e[2], e[3]]], { padding: [20, 20], maxZoom: 16, animate: false });
  }
  var areas = L.geoJSON(null, {
    style: function (f) {
      return f.properties.kind === "kring"
        ? { color: "#5b6b76", weight: 1, dashArray: "4 4", fill: false }
        : { color: "#0b6e4f", weight: 2, fillOpacity: 0.06 };
    },
    onEachFeature: function (f, layer) { layer.bindTooltip(asText(f.properties.name)); }
  }).addTo(map);

  function clusterIcon(count) {
    var size = count < 10 ? 28 : count < 100 ? 34 : count < 1000 ? 42 : 50;
    var div = document.createElement("div");
    div.textContent = count >= 10000 ? Math.round(count / 1000) + "k" : String(count);
    return L.divIcon({ html: div, className: "map-cluster", iconSize: [size, size] });
  }
  function detail(layer, id) {
    fetch(el.dataset.site.replace("{id}", id), { credentials: "same-origin" })
      .then(json).then(function (p) {
        var box = document.createElement("div");
        var title = document.createElement("strong");
        title.textContent = p.organisation;
        box.appendChild(title);
        box.appendChild(document.createElement("br"));
        box.appendChild(document.createTextNode(p.address));
        var list = document.createElement("ul");
        p.demand.forEach(function (d) {
          var li = document.createElement("li");
          li.textContent = d.product + ": " + d.quantity + " " + d.unit;
          list.appendChild(li);
        });
        box.appendChild(list);
        // The map's own popup, not the site's: it stays open when the pan that opens it
        // reloads the sites (their layers are replaced on every move).
        L.popup().setLatLng(layer.getLatLng()).setContent(box).openOn(map);
      });
  }
  var sites = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      var p = f.properties;
      if (p.kind === "cluster") {
        return L.marker(latlng, { icon: clusterIcon(p.count), title: el.dataset.labelCluster.replace("{n}", p.count) });
      }
      return L.circleMarker(latlng, { radius: 6, color: "#fff", weight: 1, fillColor: colors[p.tag] || "#555", fillOpacity: 0.9, className: "map-site" });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.on("click", function () {
        if (p.kind === "cluster") map.setView(layer.getLatLng(), Math.min(map.getZoom() + 2, 19));
        else detail(layer, p.id);
      });
    }
  }).addTo(map);
  L.control.layers(null, (function () { var o = {}; o[el.dataset.labelSites] = sites; o[el.dataset.labelAreas] = areas; return o; })()).addTo(map);

  var pending = null;
  function refresh() {
    var b = map.getBounds();
    var url = el.dataset.clusters + (el.dataset.clusters.indexOf("?") < 0 ? "?" : "&") +
      "bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",") +
      "&zoom=" + Math.round(map.getZoom());
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(url, { credentials: "same-origin", signal: pending.signal })
      .then(json).then(function (data) {
        sites.clearLayers();
        sites.addData(data);
        var n = 0;
        data.features.forEach(function (f) { n += f.properties.kind === "cluster" ? f.properties.count : 1; });
        el.dataset.sitesLoaded = String(n);  // how many sites the features stand for
        el.dataset.featuresLoaded = String(data.features.length);
      }).catch(function (err) { if (err.name !== "AbortError") throw err; });
  }
  map.on("moveend", refresh);
  refresh();
  fetch(el.dataset.areas, { credentials: "same-origin" }).then(json).then(function (data) {
    areas.addData(data);
    el.dataset.areasLoaded = String(data.features.length);
  });
})();
