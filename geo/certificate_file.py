"""The certificate file: a matching's flows, cuts and potentials per step, in one Parquet file.

Layout (documented in the README, "Checking a matching yourself"): one row per record,

============== ======== =====================================================================
column         type     meaning
============== ======== =====================================================================
step           int32    the time step (0 in annual mode; 0-287 typical_day; 0-8759 hourly)
producer_id    string   a producer's id, or null
consumer_id    string   a consumer's id, or null
wh             int64    a flow row (both ids): whole Wh from the producer to the consumer in
                        one occurrence of the step
potential      int64    a node row (one id): the node's potential in the step
source_side    bool     a node row: whether the node is on the source side of the cut
============== ======== =====================================================================

A node without a row in a step has potential 0 and is on the sink side; a pair without a flow
row carries nothing. The file's key-value metadata ``matchmaker.certificate`` holds JSON:
``format`` (1), ``mode``, ``max_distance_m``, ``steps`` (the number of steps of the mode),
``pair_same_id``, ``energy_unit`` ("Wh") and ``cost_unit`` ("dm").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.certificate import StepProofs
from geo.errors import N_, FileFormatError

FORMAT = 1
METADATA_KEY = b"matchmaker.certificate"
SCHEMA = pa.schema([
    ("step", pa.int32()), ("producer_id", pa.string()), ("consumer_id", pa.string()),
    ("wh", pa.int64()), ("potential", pa.int64()), ("source_side", pa.bool_()),
])
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Header:
    """What the certificate says about the run it proves."""

    mode: str
    max_distance_m: float
    steps: int
    pair_same_id: bool = False


class CertificateWriter:
    """Writes proofs block by block (as the solver gives them) to a Parquet file."""

    def __init__(self, path: str | Path, header: Header, producer_ids: ObjectArray,
                 consumer_ids: ObjectArray) -> None:
        meta = {"format": FORMAT, "mode": header.mode, "max_distance_m": header.max_distance_m,
                "steps": header.steps, "pair_same_id": header.pair_same_id,
                "energy_unit": "Wh", "cost_unit": "dm"}
        schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(meta).encode()})
        self.writer = pq.ParquetWriter(str(path), schema, compression="zstd")
        self.producer_ids = np.asarray(producer_ids, dtype=object).astype(str)
        self.consumer_ids = np.asarray(consumer_ids, dtype=object).astype(str)

    def __call__(self, proofs: StepProofs) -> None:
        steps = np.asarray(proofs.steps, dtype=np.int64)
        parts = [self._flows(proofs, steps)]
        for ids, side, potential, is_producer in (
            (self.producer_ids, proofs.producer_source_side, proofs.producer_potential, True),
            (self.consumer_ids, proofs.consumer_source_side, proofs.consumer_potential, False),
        ):
            row, node = np.nonzero(side | (potential != 0))
            names = pa.array(ids[node], type=pa.string())
            none = pa.nulls(len(row), type=pa.string())
            parts.append(pa.table({
                "step": pa.array(steps[row], type=pa.int32()),
                "producer_id": names if is_producer else none,
                "consumer_id": none if is_producer else names,
                "wh": pa.nulls(len(row), type=pa.int64()),
                "potential": pa.array(potential[row, node], type=pa.int64()),
                "source_side": pa.array(side[row, node], type=pa.bool_()),
            }, schema=SCHEMA))
        self.writer.write_table(pa.concat_tables(parts))

    def _flows(self, proofs: StepProofs, steps: npt.NDArray[np.int64]) -> pa.Table:
        n = len(proofs.flow_wh)
        return pa.table({
            "step": pa.array(steps[proofs.flow_row], type=pa.int32()),
            "producer_id": pa.array(self.producer_ids[proofs.flow_producer], type=pa.string()),
            "consumer_id": pa.array(self.consumer_ids[proofs.flow_consumer], type=pa.string()),
            "wh": pa.array(proofs.flow_wh, type=pa.int64()),
            "potential": pa.nulls(n, type=pa.int64()),
            "source_side": pa.nulls(n, type=pa.bool_()),
        }, schema=SCHEMA)

    def close(self) -> None:
        self.writer.close()


def read_header(path: str | Path, *, name: str) -> Header:
    """The header of a certificate file; :class:`FileFormatError` when it is none."""
    try:
        schema = pq.read_schema(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise FileFormatError(N_("%(file)s is not a certificate file (%(reason)s)."),
                              file=name, reason=str(exc).splitlines()[0]) from exc
    raw = (schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw else {}
        header = Header(mode=str(meta["mode"]), max_distance_m=float(meta["max_distance_m"]),
                        steps=int(meta["steps"]), pair_same_id=bool(meta["pair_same_id"]))
        ok = int(meta["format"]) == FORMAT and all(c in schema.names for c in SCHEMA.names)
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(N_("%(file)s is not a certificate file (%(reason)s)."),
                              file=name, reason="no matchmaker.certificate metadata") from exc
    if not ok:
        raise FileFormatError(N_("%(file)s is not a certificate file (%(reason)s)."),
                              file=name, reason=f"format {meta.get('format')}")
    return header


def read_proofs(path: str | Path, *, producer_ids: ObjectArray, consumer_ids: ObjectArray,
                steps: int, block: int) -> Iterator[StepProofs]:
    """The proofs of every step (``block`` steps at a time), ids mapped to positions.

    A row that names an unknown id or an impossible step raises :class:`FileFormatError`.
    """
    table = pq.read_table(str(path), columns=SCHEMA.names)
    step = table["step"].to_numpy(zero_copy_only=False).astype(np.int64)
    if len(step) and (step.min() < 0 or step.max() >= steps):
        raise FileFormatError(N_("%(file)s: step %(step)s is outside the mode."), file=Path(path).name,
                              step=int(step.max() if step.max() >= steps else step.min()))
    p_pos = _positions(table["producer_id"], producer_ids, path, "producer")
    c_pos = _positions(table["consumer_id"], consumer_ids, path, "consumer")
    wh = _filled(table["wh"], 0).astype(np.int64)
    potential = _filled(table["potential"], 0).astype(np.int64)
    side = _filled(table["source_side"], False).astype(bool)
    is_flow = (p_pos >= 0) & (c_pos >= 0) & ~_null(table["wh"])
    is_node = (p_pos >= 0) ^ (c_pos >= 0)
    n_p, n_c = len(producer_ids), len(consumer_ids)
    for first in range(0, steps, block):
        st = np.arange(first, min(first + block, steps), dtype=np.int64)
        in_block = (step >= first) & (step < first + len(st))
        f = is_flow & in_block
        side_p = np.zeros((len(st), n_p), dtype=bool)
        side_c = np.zeros((len(st), n_c), dtype=bool)
        pot_p = np.zeros((len(st), n_p), dtype=np.int64)
        pot_c = np.zeros((len(st), n_c), dtype=np.int64)
        for pos, sides, pots in ((p_pos, side_p, pot_p), (c_pos, side_c, pot_c)):
            n = is_node & in_block & (pos >= 0)
            sides[step[n] - first, pos[n]] = side[n]
            pots[step[n] - first, pos[n]] = potential[n]
        yield StepProofs(
            steps=st, flow_row=step[f] - first, flow_producer=p_pos[f], flow_consumer=c_pos[f],
            flow_wh=wh[f], producer_source_side=side_p,
            consumer_source_side=side_c, producer_potential=pot_p, consumer_potential=pot_c,
        )


def _null(column: pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    return np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _filled(column: pa.ChunkedArray, value: object) -> npt.NDArray[np.generic]:
    """A column as numpy with nulls replaced (exact: no detour through floats)."""
    return np.asarray(pc.fill_null(column, value).to_numpy(zero_copy_only=False))


def _positions(column: pa.ChunkedArray, ids: ObjectArray, path: str | Path,
               what: str) -> npt.NDArray[np.int64]:
    """Position of each row's id among ``ids`` (-1 for null); unknown ids are refused."""
    names = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    given = ~_null(column)
    out = np.full(len(names), -1, dtype=np.int64)
    out[given] = pd.Index(np.asarray(ids, dtype=object).astype(str)).get_indexer(
        names[given].astype(str))
    unknown = given & (out < 0)
    if unknown.any():
        raise FileFormatError(N_("%(file)s: %(column)s %(id)s is not in the input files."),
                              file=Path(path).name, column=f"{what}_id",
                              id=str(names[np.flatnonzero(unknown)[0]]))
    return out


__all__ = ["CertificateWriter", "Header", "read_header", "read_proofs"]
