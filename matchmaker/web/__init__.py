"""Helpers shared by the web features: formatting and template filters, form pieces, file
exports, GeoJSON, drawn geometry, object look-ups. Features import from here, never from one
another's views."""
