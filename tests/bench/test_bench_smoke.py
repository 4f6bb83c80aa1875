"""Smoke test of `paddock bench fsync` and `paddock bench snapshot`.

Runs the binary (PADDOCK_BIN, default .build/debug/paddock from the repository root) with tiny
parameters and checks that the JSON report has every field and that each is a positive number.
These are benchmarks, not tests: nothing here asserts a timing or a ratio's size.

    PADDOCK_BIN=.build/debug/paddock python3 -m pytest tests/bench
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PADDOCK_BIN", os.path.join(ROOT, ".build", "debug", "paddock"))
TIMEOUT_S = 600

COMMITS = ["batch", "commits", "records", "seconds", "commits_per_s", "records_per_s", "mb_per_s", "p50_us", "p99_us"]
GROUP_COMMIT = [name for name in COMMITS if name != "batch"] + [
    "writers", "average_batch", "log_busy", "raw_lmdb_batch", "raw_lmdb_records_per_s", "raw_lmdb_commits_per_s", "ratio"]
SNAPSHOT_RUN = [
    "znodes", "sessions", "average_value_bytes", "build_s", "stream_bytes", "file_bytes", "ratio", "write_s",
    "walk_s", "write_mb_per_s", "write_znodes_per_s", "write_without_walk_mb_per_s", "write_level0_mb_per_s", "zlib_deflate_mb_per_s",
    "zlib_compressed_bytes", "zlib_ratio", "raw_write_fsync_mb_per_s", "write_limit_mb_per_s", "write_vs_deflate",
    "write_vs_limit", "load_s", "load_mb_per_s", "load_znodes_per_s", "zlib_inflate_mb_per_s", "load_vs_inflate"]


def bench(tmp_path, *args: str) -> dict:
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"no paddock binary at {BIN}: build it (swift build) or set PADDOCK_BIN")
    result = subprocess.run(
        [BIN, "bench", *args, "--dir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    report = json.loads(result.stdout)
    assert os.listdir(tmp_path) == [], "the scratch directory was not removed"
    return report


def assert_positive(record: dict, fields: list[str], where: str) -> None:
    for field in fields:
        assert field in record, f"{where}: missing {field}"
        value = record[field]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}.{field} = {value!r}"
        assert value > 0, f"{where}.{field} = {value!r} is not positive"


def assert_load_average(report: dict) -> None:
    for key in ("load_average_before", "load_average_after"):
        values = report[key]
        assert len(values) == 3 and all(isinstance(v, (int, float)) and v >= 0 for v in values), f"{key} = {values!r}"


def test_fsync_tiny(tmp_path):
    report = bench(tmp_path, "fsync", "--seconds", "0.1", "--rounds", "1")
    assert report["command"] == "fsync"
    assert_positive(report, ["seconds_per_point", "record_bytes"], "report")
    assert_load_average(report)
    assert_positive(report["raw_fdatasync"], COMMITS, "raw_fdatasync")
    assert [r["batch"] for r in report["raw_lmdb"]] == [1, 10, 100, 1000]
    assert [r["batch"] for r in report["paddock_log"]] == [1, 10, 100, 1000]
    for index, record in enumerate(report["raw_lmdb"]):
        assert_positive(record, COMMITS, f"raw_lmdb[{index}]")
    for index, record in enumerate(report["paddock_log"]):
        assert_positive(record, COMMITS + ["raw_lmdb_records_per_s", "ratio"], f"paddock_log[{index}]")
    assert [r["writers"] for r in report["group_commit"]] == [1, 8, 32, 100]
    for index, record in enumerate(report["group_commit"]):
        assert_positive(record, GROUP_COMMIT, f"group_commit[{index}]")


def test_snapshot_tiny(tmp_path):
    report = bench(tmp_path, "snapshot", "--znodes", "1000,2k", "--value-bytes", "100..300")
    assert report["command"] == "snapshot"
    assert report["value_bytes_min"] == 100 and report["value_bytes_max"] == 300
    assert_positive(report, ["level", "fanout", "seed"], "report")
    assert_load_average(report)
    assert [run["znodes"] >= wanted for run, wanted in zip(report["runs"], [1000, 2000])] == [True, True]
    for index, run in enumerate(report["runs"]):
        assert_positive(run, SNAPSHOT_RUN, f"runs[{index}]")


def test_bad_option_fails_cleanly(tmp_path):
    result = subprocess.run(
        [BIN, "bench", "snapshot", "--znodes", "lots", "--dir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "not a count" in result.stderr
