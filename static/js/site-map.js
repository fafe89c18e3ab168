// Place a site on the map when its address is not in the register.
(function () {
  var el = document.getElementById("site-map");
  if (!el || !window.L) return;
  var center = el.dataset.center.split(",").map(Number);
  var latField = document.getElementById(el.dataset.latField);
  var lonField = document.getElementById(el.dataset.lonField);
  var map = L.map(el).setView(center, 13);
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  var marker = null;
  function place(latlng) {
    if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng, { draggable: true }).addTo(map);
    latField.value = latlng.lat.toFixed(6);
    lonField.value = latlng.lng.toFixed(6);
    marker.on("dragend", function () { place(marker.getLatLng()); });
  }
  if (latField.value && lonField.value) place(L.latLng(Number(latField.value), Number(lonField.value)));
  map.on("click", function (e) { place(e.latlng); });
})();
