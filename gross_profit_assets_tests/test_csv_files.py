"""Joining CSV files that share a header (month CSVs into the all-months report, Spark's parts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gross_profit_assets.csv_files import join_csv_files

HEADER = b"id,company_name,gross_profit\n"


def parts(tmp_path: Path, *bodies: bytes, header: bytes = HEADER) -> list[Path]:
    files = []
    for index, body in enumerate(bodies):
        path = tmp_path / f"part-{index}.csv"
        path.write_bytes(header + body)
        files.append(path)
    return files


BODIES = (b'1,"Caf\xc3\xa9 ""Sol""",10.00\n2,"two\nlines",-3.50\n', b"", b"3,Bodega,0.01\n" * 50_000)


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "buffered"])
def test_parts_follow_one_another_with_the_header_once(tmp_path, monkeypatch, kernel_copy) -> None:
    if not kernel_copy:
        def refuse(*args):
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    target = tmp_path / "all.csv"
    with open(target, "wb") as out:
        assert join_csv_files(parts(tmp_path, *BODIES), out)
    assert target.read_bytes() == HEADER + b"".join(BODIES)


def test_a_part_with_another_header_stops_the_join(tmp_path) -> None:
    first = parts(tmp_path, BODIES[0])
    other = tmp_path / "other.csv"
    other.write_bytes(b"id,company,profit\n9,X,1.00\n")
    with open(tmp_path / "all.csv", "wb") as out:
        assert not join_csv_files([*first, other], out)


def test_without_headers_every_line_is_kept(tmp_path) -> None:
    files = parts(tmp_path, b"1,a\n", b"2,b\n", header=b"")
    target = tmp_path / "all.csv"
    with open(target, "wb") as out:
        assert join_csv_files(files, out, header=False)
    assert target.read_bytes() == b"1,a\n2,b\n"
