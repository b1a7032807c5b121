"""Reading a catalogue: the file within limits, and YAML it cannot parse named by its place."""

import importlib.util
import os
import threading
from pathlib import Path

import pytest
from catalog_samples import problems_of

from crawler.catalog.model import CatalogError
from crawler.catalog.reader import MAX_CATALOG_BYTES, load

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundled_catalogue_is_valid_and_has_every_session():
    cat = load(ROOT / "catalog.yaml")
    assert len(cat.sessions) == 23
    asymo = cat.sessions[-1]
    # Byte-for-byte: the NFD Hangul path stays percent-encoded as the README wrote it.
    assert asymo.slides.endswith(
        "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"
    )


def test_tab_indented_yaml_is_a_clear_message_not_a_traceback():
    text = "study:\n\ttitle: S\nsessions: []\n"
    (problem,) = problems_of(text)
    assert problem.startswith("catalog.yaml:2:1: YAML syntax: ")
    assert "indent with spaces" in problem


def test_other_malformed_yaml_names_the_place():
    (problem,) = problems_of("study: {title: S\nsessions: []\n")
    assert problem.startswith("catalog.yaml:") and "YAML syntax" in problem


def test_missing_file_says_how_to_create_it(tmp_path):
    with pytest.raises(CatalogError) as info:
        load(tmp_path / "catalog.yaml")
    assert "python -m crawler import README.md" in info.value.problems[0]


@pytest.mark.parametrize(
    ("text", "where", "char"),
    [
        ("study: {title: S}\r\nsessions: []\r\nx: 한국\x1b\n", "3:6", "U+001B"),
        (b"study:\n  title: a\x00\n", "2:11", "U+0000"),
    ],
)
def test_a_character_yaml_refuses_is_named_with_its_place(text, where, char):
    # The parser's ReaderError has no line: it used to print a two-line message without one.
    assert problems_of(text) == [
        f"catalog.yaml:{where}: YAML syntax: the character {char} is not allowed in YAML "
        "(control characters are not): remove it"
    ]


# --- hostile files: bounded, never blocking, one line naming the file --------------------------


def test_a_catalogue_that_is_not_utf8_says_so_and_what_to_do(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_bytes("study: {title: S}\nsessions: []\n".encode("utf-16"))
    with pytest.raises(CatalogError) as info:
        load(path)
    assert info.value.problems == [f"{path}: not UTF-8 text (byte 0): save the catalogue as UTF-8"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "catalog.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            load(fifo)
            outcome.append(None)
        except CatalogError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # blocked, waiting for a writer: be the writer, so the test ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join()
        pytest.fail("load() waited for a writer on a FIFO")
    (error,) = outcome
    assert isinstance(error, CatalogError)
    assert error.problems == [
        f"{fifo}: is a named pipe (FIFO): point --catalog at the catalogue's YAML file"
    ]


def test_the_size_cap_is_several_times_a_100k_link_catalogue():
    spec = importlib.util.spec_from_file_location("gen_catalog", ROOT / "benchmarks/gen_catalog.py")
    gen_catalog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_catalog)
    size = len(gen_catalog.generate(100_000, ["127.0.0.2:8080"]).encode())
    assert 8 * 1024 * 1024 < size < MAX_CATALOG_BYTES / 4  # 10.5 MB under a 64 MiB cap


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_is_one_line():
    # A regular file by its mode, size 0, and an I/O error at offset 0.
    with pytest.raises(CatalogError) as info:
        load("/proc/self/mem")
    assert info.value.problems == [
        "/proc/self/mem: cannot read: Input/output error (is it the right file?)"
    ]
