"""Kind `consistency`, S3 side in Parquet (moto): read a row batch at a time, through memory or
/tmp, into the same canonical values as the JSON Lines reader gives the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from tests.fixtures.consistency.data import FIELDS, LAG, TYPES, target_rows
from tests.fixtures.consistency.parquet import ROW_GROUP, SCHEMA, parquet_bytes, put_parquet
from tests.unit.test_consistency_checker import spec
from vigil.checkers import aws
from vigil.checkers import consistency as checker
from vigil.checkers.runner import CannotMeasure, make_event
from vigil.consistency import stores
from vigil.consistency.model import KeyType, Range
from vigil.consistency.stores import s3_scan
from vigil.consistency.stream import ScanEndpoint, Shape

NOW = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where large objects are downloaded
    with mock_aws():
        aws.clear_cache()  # the checker keeps its clients across runs: none from another mock
        yield boto3.client("s3", region_name="us-east-1")
    aws.clear_cache()


def document(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON Lines form: ISO timestamps with their zone, decimals as JSON numbers."""
    return {k: v.isoformat() if isinstance(v, datetime) else float(v) if k == "budget" else v for k, v in row.items()}


def side(scan: Any) -> ScanEndpoint:
    return ScanEndpoint("target", Shape((KeyType.int,), TYPES, NOW - LAG), scan)


def parquet_side(client: Any, in_memory: int = stores.IN_MEMORY, prefix: str = "pq/") -> ScanEndpoint:
    return side(s3_scan(client, "exports", prefix, "parquet", "id", FIELDS, "updated_at", in_memory=in_memory))


@pytest.mark.parametrize("in_memory", [stores.IN_MEMORY, 0], ids=["in-memory", "via-tmp"])
def test_parquet_gives_the_json_lines_canonical_values(s3: Any, in_memory: int, tmp_path: Path) -> None:
    rows = target_rows(NOW, key_as_text=True)
    put_parquet(s3, "pq/", rows)
    s3.put_object(Bucket="exports", Key="jl/all.jsonl", Body="".join(json.dumps(document(r)) + "\n" for r in rows))
    parquet = parquet_side(s3, in_memory)
    lines = side(s3_scan(s3, "exports", "jl/", "jsonl", "id", FIELDS, "updated_at"))

    assert parquet.anomalies() == lines.anomalies() and parquet.anomalies().invalid_count == 1
    assert parquet.key_bounds() == lines.key_bounds()
    ranges = [Range(None, 500), Range(500, 1000), Range(1000, None)]
    assert parquet.summarize(ranges) == lines.summarize(ranges)
    every = sorted(parquet.rows(Range(None, None)), key=lambda r: (r.key, r.hash))
    assert every == sorted(lines.rows(Range(None, None)), key=lambda r: (r.key, r.hash))
    assert len(every) == len(rows) - 2  # less the NULL and the invalid key
    assert [r.key for r in every if r.recent] == [800]  # updated_at in nanoseconds, inside the lag
    assert list(tmp_path.iterdir()) == []  # downloaded objects are removed


def test_parquet_is_read_one_batch_at_a_time(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = target_rows(NOW, key_as_text=True)
    put_parquet(s3, "pq/", rows)
    body = s3.get_object(Bucket="exports", Key="pq/part-0.parquet")["Body"].read()
    assert pq.ParquetFile(pa.BufferReader(body)).metadata.num_row_groups > 3
    seen: list[int] = []
    real = pq.ParquetFile.iter_batches

    def counted(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        for batch in real(self, *args, **kwargs):
            seen.append(batch.num_rows)
            yield batch

    def whole(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("read the whole file or row group at once")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", counted)
    for name in ("read", "read_row_group", "read_row_groups"):
        monkeypatch.setattr(pq.ParquetFile, name, whole)
    monkeypatch.setattr(stores, "PARQUET_BATCH", 40)
    records = s3_scan(s3, "exports", "pq/", "parquet", "id", FIELDS, "updated_at")()
    next(records)
    assert seen == [40]  # the first record comes after one batch, not after the object
    assert sum(1 for _ in records) == len(rows) - 1
    assert max(seen) == 40 and sum(seen) == len(rows)


def test_a_missing_column_reads_as_null_and_markers_are_skipped(s3: Any) -> None:
    rows = [{"id": str(i), "name": f"n{i}", "budget": "1.50"} for i in range(1, 301)]
    narrow = pa.schema([("id", pa.string()), ("name", pa.string()), ("budget", pa.decimal128(12, 2))])
    s3.create_bucket(Bucket="exports")
    s3.put_object(Bucket="exports", Key="pq/part-0.parquet", Body=parquet_bytes(rows, narrow))
    for marker in ("pq/_SUCCESS", "pq/_metadata", "pq/.part-0.parquet.crc"):
        s3.put_object(Bucket="exports", Key=marker, Body=b"not parquet")
    s3.put_object(Bucket="exports", Key="pq/empty.parquet", Body=b"")
    records = list(s3_scan(s3, "exports", "pq/", "parquet", "id", FIELDS, "updated_at")())
    assert len(records) == 300
    assert records[0].key == "1" and records[0].values == ["n1", Decimal("1.50"), None, None]
    assert records[0].updated_at is None


def test_an_object_that_is_not_parquet_cannot_be_measured(s3: Any) -> None:
    s3.create_bucket(Bucket="exports")
    s3.put_object(Bucket="exports", Key="pq/part-0.parquet", Body=b'{"id": 1}\n')
    with pytest.raises(CannotMeasure, match=r"s3://exports/pq/part-0.parquet: not a readable Parquet file") as raised:
        list(s3_scan(s3, "exports", "pq/", "parquet", "id", FIELDS)())
    assert raised.value.code == "export"


def test_an_object_larger_than_free_tmp_cannot_be_measured(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put_parquet(s3, "pq/", target_rows(NOW, key_as_text=True))
    monkeypatch.setattr(stores.shutil, "disk_usage", lambda _: type("Usage", (), {"free": 100})())
    with pytest.raises(CannotMeasure, match=r"pq/part-0.parquet is 0 MiB and .* has 0 MiB free"):
        list(s3_scan(s3, "exports", "pq/", "parquet", "id", FIELDS, in_memory=0)())


def test_a_scan_stopped_midway_removes_its_download(s3: Any, tmp_path: Path) -> None:
    put_parquet(s3, "pq/", target_rows(NOW, key_as_text=True))
    records = s3_scan(s3, "exports", "pq/", "parquet", "id", FIELDS, in_memory=0)()
    next(records)
    assert len(list(tmp_path.iterdir())) == 1
    records.close()
    assert list(tmp_path.iterdir()) == []


def test_the_checker_compares_dynamodb_with_a_parquet_export(
    s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="results",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(1, 301):
        item = {"id": {"N": str(i)}, "spend": {"N": f"{i}.5"}, "at": {"S": f"2024-05-01T10:{i % 60:02d}:00Z"}}
        dynamodb.put_item(TableName="results", Item=item)
    schema = pa.schema(
        [("result_id", pa.int64()), ("spend", pa.decimal128(10, 2)), ("at", pa.timestamp("ms", tz="+02:00"))]
    )
    export = [
        {"result_id": i, "spend": f"{i}.5" if i != 10 else "0", "at": datetime(2024, 5, 1, 10, i % 60, tzinfo=UTC)}
        for i in range(1, 301)
        if i != 42
    ]
    s3.create_bucket(Bucket="exports")
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="exports", Key="results/part-0.parquet", Body=parquet_bytes(export, schema, row_group=64))
    monkeypatch.setenv(checker.REPORTS_BUCKET, "reports")
    target = {"type": "s3", "bucket": "exports", "prefix": "results/", "format": "parquet", "key": "result_id"}
    result = checker.handler(make_event(spec(target=target), {}), None)
    assert result["status"] == "ok", result
    assert sorted(result["samples"]) == ["changed: 10", "missing: 42"]


def test_the_fixture_writes_several_row_groups_per_file() -> None:
    rows = target_rows(NOW, key_as_text=True)[:700]
    assert pq.ParquetFile(pa.BufferReader(parquet_bytes(rows))).metadata.num_row_groups == -(-700 // ROW_GROUP)
    assert pq.ParquetFile(pa.BufferReader(parquet_bytes(rows))).schema_arrow == SCHEMA
