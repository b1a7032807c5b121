"""Reading a named input file within limits (the catalogue's reader)."""

import os
from pathlib import Path

import pytest

from crawler.infile import InputFileError, read_bounded

ASK = {"what": "a test file", "instead": "give a file"}


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert read_bounded(path, 10, **ASK) == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(InputFileError, match=r"larger than 10 bytes, the most a test file may be"):
        read_bounded(path, 10, **ASK)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_the_read_is_capped_even_when_the_size_on_disk_says_zero():
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(InputFileError, match="larger than"):
        read_bounded(Path("/proc/self/status"), 10, **ASK)


def test_a_missing_file_is_left_to_the_caller_to_word(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "nope", 10, **ASK)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_without_being_read():
    with pytest.raises(InputFileError) as info:
        read_bounded(Path("/dev/zero"), 10, **ASK)
    assert str(info.value) == "/dev/zero: is a device: give a file"
