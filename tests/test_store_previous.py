"""The previous run read back compactly (``crawler/store/previous.py``).

What it keeps of each link, and how records alike are shared, is played night by night in
tests/test_history.py through ``history.load_history``; here, the contract of the reader itself.
"""

from __future__ import annotations

import pytest

from crawler.store.previous import read_history


def test_a_report_it_cannot_use_is_an_error_naming_the_place_for_the_caller_to_judge(tmp_path):
    # history.load_history turns it into a warning and a first run; nothing here decides that.
    path = tmp_path / "latest.json"
    path.write_text('{"schema_version": 99}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"report\.schema_version: expected 2, got 99"):
        read_history(path)
    with pytest.raises(FileNotFoundError):
        read_history(tmp_path / "gone.json")
