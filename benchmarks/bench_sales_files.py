"""The sales file inbox source: CSV, JSON Lines and Parquet files read into batches.

A CSV file of synthetic order lines (5 % messy values) is written, and the same lines as JSON
Lines and as Parquet (text columns, row groups of 100,000). Measured in the same run:

- *source*: every batch of :class:`~leadpersona.sales.sources.files.FileInboxSource` (the
  SHA-256 of the file, the records as string Arrow tables with their lines; nothing cleaned or
  stored);
- *floor*: what reading alone costs: Arrow's streaming CSV reader with every column as text,
  ``json.loads`` of every line, ``ParquetFile.iter_batches``;
- *memory*: peak RSS (``VmHWM``) of a fresh process reading a CSV file of about 200 MB
  through the source, against the same process that only imports the modules.

Override the size with ``LEADPERSONA_BENCH_FILES=100000``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadpersona.sales.records import FIELDS
from leadpersona.sales.sources.files import FileInboxSource
from leadpersona.sales.synthetic import synthetic_lines

SIZE = int(os.environ.get("LEADPERSONA_BENCH_FILES", "1000000"))
BATCH_ROWS = 50_000
#: Size of the CSV file whose reading is watched for memory.
BIG_BYTES = 200 << 20

_CHILD = """
import asyncio, sys
from pathlib import Path
from leadpersona.sales.sources.files import FileInboxSource

async def main() -> int:
    source = FileInboxSource(Path(sys.argv[1]), batch_rows=50_000)
    rows = 0
    async for batch in source.batches({}):
        rows += batch.records.num_rows
    return rows

rows = asyncio.run(main()) if sys.argv[2] == "read" else 0
# VmHWM, not ru_maxrss: the latter keeps the parent's size from before the exec.
status = Path("/proc/self/status").read_text().splitlines()
print(rows, next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _write(folder: Path) -> tuple[Path, Path, Path]:
    csv_path, jsonl_path = folder / "lines.csv", folder / "lines.jsonl"
    columns: dict[str, list[str | None]] = {name: [] for name in FIELDS}
    writer_parquet: pq.ParquetWriter | None = None
    schema = pa.schema([(name, pa.string()) for name in FIELDS])
    with (
        csv_path.open("w", newline="", encoding="utf-8") as csv_file,
        jsonl_path.open("w", encoding="utf-8") as jsonl_file,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(FIELDS)
        writer_parquet = pq.ParquetWriter(folder / "lines.parquet", schema)
        for record in synthetic_lines(SIZE, messy_rate=0.05):
            row = [None if record.get(n) is None else str(record.get(n)) for n in FIELDS]
            writer.writerow(["" if v is None else v for v in row])
            jsonl_file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            for name, value in zip(FIELDS, row, strict=True):
                columns[name].append(value)
            if len(columns[FIELDS[0]]) == 100_000:
                writer_parquet.write_table(pa.table(columns, schema=schema))
                columns = {name: [] for name in FIELDS}
        if columns[FIELDS[0]]:
            writer_parquet.write_table(pa.table(columns, schema=schema))
        writer_parquet.close()
    return csv_path, jsonl_path, folder / "lines.parquet"


async def _through_source(path: Path) -> tuple[int, float]:
    inbox = path.parent / f"inbox-{path.suffix[1:]}"
    inbox.mkdir()
    os.link(path, inbox / path.name)
    source = FileInboxSource(inbox, batch_rows=BATCH_ROWS)
    rows = 0
    started = time.perf_counter()
    async for batch in source.batches({}):
        rows += batch.records.num_rows
    elapsed = time.perf_counter() - started
    assert not source.failures, source.failures
    return rows, elapsed


def _floor(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    rows = 0
    if path.suffix == ".csv":
        reader = pacsv.open_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(FIELDS, pa.string()), strings_can_be_null=True
            ),
        )
        rows = sum(batch.num_rows for batch in reader)
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            rows = sum(1 for line in handle if json.loads(line) is not None)
    else:
        parquet = pq.ParquetFile(path)
        rows = sum(batch.num_rows for batch in parquet.iter_batches(batch_size=BATCH_ROWS))
    return rows, time.perf_counter() - started


def _big_csv(source: Path, folder: Path) -> Path:
    """A CSV file of about BIG_BYTES: the lines of ``source`` repeated."""
    big = folder / "big" / "big.csv"
    big.parent.mkdir()
    with source.open("rb") as handle:
        header = handle.readline()
        body = handle.read()
    with big.open("wb") as out:
        out.write(header)
        written = len(header)
        while written < BIG_BYTES:
            part = body[: BIG_BYTES - written]
            part = part[: part.rfind(b"\n") + 1]
            if not part:
                break
            out.write(part)
            written += len(part)
    return big


def _peak_rss(inbox: Path, mode: str) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(inbox), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    rows, kib = done.stdout.split()
    return int(rows), int(kib) / 1024


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="lp-bench-files-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = _write(folder)
        print(f"wrote {SIZE:,} lines three ways in {time.perf_counter() - started:.1f} s")
        table = []
        for path in paths:
            rows, floor_s = _floor(path)
            assert rows == SIZE, (path, rows)
            rows, source_s = asyncio.run(_through_source(path))
            assert rows == SIZE, (path, rows)
            mib = path.stat().st_size / (1 << 20)
            table.append(
                f"| {path.suffix[1:]} | {mib:,.0f} | {SIZE:,} | {source_s:.2f} "
                f"| {SIZE / source_s:,.0f} | {floor_s:.2f} | {SIZE / floor_s:,.0f} "
                f"| {floor_s / source_s:.2f} |"
            )
            print(table[-1], flush=True)
        big = _big_csv(paths[0], folder)
        big_mib = big.stat().st_size / (1 << 20)
        _, idle_mib = _peak_rss(big.parent, "import")
        big_rows, peak_mib = _peak_rss(big.parent, "read")
        print(f"{big_mib:.0f} MiB CSV, {big_rows:,} rows: peak RSS {peak_mib:.0f} MiB")
    return "\n".join(
        [
            "## Sales from the file inbox (files → batches)",
            "",
            f"{SIZE:,} synthetic order lines (5 % messy values) as CSV, JSON Lines and Parquet "
            f"(text columns, row groups of 100,000). *Source*: every batch of "
            f"`FileInboxSource` ({BATCH_ROWS:,} rows; the file's SHA-256, records as string "
            "Arrow tables with their lines; nothing cleaned or stored). *Floor*, in the same "
            "run: Arrow's streaming CSV reader with text columns, `json.loads` of every line, "
            "`ParquetFile.iter_batches`.",
            "",
            "| format | MiB | order lines | source s | source rows/s | floor s | floor rows/s "
            "| source vs floor (speed) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *table,
            "",
            f"Memory: a fresh process reading a {big_mib:.0f} MiB CSV file ({big_rows:,} lines) "
            f"through the source peaked at {peak_mib:.0f} MiB RSS; the same process importing "
            f"the modules only, {idle_mib:.0f} MiB.",
        ]
    )
