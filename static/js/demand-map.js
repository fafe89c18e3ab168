// The coordinator's demand map: areas as outlines, sites as dots coloured by product.
(function () {
  // Names come from members and imports: show them as text, never as HTML.
  function asText(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  var el = document.getElementById("demand-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var map = L.map(el).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var areas = L.geoJSON(null, {
    style: function (f) {
      return f.properties.kind === "kring"
        ? { color: "#5b6b76", weight: 1, dashArray: "4 4", fill: false }
        : { color: "#0b6e4f", weight: 2, fillOpacity: 0.06 };
    },
    onEachFeature: function (f, layer) { layer.bindTooltip(asText(f.properties.name)); }
  }).addTo(map);
  var sites = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, { radius: 6, color: "#fff", weight: 1, fillColor: f.properties.color, fillOpacity: 0.9 });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
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
      layer.bindPopup(box);
    }
  }).addTo(map);
  L.control.layers(null, (function () { var o = {}; o[el.dataset.labelSites] = sites; o[el.dataset.labelAreas] = areas; return o; })()).addTo(map);
  function load(url, layer, fit, name) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      layer.addData(data);
      if (fit && layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 15, animate: false });
      el.dataset[name] = String(data.features.length);  // how many features are shown
    });
  }
  load(el.dataset.areas, areas, false, "areasLoaded");
  load(el.dataset.sites, sites, true, "sitesLoaded");
})();
