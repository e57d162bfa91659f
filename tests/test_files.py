"""The file-access policy: every refusal on real files in a temporary directory, and reading."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from kpi_core.cohorts.files import FileAccess, opened, opened_trusted
from kpi_core.cohorts.readers import ReadLimits, TableSource, open_source
from kpi_core.errors import InvalidValueError


def as_frame(source: TableSource) -> pd.DataFrame:
    """Every column of a source, as text, read through the real batches."""
    parts = [
        pd.DataFrame({name: array.cast("string").to_pylist() for name, array in batch.items()})
        for batch in source.batches(source.headers)
    ]
    return pd.concat(parts, ignore_index=True)


def load_table(
    path: str | Path, dirs: list[Path], max_bytes: int | None = None
) -> tuple[str, pd.DataFrame]:
    """(format, rows as text) of a file read under the policy."""
    access = (
        FileAccess.from_dirs(dirs)
        if max_bytes is None
        else FileAccess.from_dirs(dirs, max_bytes=max_bytes)
    )
    with opened(path, access) as file:
        source = open_source(file.handle, file.format, file.size_bytes, ReadLimits(), file.shown)
        return file.format, as_frame(source)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """An allowed directory with a CSV and a Parquet file, and a sibling directory outside it."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "creators.csv").write_text("creator_id,gmv\n@a,100\n@b,250\n", encoding="utf-8")
    pd.DataFrame({"creator_id": ["@c"], "gmv": [75.0]}).to_parquet(allowed / "creators.parquet")
    (allowed / "sub").mkdir()
    (allowed / "sub" / "more.csv").write_text("creator_id,gmv\n@d,1\n", encoding="utf-8")
    (outside / "secret.csv").write_text("creator_id,gmv\n@x,1\n", encoding="utf-8")
    return allowed, outside


def refusal(path: str | Path, access: FileAccess) -> InvalidValueError:
    with pytest.raises(InvalidValueError) as caught:
        access.resolve(path)
    assert caught.value.field == "path"
    return caught.value


def test_a_relative_path_inside_an_allowed_directory_is_read(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    found, frame = load_table("creators.csv", [allowed])
    assert found == "csv"
    assert frame.to_dict("list") == {"creator_id": ["@a", "@b"], "gmv": ["100", "250"]}
    parquet = load_table(allowed / "creators.parquet", [allowed])
    assert parquet[0] == "parquet"
    assert parquet[1].to_dict("list") == {"creator_id": ["@c"], "gmv": ["75"]}


def test_a_dotdot_that_stays_inside_is_allowed(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    access = FileAccess.from_dirs([allowed])
    assert access.resolve("sub/../creators.csv") == (allowed / "creators.csv").resolve()
    assert access.resolve(str(allowed / "sub" / "more.csv")) == (allowed / "sub/more.csv").resolve()


def test_file_access_is_off_until_directories_are_configured(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    access = FileAccess.from_dirs([], how_to_configure="set CREATOR_KPI_FILES")
    error = refusal(allowed / "creators.csv", access)
    assert error.rule == "cannot be read: file access is not configured"
    assert "set CREATOR_KPI_FILES" in str(error)
    with pytest.raises(InvalidValueError, match="not configured"):
        load_table("creators.csv", [])


def test_an_absolute_path_outside_the_allowed_directories_is_refused(
    layout: tuple[Path, Path],
) -> None:
    allowed, outside = layout
    error = refusal(outside / "secret.csv", FileAccess.from_dirs([allowed]))
    assert error.rule == "must be inside an allowed directory"
    assert str(allowed.resolve()) in str(error)  # the hint names what is allowed


def test_a_dotdot_escape_is_refused_relative_or_absolute(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    access = FileAccess.from_dirs([allowed])
    relative = refusal("../outside/secret.csv", access)
    assert relative.rule == "must not use '..' to leave the allowed directories"
    absolute = refusal(f"{allowed}/../outside/secret.csv", access)
    assert absolute.rule == "must not use '..' to leave the allowed directories"


def test_a_symlink_that_leads_outside_is_refused(layout: tuple[Path, Path]) -> None:
    allowed, outside = layout
    (allowed / "link.csv").symlink_to(outside / "secret.csv")
    (allowed / "linkdir").symlink_to(outside, target_is_directory=True)
    access = FileAccess.from_dirs([allowed])
    for path in ("link.csv", "linkdir/secret.csv"):
        error = refusal(path, access)
        assert error.rule == "resolves (through a symlink) outside the allowed directories"


def test_a_symlink_that_stays_inside_is_followed(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    (allowed / "alias.csv").symlink_to(allowed / "creators.csv")
    assert load_table("alias.csv", [allowed])[1]["creator_id"].tolist() == ["@a", "@b"]


def test_an_oversized_file_is_refused_with_the_cap_in_the_message(
    layout: tuple[Path, Path],
) -> None:
    allowed, _ = layout
    (allowed / "big.csv").write_text("creator_id,gmv\n" + "@a,1\n" * 300, encoding="utf-8")
    access = FileAccess.from_dirs([allowed], max_bytes=1024)
    error = refusal("big.csv", access)
    assert error.rule == "must be at most 1.0 KB (the file is 1.5 KB)"
    assert "raise the size cap" in str(error)
    with pytest.raises(InvalidValueError, match="must be at most"):
        load_table("big.csv", [allowed], max_bytes=1024)


def test_directories_fifos_and_unknown_formats_are_refused(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    access = FileAccess.from_dirs([allowed])
    assert refusal("sub", access).rule.startswith("must be a regular file")
    os.mkfifo(allowed / "pipe.csv")
    assert refusal("pipe.csv", access).rule.startswith("must be a regular file")
    (allowed / "notes.txt").write_text("hello", encoding="utf-8")
    assert refusal("notes.txt", access).rule == (
        "must be a .csv, .parquet, .pq, .xlsx, .json, .ndjson or .jsonl file"
    )
    assert refusal("missing.csv", access).rule == "does not exist"


def test_bad_path_values_and_bad_configuration_are_refused(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    access = FileAccess.from_dirs([allowed])
    assert refusal("", access).rule == "must be a non-empty file path"
    assert refusal("a\x00b.csv", access).rule == "must be a non-empty file path"
    with pytest.raises(InvalidValueError) as caught:
        FileAccess.from_dirs([allowed / "nope"])
    assert caught.value.field == "allowed_dirs"
    with pytest.raises(InvalidValueError) as caught:
        FileAccess.from_dirs([allowed / "creators.csv"])
    assert caught.value.rule == "must name directories, not files"
    with pytest.raises(InvalidValueError) as caught:
        FileAccess.from_dirs("/")  # a lone string is not a list of directories
    assert caught.value.rule == "must be a list of directories, not a single path"


def test_malformed_csv_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("creator_id,gmv\n@a,1\n@b,2,extra\n@c,NA\n@d,\n", encoding="utf-8")
    with opened_trusted(path) as file:
        source = open_source(file.handle, file.format, file.size_bytes, ReadLimits(), file.shown)
        frame = as_frame(source)
    assert (source.skipped_total, source.skipped_examples) == (1, ["'@b,2,extra'"])
    assert frame["creator_id"].tolist() == ["@a", "@c", "@d"]
    assert frame["gmv"].tolist()[:2] == ["1", "NA"]  # "NA" stays text; the parser reads it
    assert pd.isna(frame["gmv"].iloc[2])


def test_a_file_that_is_not_what_its_name_says_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("creator_id,gmv\n@a,1\n", encoding="utf-8")
    with pytest.raises(InvalidValueError) as caught:
        load_table("fake.parquet", [tmp_path])
    assert caught.value.rule == "must be a readable Parquet file"
