import geopandas as gpd
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.areas import prepare_areas
from geo.errors import ColumnError, CRSError, GeometryError

PARK = box(233000, 556000, 234000, 557000)


def frame(geoms, names=None, crs="EPSG:28992", **columns):
    names = names or [f"Area {i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"name": names, **columns}, geometry=geoms, crs=crs)


def test_valid_polygons_are_kept_in_rd_new():
    result = prepare_areas(frame([PARK, MultiPolygon([box(0, 0, 0, 0).buffer(1) , PARK])]))
    assert list(result["name"]) == ["Area 0", "Area 1"]
    assert result.crs.to_epsg() == 28992


def test_areas_in_wgs84_are_transformed():
    wgs = gpd.GeoSeries([PARK], crs="EPSG:28992").to_crs("EPSG:4326")
    result = prepare_areas(frame(list(wgs), crs="EPSG:4326"))
    assert result.geometry.iloc[0].area == pytest.approx(1_000_000, rel=1e-4)
    assert result.geometry.iloc[0].bounds[0] == pytest.approx(233000, abs=0.5)


def test_missing_crs_is_refused_unless_stated():
    with pytest.raises(CRSError):
        prepare_areas(frame([PARK], crs=None))
    assert len(prepare_areas(frame([PARK], crs=None), assume_crs="EPSG:28992")) == 1


def test_bow_tie_is_refused_with_the_reason():
    bow_tie = Polygon([(233000, 556000), (234000, 557000), (234000, 556000), (233000, 557000)])
    with pytest.raises(GeometryError) as err:
        prepare_areas(frame([PARK, bow_tie], names=["Goed", "Strik"]))
    assert "2 (Strik): invalid polygon, Self-intersection" in str(err.value)


@pytest.mark.parametrize("geom, reason", [
    (Polygon(), "empty geometry"),
    (None, "empty geometry"),
    (Point(233000, 556000), "not a polygon"),
    (box(10, 10, 20, 20), "outside the Netherlands"),
])
def test_unusable_geometries_are_refused(geom, reason):
    with pytest.raises(GeometryError, match=reason):
        prepare_areas(frame([PARK, geom]))


def test_names_must_be_present_and_unique():
    with pytest.raises(GeometryError, match="name appears twice"):
        prepare_areas(frame([PARK, PARK], names=["A", "A"]))
    with pytest.raises(GeometryError, match="no name"):
        prepare_areas(frame([PARK], names=[""]))


def test_name_column_is_found_or_reported():
    f = gpd.GeoDataFrame({"statnaam": ["Buurt 1"]}, geometry=[PARK], crs="EPSG:28992")
    assert prepare_areas(f)["name"].iloc[0] == "Buurt 1"
    with pytest.raises(ColumnError, match="naam_x"):
        prepare_areas(f, name_column="naam_x")


def test_empty_file_is_refused():
    with pytest.raises(GeometryError):
        prepare_areas(frame([]))
