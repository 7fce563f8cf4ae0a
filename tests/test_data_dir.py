"""The data directory is created for its owner alone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from authwire.data_dir import ensure_data_dir
from authwire.secrets import key_file_path, load_or_create_key_file


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "parent" / "data"

    ensure_data_dir(data_dir)

    assert data_dir.stat().st_mode & 0o777 == 0o700


def test_an_existing_directory_others_can_read_is_reported_not_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)

    with caplog.at_level(logging.WARNING, logger="authwire.data_dir"):
        ensure_data_dir(data_dir)

    assert data_dir.stat().st_mode & 0o777 == 0o755
    assert f"run: chmod 700 {data_dir}" in caplog.text


def test_a_private_existing_directory_is_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)

    with caplog.at_level(logging.WARNING, logger="authwire.data_dir"):
        ensure_data_dir(data_dir)

    assert caplog.text == ""


def test_a_key_file_others_can_read_is_reported_with_the_chmod(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_or_create_key_file(tmp_path)
    key_file = key_file_path(tmp_path)
    key_file.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="authwire.data_dir"):
        keys = load_or_create_key_file(tmp_path)

    assert len(keys) == 1
    assert f"run: chmod 600 {key_file}" in caplog.text
