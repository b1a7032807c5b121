"""YAML read within limits: one document, bounded nesting, aliases that cannot explode."""

import pytest
from catalog_samples import GOOD, problems_of

from crawler.catalog import parse


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
