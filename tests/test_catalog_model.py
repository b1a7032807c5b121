"""The catalogue's records: stable session ids."""

import datetime as dt

from crawler.catalog.model import session_id, slugify


def test_session_ids_are_stable_slugs():
    assert slugify("MLIR: A Compiler Infrastructure for the End of Moore’s Law") == (
        "mlir-a-compiler-infrastructure-for-the-end-of-moore-s-law"
    )
    assert slugify("딥러닝 컴파일러") == "딥러닝-컴파일러"
    assert session_id(dt.date(2021, 1, 2), "A  B") == "2021-01-02-a-b"
    assert len(slugify("x" * 30 + " " + "y" * 40)) <= 60
