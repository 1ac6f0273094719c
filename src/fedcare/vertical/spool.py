"""PSI over identifiers streamed from disk: memory bounded by a chunk, not by the file.

An insurer with ten million members cannot hold every identifier, hash and blinded point
in memory at once on a modest machine (about 400 bytes a person with the whole table
read). For an overlap-only PSI a party therefore never holds more than one chunk
(:data:`CHUNK` rows) of its file:

1. It reads its identifier column alone, a chunk at a time (pandas' ``chunksize``;
   pyarrow's ``iter_batches`` for Parquet), normalises, hashes and blinds each chunk
   (:mod:`fedcare.vertical.psi`) and appends the blinded points with their row numbers
   to its own **spool folder**, split into :data:`BUCKETS` files by a point's first
   byte (a blinded point is uniformly spread, so each file holds about ``n / 256``).
2. Bucket by bucket it sorts the points, finds repeated identifiers (two rows with the
   same identifier have the same point; the message names rows, never values) and
   writes its **sending order**: the points sorted by value, an order that says nothing
   of the file's row order.
3. The comparing party keeps the other party's doubly blinded points, and its own once
   the other party has blinded them, as 16-byte prefixes in bucket files of their own;
   the other party returns the comparing party's points bucket by bucket, sorted by
   their doubly blinded value, so the comparing party cannot tell which of its rows
   matched (overlap size only). The overlap is counted bucket by bucket.

Memory is a chunk's points plus one bucket: about ``CHUNK * 100 + n / 256 * 40`` bytes,
whatever ``n``. Disk is about 56 bytes a person at the comparing party and 56 at the
other, in the party's own spool folder (its temporary folder unless its node config
names ``spool``), removed when the PSI ends. The spool holds blinded points and row
numbers, never an identifier.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.exceptions import DataError, DataNotFoundError

from .ids import MAX_DUPLICATE_ROWS, NormalisationReport, duplicate_error, normalise_ids
from .party import MISSING_MARKERS
from .psi import POINT, PREFIX, PsiKey, hash_points, overlap_positions

__all__ = ["BUCKETS", "CHUNK", "STALE_SECONDS", "Spool", "file_columns", "read_id_chunks",
           "spool_own"]

CHUNK = 250_000
"""Rows read, blinded and sent at a time."""
BUCKETS = 256
"""Bucket files per kind of spooled point (by the point's first byte)."""

STALE_SECONDS = 2 * 24 * 3600
"""A spool folder untouched this long belongs to a PSI that never ended."""


def _where(path: Path, name: str) -> str:
    return f"{path.name} (party '{name}')"


def file_columns(path: str | Path, name: str) -> list[str]:
    """The column names of a party's CSV or Parquet file (its header only).

    Raises
    ------
    DataNotFoundError
        No file at ``path``.
    DataError
        The file is not a readable CSV or Parquet file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"party '{name}': no file at {path}")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{_where(path, name)}: not a readable CSV or Parquet file "
                        f"({type(exc).__name__})") from exc


def read_id_chunks(path: str | Path, id_column: str, *, name: str,
                   chunk: int = CHUNK) -> Iterator[pd.Series]:
    """The identifier column of a party's file, ``chunk`` rows at a time, as text.

    Raises
    ------
    DataNotFoundError, DataError
        No such file, not readable, or no column ``id_column``.
    """
    path = Path(path)
    columns = file_columns(path, name)
    if id_column not in columns:
        raise DataError(f"{_where(path, name)}: no column(s) {[id_column]}; it has {columns}")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk,
                                                             columns=[id_column]):
                yield batch.column(0).to_pandas()
            return
        for frame in pd.read_csv(path, usecols=[id_column], dtype={id_column: str},
                                 na_values=MISSING_MARKERS, chunksize=chunk):
            yield frame[id_column]
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{_where(path, name)}: not a readable CSV or Parquet file "
                        f"({type(exc).__name__})") from exc


class Spool:
    """One party's spool folder for one PSI: bucket files of fixed-width records.

    A record is ``width`` bytes of a point (or its prefix), with an int64 row number when
    the kind keeps rows. Bucket ``b`` of a kind holds the records whose first byte is
    ``b``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def create(cls, parent: str | Path | None = None) -> Spool:
        """A new, empty spool folder (in ``parent``, else the system's temporary folder),
        readable by this user only.

        In a ``parent`` of its own (a site's ``vertical-spool/``), spool folders left more
        than :data:`STALE_SECONDS` ago by a PSI that never ended (a party or the
        coordinator stopped mid-way) are removed first.
        """
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
            now = time.time()
            for old in Path(parent).glob("fedcare-psi-*"):
                try:
                    if now - old.stat().st_mtime > STALE_SECONDS:
                        shutil.rmtree(old, ignore_errors=True)
                except OSError:
                    continue
        return cls(tempfile.mkdtemp(prefix="fedcare-psi-", dir=parent))

    @staticmethod
    def _dtype(width: int, rows: bool) -> np.dtype:
        fields: list[tuple[str, object, tuple[int, ...]] | tuple[str, object]] = [
            ("k", np.uint8, (width,))]
        if rows:
            fields.append(("r", "<i8"))
        return np.dtype(fields)

    def _file(self, kind: str, bucket: int) -> Path:
        return self.root / f"{kind}-{bucket:03d}.bin"

    def add(self, kind: str, keys: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Append ``keys`` (``(n, width)`` uint8), with ``rows`` if given, to their
        buckets."""
        if not len(keys):
            return
        records = np.empty(len(keys), self._dtype(keys.shape[1], rows is not None))
        records["k"] = keys
        if rows is not None:
            records["r"] = rows
        order = np.argsort(keys[:, 0], kind="stable")
        records = records[order]
        bounds = np.searchsorted(keys[order, 0], np.arange(BUCKETS + 1))
        for bucket in np.flatnonzero(np.diff(bounds)):
            with open(self._file(kind, int(bucket)), "ab") as out:
                out.write(records[bounds[bucket]:bounds[bucket + 1]].tobytes())

    def bucket(self, kind: str, bucket: int, width: int, rows: bool = False) -> np.ndarray:
        """One bucket's records (a structured array: ``k``, and ``r`` with ``rows``)."""
        path = self._file(kind, bucket)
        if not path.is_file():
            return np.zeros(0, self._dtype(width, rows))
        return np.fromfile(path, dtype=self._dtype(width, rows))

    def drop(self, kind: str, bucket: int) -> None:
        self._file(kind, bucket).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the spool folder and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the party's own points, in sending order ---------------------------------
    @property
    def _sequence(self) -> Path:
        return self.root / "own.seq"

    @property
    def _rows(self) -> Path:
        return self.root / "own.rows"

    def own_points(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of this party's blinded points in sending order."""
        points = np.memmap(self._sequence, dtype=np.uint8, mode="r").reshape(-1, POINT)
        return np.array(points[start:stop])

    def add_prefixes(self, kind: str, points: np.ndarray) -> None:
        """Keep the first :data:`~fedcare.vertical.psi.PREFIX` bytes of doubly blinded
        points (enough to compare: a false match has probability 2^-128)."""
        self.add(kind, np.ascontiguousarray(points[:, :PREFIX]))

    def prefixes(self, kind: str, bucket: int) -> np.ndarray:
        return np.ascontiguousarray(self.bucket(kind, bucket, PREFIX)["k"])

    def sorted_prefixes(self, kind: str, start_bucket: int, limit: int
                        ) -> tuple[np.ndarray, int]:
        """Whole buckets of ``kind`` from ``start_bucket``, each sorted by value, until
        about ``limit`` prefixes (at least one bucket); the next bucket to read."""
        parts, count, bucket = [], 0, start_bucket
        while bucket < BUCKETS and (count == 0 or count + _size(self, kind, bucket) <= limit):
            keys = self.prefixes(kind, bucket)
            if len(keys):
                view = keys.view(f"S{PREFIX}").ravel()
                parts.append(keys[np.argsort(view)])
                count += len(keys)
            self.drop(kind, bucket)
            bucket += 1
        keys = np.concatenate(parts) if parts else np.zeros((0, PREFIX), np.uint8)
        return keys, bucket

    def overlap(self, mine: str, theirs: str) -> int:
        """How many of ``mine``'s prefixes are among ``theirs``'s, bucket by bucket."""
        total = 0
        for bucket in range(BUCKETS):
            a, b = self.prefixes(mine, bucket), self.prefixes(theirs, bucket)
            if len(a) and len(b):
                total += len(overlap_positions(a, b)[1])
        return total

    def shared_rows(self, mine: str, theirs: str, chunk: int) -> int:
        """Revealed PSI: find which of this party's rows are shared (``mine`` keeps each
        prefix with its place in the sending order) and file their row numbers by
        ``row // chunk`` for :meth:`write_shared`; the count."""
        rows = np.memmap(self._rows, dtype="<i8", mode="r")
        total = 0
        for bucket in range(BUCKETS):
            a, b = self.bucket(mine, bucket, PREFIX, rows=True), self.prefixes(theirs, bucket)
            if not (len(a) and len(b)):
                continue
            i, _ = overlap_positions(np.ascontiguousarray(a["k"]), b)
            hit = np.asarray(rows[a["r"][i]], dtype="<i8")
            total += len(hit)
            part = (hit - 1) // chunk  # rows are 1-based
            for k in np.unique(part):
                with open(self.root / f"hit-{int(k):06d}.bin", "ab") as out:
                    out.write(hit[part == k].tobytes())
        return total

    def write_shared(self, path: str | Path, id_column: str, *, name: str, target: Path,
                     chunk: int) -> int:
        """Write ``row,<id_column>`` for each shared row (the identifier as the party's
        file writes it), reading the file again a chunk at a time; written whole or not
        at all."""
        tmp = target.with_name(f".{target.name}.part")
        written = 0
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["row", id_column])
                offset = 0
                for k, series in enumerate(read_id_chunks(path, id_column, name=name,
                                                          chunk=chunk)):
                    hits = self.root / f"hit-{k:06d}.bin"
                    if hits.is_file():
                        rows = np.sort(np.fromfile(hits, dtype="<i8"))
                        values = series.to_numpy()[rows - 1 - offset]
                        writer.writerows(zip(rows.tolist(), map(_text, values),
                                             strict=True))
                        written += len(rows)
                    offset += len(series)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return written


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
        else str(value)


def _size(spool: Spool, kind: str, bucket: int) -> int:
    path = spool._file(kind, bucket)
    return path.stat().st_size // PREFIX if path.is_file() else 0


def spool_own(path: str | Path, id_column: str, *, name: str, kind: str, salt: bytes,
              key: PsiKey, spool: Spool, chunk: int = CHUNK) -> tuple[int, NormalisationReport]:
    """Read, normalise, hash and blind a party's identifiers a chunk at a time into
    ``spool``, refuse repeated identifiers, and write the sending order.

    Returns the number of usable identifiers and the normalisation report (counts and
    row numbers only).

    Raises
    ------
    DataNotFoundError, DataError
        No such file, not readable, no identifier column, no usable identifier, or an
        identifier in more than one row (rows named, never values).
    """
    where = _where(Path(path), name)
    report = NormalisationReport(source=where, kind=kind)
    offset = 0
    for series in read_id_chunks(path, id_column, name=name, chunk=chunk):
        ids, part = normalise_ids(series, kind, source=where)
        report.add_counts(part)
        usable = [i for i in ids if i is not None]
        if usable:
            rows = offset + 1 + np.flatnonzero([i is not None for i in ids])
            spool.add("own", key.blind(hash_points(usable, salt)), rows)
        offset += len(ids)
    if report.total and report.usable == 0:
        raise DataError(f"{where}: no usable identifier in column '{id_column}' "
                        f"({report.invalid} invalid, {report.empty} empty as '{kind}'): is "
                        "--id-kind right for this column?")
    n, duplicates = 0, 0
    shown: list[tuple[int, int]] = []  # (row, the earlier row it repeats), the first ones
    with open(spool._sequence, "wb") as out, open(spool._rows, "wb") as out_rows:
        for bucket in range(BUCKETS):
            records = spool.bucket("own", bucket, POINT, rows=True)
            spool.drop("own", bucket)
            if not len(records):
                continue
            keys = np.ascontiguousarray(records["k"])
            view = keys.view(f"S{POINT}").ravel()
            order = np.argsort(view, kind="stable")  # rows ascending among equal points
            keys, view, rows = keys[order], view[order], records["r"][order]
            repeat = np.concatenate([[False], view[1:] == view[:-1]])
            if repeat.any():
                duplicates += int(repeat.sum())
                first = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(rows))))
                pairs = zip(rows[repeat].tolist(), rows[first[repeat]].tolist(), strict=True)
                shown = sorted([*shown, *pairs])[:MAX_DUPLICATE_ROWS]
            out.write(keys[~repeat].tobytes())
            out_rows.write(rows[~repeat].astype("<i8").tobytes())
            n += int((~repeat).sum())
    report.duplicates = duplicates
    report.duplicate_rows = [row for row, _ in shown]
    if duplicates:
        raise duplicate_error(where, duplicates, report.duplicate_rows,
                              [earlier for _, earlier in shown])
    return n, report
