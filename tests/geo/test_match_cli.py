"""``matchmaker match`` on files the test writes: flows CSV, totals, one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from matchmaker.energy.cli import match_command

X0, Y0 = 233_000, 556_000


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("MATCHMAKER_LANG", "en")
    return CliRunner()


def write(path, text):
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path):
    producers = write(tmp_path / "producers.csv", f"""
id,x,y,surplus_kwh
007,{X0},{Y0},10000
008,{X0 + 500},{Y0},10000
""")
    consumers = write(tmp_path / "consumers.csv", f"""
id,x,y,demand_kwh
0100,{X0},{Y0 + 100},10000
0200,{X0},{Y0 - 900},10000
0300,{X0 + 9000},{Y0},500
""")
    return producers, consumers, tmp_path


def run(runner, *args):
    return runner.invoke(match_command, [str(a) for a in args])


REPORTS = {
    "en": ["Matched: 20,000.0 kWh per year in 2 pairs (annual).",
           "Surplus used: 100.0% of 20,000.0 kWh.",
           "Demand covered: 97.6% of 20,500.0 kWh.",
           "Certificate: proven optimal by the exact duality certificate on 1 of 1 steps",
           "matched 20,000.000 kWh = cut 20,000.000 kWh"],
    # Dutch by default, numbers written the Dutch way.
    None: ["Gekoppeld: 20.000,0 kWh per jaar in 2 paren (annual).",
           "Overschot benut: 100,0% van 20.000,0 kWh.",
           "Vraag gedekt: 97,6% van 20.500,0 kWh.",
           "Certificaat: bewezen optimaal door het exacte dualiteitscertificaat op 1 van 1 stappen",
           "gekoppeld 20.000,000 kWh = snede 20.000,000 kWh"],
}


@pytest.mark.parametrize("lang", list(REPORTS))
def test_annual_match_writes_flows_and_prints_totals(runner, files, monkeypatch, lang):
    if lang is None:
        monkeypatch.delenv("MATCHMAKER_LANG")
    producers, consumers, tmp = files
    out = tmp / "flows.csv"
    result = run(runner, producers, consumers, "--max-distance-m", 1000, "--output", out)
    assert result.exit_code == 0, result.output
    flows = pd.read_csv(out, dtype={"producer_id": str, "consumer_id": str})
    assert list(flows.columns) == ["producer_id", "consumer_id", "kwh", "distance_m"]
    assert flows.values.tolist() == [["007", "0200", 10000.0, 900.0],
                                     ["008", "0100", 10000.0, 509.9]]
    lines = result.stdout.splitlines()
    matched, surplus, demand, verdict, certified = REPORTS[lang]
    assert lines[:3] == [matched, surplus, demand]
    assert lines[4].startswith(verdict) and certified in lines[4]
    assert result.stderr == ""


def test_default_distance_and_no_certificate(runner, files):
    producers, consumers, tmp = files
    result = run(runner, producers, consumers, "-o", tmp / "f.csv", "--no-certify")
    assert result.exit_code == 0, result.output
    assert "Certificate: not checked." in result.stdout


def test_typical_day_uses_pv_and_category_profiles(runner, tmp_path):
    producers = write(tmp_path / "p.csv", f"""
id;x;y;surplus_kwh
a;{X0};{Y0};8750
""")
    consumers = write(tmp_path / "c.csv", f"""
id,x,y,demand_kwh,category
night,{X0 + 10},{Y0},100000,g3
office,{X0 + 20},{Y0},1000,G1
""")
    out = tmp_path / "flows.csv"
    result = run(runner, producers, consumers, "--mode", "typical_day", "--output", out)
    assert result.exit_code == 0, result.output
    flows = pd.read_csv(out)
    assert list(flows.columns) == ["producer_id", "consumer_id", "kwh", "distance_m", "hours"]
    assert flows["kwh"].sum() == pytest.approx(8750, rel=1e-3)  # demand is everywhere larger
    assert (flows["hours"] > 0).all() and (flows["hours"] <= 8760).all()
    assert "(typical_day)" in result.stdout and "on 288 of 288 steps" in result.stdout


@pytest.mark.parametrize(
    ("producers", "consumers", "args", "expected"),
    [
        ("id,x,y,kwh\na,233000,556000,1", None, (), ["producers.csv", "surplus_kwh"]),
        (None, "id,x,y,demand_kwh\nx,233000,556000,-5", (), ["demand_kwh", "negative", "x"]),
        (None, "id,x,y,demand_kwh\nx,233000,556000,lots", (), ["consumers.csv", "demand_kwh",
                                                                "line(s) 2"]),
        ("id,x,y,surplus_kwh\na,233000,556000,1\na,233001,556000,1", None, (),
         ["producers.csv", "duplicate", "line(s) 3"]),
        (None, None, ("--max-distance-m", "0"), ["max_distance_m"]),
        (None, None, ("--max-distance-m", "-3"), ["max_distance_m"]),
        (None, "id,x,y,demand_kwh,category\nx,233000,556000,5,h9", ("--mode", "hourly"),
         ["h9"]),
        ("id,x,y,surplus_kwh\na,5.1,52.1,1", None, (), ["producers.csv", "lon,lat"]),
    ],
)
def test_bad_input_exits_2_with_one_line(runner, tmp_path, producers, consumers, args,
                                         expected):
    p = write(tmp_path / "producers.csv", producers or "id,x,y,surplus_kwh\na,233000,556000,1")
    c = write(tmp_path / "consumers.csv", consumers or "id,x,y,demand_kwh\nx,233010,556000,1")
    result = run(runner, p, c, "--output", tmp_path / "out.csv", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    for part in expected:
        assert part in lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_missing_file_exits_2(runner, tmp_path):
    c = write(tmp_path / "consumers.csv", "id,x,y,demand_kwh\nx,233010,556000,1")
    result = run(runner, tmp_path / "nope.csv", c, "--output", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: nope.csv does not exist."]


def test_unwritable_output_exits_2(runner, files):
    producers, consumers, tmp = files
    result = run(runner, producers, consumers, "--output", tmp / "missing-dir" / "flows.csv")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "flows.csv cannot be written" in lines[0]


# --- the certificate file and `matchmaker verify` ----------------------------------------------


def verify(runner, *args):
    from matchmaker.energy.cli import verify_command

    return runner.invoke(verify_command, [str(a) for a in args])


def rewrite(path, change):
    """The certificate at ``path`` with ``change(frame)`` applied to its rows, metadata kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = change(table.to_pandas())
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


@pytest.fixture
def certified(runner, tmp_path):
    # The example: 10 kWh to a consumer 10 m away; another one at 1000 m.
    producers = write(tmp_path / "p.csv", f"id,x,y,surplus_kwh\na,{X0},{Y0},10")
    consumers = write(tmp_path / "c.csv", f"""
id,x,y,demand_kwh
x,{X0 + 10},{Y0},10
y,{X0 + 1000},{Y0},10
""")
    flows, cert = tmp_path / "flows.csv", tmp_path / "cert.parquet"
    result = run(runner, producers, consumers, "--max-distance-m", 1000, "-o", flows,
                 "--certificate", cert)
    assert result.exit_code == 0, result.output
    assert "Certificate written to cert.parquet." in result.stdout
    return producers, consumers, flows, cert


def test_verify_proves_a_run_from_its_files(runner, certified):
    result = verify(runner, *certified)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Proven optimal: 1 steps (annual); matched 10.000 kWh = the cut, "
                             "energy x distance 100.0 kWh x m = the dual objective.\n")


def moved(frame):
    flow = frame["wh"].notna()
    frame.loc[flow & (frame["consumer_id"] == "x"), "wh"] -= 1
    extra = frame[flow & (frame["consumer_id"] == "x")].assign(consumer_id="y", wh=1)
    return pd.concat([frame, extra], ignore_index=True)


@pytest.mark.parametrize(("change", "reason"), [
    (moved, "1 pair arc(s) carry energy at a positive reduced cost"),
    (lambda f: f[~(f["wh"].notna() & (f["consumer_id"] == "x"))],
     "matched 0 Wh but the cut holds 10000 Wh"),
    (lambda f: f.assign(wh=f["wh"] + 1), "1 producer(s) deliver more than their supply"),
])
def test_verify_rejects_a_mutated_flow(runner, certified, change, reason):
    producers, consumers, flows, cert = certified
    rewrite(cert, change)
    result = verify(runner, producers, consumers, flows, cert)
    assert result.exit_code == 1 and result.stdout.startswith("NOT proven optimal: ")
    assert reason in result.stdout and len(result.stdout.splitlines()) == 1


def test_verify_rejects_flows_that_are_not_the_certificates(runner, certified):
    producers, consumers, flows, cert = certified
    flows.write_text("producer_id,consumer_id,kwh,distance_m\na,x,9.999,10.0\na,y,0.001,1000\n")
    result = verify(runner, producers, consumers, flows, cert)
    assert result.exit_code == 1
    assert "flows.csv: a -> x has 9.999 kWh, the certificate 10.0 kWh" in result.stdout


def test_verify_says_which_file_is_unreadable(runner, certified):
    producers, consumers, flows, cert = certified
    result = verify(runner, producers, consumers, flows, producers)
    assert result.exit_code == 2 and "p.csv is not a certificate file" in result.stderr
    rewrite(cert, lambda f: f.assign(producer_id=f["producer_id"].replace("a", "q")))
    result = verify(runner, producers, consumers, flows, cert)
    assert result.exit_code == 2
    assert "cert.parquet: producer_id q is not in the input files." in result.stderr


def test_verify_checks_every_step_of_a_profile_run(runner, tmp_path):
    producers = write(tmp_path / "p.csv", f"id,x,y,surplus_kwh\na,{X0},{Y0},8750")
    consumers = write(tmp_path / "c.csv", f"id,x,y,demand_kwh\nn,{X0 + 10},{Y0},100000")
    flows, cert = tmp_path / "f.csv", tmp_path / "cert.parquet"
    assert run(runner, producers, consumers, "--mode", "typical_day", "-o", flows,
               "--certificate", cert).exit_code == 0
    result = verify(runner, producers, consumers, flows, cert)
    assert result.exit_code == 0 and "Proven optimal: 288 steps (typical_day)" in result.stdout


def test_geoparquet_inputs_and_flows_verified_from_geoparquet(runner, files):
    import geopandas as gpd

    producers, consumers, tmp = files
    paths = []
    for source in (producers, consumers):  # the same sites as GeoParquet in WGS84
        frame = pd.read_csv(source, dtype={"id": str})
        path = tmp / source.replace(".csv", ".parquet").rsplit("/", 1)[-1]
        gpd.GeoDataFrame(frame.drop(columns=["x", "y"]),
                         geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                         crs="EPSG:28992").to_crs("EPSG:4326").to_parquet(path)
        paths.append(path)
    flows, cert = tmp / "flows.parquet", tmp / "cert.parquet"
    result = run(runner, *paths, "--max-distance-m", 1000, "-o", flows, "--certificate", cert)
    assert result.exit_code == 0, result.output
    back = gpd.read_parquet(flows)
    assert back.crs.equals("EPSG:28992")
    assert back[["producer_id", "consumer_id", "kwh", "distance_m"]].values.tolist() == [
        ["007", "0200", 10000.0, 900.0], ["008", "0100", 10000.0, pytest.approx(509.9, abs=0.1)]]
    # A line from each producer to its consumer, in RD New.
    assert np.ravel(back.geometry.iloc[0].coords) == pytest.approx([X0, Y0, X0, Y0 - 900],
                                                                   abs=1e-3)

    result = verify(runner, *paths, flows, cert)
    assert result.exit_code == 0 and result.stdout.startswith("Proven optimal: 1 steps"), (
        result.output)


def test_unsupported_flows_suffix_is_refused_before_solving(runner, files):
    producers, consumers, tmp = files
    result = run(runner, producers, consumers, "--output", tmp / "flows.xlsx")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: flows.xlsx: unsupported output type .xlsx; use .csv or .parquet."]
