"""Loading and validating catalog.yaml: every problem at once, as file:line:col."""

import datetime as dt
import importlib.util
import os
import textwrap
import threading
from pathlib import Path

import pytest

from crawler.catalog import MAX_CATALOG_BYTES, CatalogError, load, parse, session_id, slugify

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
study:
  title: Deep Learning Compiler Study
  repository: https://github.com/ConstantPark/DL_Compiler
sessions:
  - title: "TVM: An Automated End-to-End Optimizing Compiler for Deep Learning"
    date: 2021-02-25
    presenters:
      - name: Constant Park
        email: sonicstage12@naver.com
    slides: https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf
    video: https://youtu.be/wzy1QMci_Zs
  - title: "XLA: Optimizing Compiler for Machine Learning"
    date: 2021-03-11
    presenters:
      - name: Tee Jung
        email: naey05@gmail.com
        url: https://b.mytears.org/
    slides: https://github.com/ConstantPark/DL_Compiler/blob/main/XLA101.pdf
    video:
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse(text)
    return info.value.problems


def test_a_valid_catalogue_becomes_records_with_positions():
    cat = parse(GOOD)
    assert cat.title == "Deep Learning Compiler Study"
    tvm, xla = cat.sessions
    assert tvm.date == dt.date(2021, 2, 25)
    assert tvm.id == "2021-02-25-tvm-an-automated-end-to-end-optimizing-compiler-for-deep"
    assert tvm.slides_at.line == 10 and tvm.video_at.line == 11
    assert xla.video is None
    assert xla.presenters[0].url == "https://b.mytears.org/"
    assert xla.presenters[0].url_at.line == 17


def test_the_bundled_catalogue_is_valid_and_has_every_session():
    cat = load(ROOT / "catalog.yaml")
    assert len(cat.sessions) == 23
    asymo = cat.sessions[-1]
    # Byte-for-byte: the NFD Hangul path stays percent-encoded as the README wrote it.
    assert asymo.slides.endswith(
        "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"
    )


def test_every_problem_is_reported_in_one_pass_with_line_and_column():
    broken = textwrap.dedent("""\
        study:
          title: S
        sessions:
          - title: "Bad date"
            date: February 30th
            slides: slides/TVM.pdf
            colour: red
          - title: "Bad email"
            date: 2021-01-01
            presenters:
              - name: A
                email: not-an-email
            video: ftp://example.org/v
        """)
    problems = problems_of(broken)
    assert problems == [
        "catalog.yaml:5:11: session \"Bad date\": date: 'February 30th' is not a date "
        "(write YYYY-MM-DD)",
        "catalog.yaml:6:13: session \"Bad date\": slides: 'slides/TVM.pdf' is not an absolute "
        "http(s) URL (write the full https://… address, or leave it empty)",
        "catalog.yaml:7:5: session \"Bad date\": unknown key 'colour' "
        "(allowed: date, presenters, slides, title, video)",
        "catalog.yaml:12:16: session \"Bad email\": presenters[0]: email: 'not-an-email' is not "
        "an e-mail address",
        "catalog.yaml:13:12: session \"Bad email\": video: 'ftp://example.org/v' is not an "
        "absolute http(s) URL (write the full https://… address, or leave it empty)",
    ]


def test_missing_title_and_date_and_duplicate_session():
    text = textwrap.dedent("""\
        study: {title: S}
        sessions:
          - date: 2021-01-01
          - title: T
          - title: Same
            date: 2021-01-02
          - title: same
            date: 2021-01-02
        """)
    assert problems_of(text) == [
        "catalog.yaml:3:5: session #1: title: missing",
        'catalog.yaml:4:5: session "T": date: missing (write it as YYYY-MM-DD)',
        'catalog.yaml:7:5: session "same": duplicate session: same title and date as the one '
        "on line 5 (remove one)",
    ]


def test_tab_indented_yaml_is_a_clear_message_not_a_traceback():
    text = "study:\n\ttitle: S\nsessions: []\n"
    (problem,) = problems_of(text)
    assert problem.startswith("catalog.yaml:2:1: YAML syntax: ")
    assert "indent with spaces" in problem


def test_other_malformed_yaml_names_the_place():
    (problem,) = problems_of("study: {title: S\nsessions: []\n")
    assert problem.startswith("catalog.yaml:") and "YAML syntax" in problem


def test_unknown_top_level_and_study_keys():
    text = "study:\n  title: S\n  owner: me\nsessions: []\nextra: 1\n"
    assert problems_of(text) == [
        "catalog.yaml:3:3: study: unknown key 'owner' (allowed: title, repository)",
        "catalog.yaml:5:1: unknown key 'extra' (allowed: study, sessions)",
    ]


def test_not_a_mapping():
    assert problems_of("- a\n- b\n") == [
        "catalog.yaml:1:1: the catalogue must be a mapping with `study` and `sessions`"
    ]


def test_missing_file_says_how_to_create_it(tmp_path):
    with pytest.raises(CatalogError) as info:
        load(tmp_path / "catalog.yaml")
    assert "python -m crawler import README.md" in info.value.problems[0]


def test_dash_means_no_link():
    cat = parse("study: {title: S}\nsessions:\n  - {title: T, date: 2021-01-01, video: '-'}\n")
    assert cat.sessions[0].video is None


def test_session_ids_are_stable_slugs():
    assert slugify("MLIR: A Compiler Infrastructure for the End of Moore’s Law") == (
        "mlir-a-compiler-infrastructure-for-the-end-of-moore-s-law"
    )
    assert slugify("딥러닝 컴파일러") == "딥러닝-컴파일러"
    assert session_id(dt.date(2021, 1, 2), "A  B") == "2021-01-02-a-b"
    assert len(slugify("x" * 30 + " " + "y" * 40)) <= 60


def test_a_duplicated_key_is_a_problem_not_a_silent_overwrite():
    text = (
        "study: {title: S}\nsessions:\n"
        "  - title: T\n    date: 2021-01-01\n"
        "    video: https://youtu.be/dVH02_O2MzQ\n    video: https://youtu.be/wzy1QMci_Zs\n"
    )
    assert problems_of(text) == ["catalog.yaml:6:5: duplicate key 'video' (first on line 5)"]


def test_scalars_stay_text_and_anchors_work():
    text = (
        "study: {title: S}\nsessions:\n"
        "  - title: 2021\n    date: 2021-01-01\n"
        "    presenters: [&kim {name: Kim, email: kim@example.org}]\n"
        "  - title: 'Yes'\n    date: 2021-01-02\n    presenters: [*kim]\n"
    )
    first, second = parse(text).sessions
    assert (first.title, second.title) == ("2021", "Yes")
    assert second.presenters == first.presenters


SECOND_DOCUMENT = (
    "only one YAML document is allowed (remove this '---' and what follows, or merge it into "
    "the first)"
)


def test_only_one_document():
    # The problem points at the '---' that starts the second document.
    text = "study: {title: S}\nsessions: []\n---\nstudy: {title: T}\n"
    assert problems_of(text) == [f"catalog.yaml:3:1: {SECOND_DOCUMENT}"]


def test_a_second_document_is_refused_even_after_an_empty_first_one():
    # Before, an empty first document let the second one through as the catalogue.
    text = "---\n---\nstudy: {title: S}\nsessions: []\n"
    assert f"catalog.yaml:2:1: {SECOND_DOCUMENT}" in problems_of(text)
    assert problems_of("study: {title: S}\nsessions: []\n---\n") == [
        f"catalog.yaml:3:1: {SECOND_DOCUMENT}"
    ]
    assert parse("---\nstudy: {title: S}\nsessions: []\n...\n").title == "S"  # one, explicit


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


NESTED = (
    "nested more than 32 levels deep; a catalogue needs 5 (check the indentation and brackets here)"
)


@pytest.mark.parametrize("parser", ["C", "pure Python"])
@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[" * 3_000 + "]" * 3_000, "1:33"),
        ("[" * 100_000 + "]" * 100_000, "1:33"),
        ("{a: " * 100_000 + "}" * 100_000, "1:129"),
        (
            "study: {title: S}\nsessions:\n  - title: T\n    date: 2021-01-01\n    presenters: "
            + "[" * 100_000,
            "5:46",
        ),
        ("study:\n" + "".join(" " * i + "a:\n" for i in range(1, 3_000)), "33:33"),
    ],
    ids=["3k-flow", "100k-flow", "100k-mappings", "100k-in-presenters", "3k-block"],
)
def test_deep_nesting_is_refused_at_its_place_not_a_recursion_error(
    monkeypatch, parser, text, where
):
    if parser != "C":
        import ruamel.yaml.cyaml

        monkeypatch.delattr(ruamel.yaml.cyaml, "CParser")  # as without ruamel.yaml.clib
    assert problems_of(text) == [f"catalog.yaml:{where}: {NESTED}"]


def test_the_catalogue_nesting_itself_is_well_within_the_limit():
    cat = parse(GOOD)  # five levels: catalogue, sessions, session, presenters, presenter
    assert cat.sessions[1].presenters[0].name == "Tee Jung"


def test_a_large_catalogue_streams(tmp_path):
    """Sessions are validated as they are read: 5,000 sessions load without a node tree."""
    import tracemalloc

    entry = (
        '  - title: "Talk {i}"\n    date: 2021-01-01\n    presenters:\n      - name: P{i}\n'
        "    slides: https://example.org/{i}.pdf\n    video: https://example.org/v/{i}\n"
    )
    text = "study: {title: S}\nsessions:\n" + "".join(entry.format(i=i) for i in range(5_000))
    tracemalloc.start()
    catalog = parse(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(catalog.sessions) == 5_000
    assert catalog.sessions[-1].video_at.line == text.count("\n")
    # The records themselves need ~1.4 KB a session (7 MB here); ruamel's round-trip tree took
    # ~13 KB a session (a 100,000-link catalogue peaked at 675 MB).
    assert peak < 15 * 1024 * 1024


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


# --- what validation accepts, the engine can check ------------------------------------------


def test_urls_the_engine_could_not_fetch_are_refused_where_they_are_written():
    long_path = "a" * 100_000
    text = (
        'study: {title: S, repository: "https://github.com/\\e[2J"}\n'
        "sessions:\n"
        "  - title: T\n"
        "    date: 2021-01-01\n"
        f"    slides: https://example.org/{long_path}\n"
        '    video: "https://example.org/v\\0"\n'
        "    presenters:\n"
        "      - name: Kim\n"
        "        url: https://ｅｘａｍｐｌｅ.org/kim\n"
    )
    problems = problems_of(text)
    assert [p.split(": ", 1)[0] for p in problems] == [
        "catalog.yaml:1:31",
        "catalog.yaml:5:13",
        "catalog.yaml:6:12",
        "catalog.yaml:9:14",
    ]
    assert (
        "repository: 'https://github.com/\\x1b[2J' is not an absolute http(s) URL: it "
        in (problems[0])
    )
    assert "control character U+001B (character 20): remove it" in problems[0]
    assert "is 100,020 characters long; at most 8,000 are accepted" in problems[1]
    assert len(problems[1]) < 400  # the URL is not repeated whole
    assert "control character U+0000" in problems[2]
    assert "presenters[0]: url: 'https://ｅｘａｍｐｌｅ.org/kim' is not" in problems[3]
    assert problems[3].endswith("write it as example.org")


@pytest.mark.parametrize("date", ["20210101", "2021-W01-1", "2021-001", "2021-02-29"])
def test_a_date_is_only_a_real_day_written_yyyy_mm_dd(date):
    text = f"study: {{title: S}}\nsessions:\n  - title: T\n    date: {date}\n"
    assert problems_of(text) == [
        f"catalog.yaml:4:11: session \"T\": date: '{date}' is not a date (write YYYY-MM-DD)"
    ]


# --- aliases: a few hundred bytes must not become billions of items -----------------------------

# Ten lists of ten, each made of the one before: *a9 stands for 10^10 items.
LAUGHS = "laughs:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)
SESSION = "study: {title: S}\nsessions:\n  - title: T\n    date: 2021-01-01\n"


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        ("    video: *a9\n", 'catalog.yaml:16:12: session "T": video: a list is not an absolute'),
        ("    presenters: [{name: K, email: *a9}]\n", "email: a list is not an e-mail address"),
        ("    ? *a9\n    : 1\n", "catalog.yaml:16:7: a key must be plain text"),
    ],
)
def test_an_alias_bomb_is_named_not_expanded(tail, says):
    # Quoting the value in the message used to expand it: a hang, then a MemoryError.
    problems = problems_of(LAUGHS + SESSION + tail)
    assert any(says in p for p in problems), problems


def test_an_alias_bomb_as_a_date_is_named_not_expanded():
    text = LAUGHS + SESSION.replace("date: 2021-01-01", "date: *a9")
    assert 'catalog.yaml:15:11: session "T": date: a list is not a date (write YYYY-MM-DD)' in (
        problems_of(text)
    )


def test_a_long_list_repeated_by_aliases_is_refused_where_it_outgrows_the_file():
    # 3,000 sessions naming a 3,000-presenter list (280 KB) were 9 million presenters: 48 s,
    # 666 MB, and as many links to check.
    people = ", ".join(f"{{name: P{i}, url: 'https://example.org/{i}'}}" for i in range(3_000))
    lists = [f"&p [{people}]"] + ["*p"] * 2_999
    text = "study: {title: S}\nsessions:\n" + "".join(
        f"  - {{title: T{i}, date: 2021-01-01, presenters: {named}}}\n"
        for i, named in enumerate(lists)
    )
    (problem,) = problems_of(text)
    assert problem.startswith("catalog.yaml:")
    assert "aliases repeat" in problem and "write the entries out" in problem


def test_a_presenter_named_in_every_session_is_fine():
    kim = "&kim {name: Kim, url: 'https://example.org/kim'}"
    text = "study: {title: S}\nsessions:\n" + "".join(
        f"  - {{title: T{i}, date: 2021-01-01, presenters: [{kim if i == 0 else '*kim'}]}}\n"
        for i in range(20_000)
    )
    assert len(parse(text).sessions) == 20_000


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_is_one_line():
    # A regular file by its mode, size 0, and an I/O error at offset 0.
    with pytest.raises(CatalogError) as info:
        load("/proc/self/mem")
    assert info.value.problems == [
        "/proc/self/mem: cannot read: Input/output error (is it the right file?)"
    ]
