"""Importing the study README: forgiving with real-world mess, never dropping a session."""

import datetime as dt
from pathlib import Path

import pytest

from crawler.catalog import parse
from crawler.importer import (
    ImportedSession,
    ImportResult,
    parse_date,
    parse_presenters,
    parse_readme,
    to_yaml,
)

ROOT = Path(__file__).resolve().parent.parent
# The study README the catalogue was imported from (a copy of shared/seed/README.md, so
# the suite runs in any clone).
SEED = ROOT / "tests" / "fixtures" / "seed" / "README.md"


def test_importing_the_seed_readme_reproduces_the_committed_catalogue():
    result = parse_readme(SEED.read_text(encoding="utf-8"))
    assert result.warnings == []
    assert len(result.sessions) == 23
    assert to_yaml(result) == (ROOT / "catalog.yaml").read_text(encoding="utf-8")


def test_the_import_is_a_valid_catalogue():
    result = parse_readme(SEED.read_text(encoding="utf-8"))
    catalog = parse(to_yaml(result))
    assert catalog.repository == "https://github.com/ConstantPark/DL_Compiler"
    assert [s.video for s in catalog.sessions].count("https://youtu.be/dVH02_O2MzQ") == 2


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("February, 25, 2021", dt.date(2021, 2, 25)),
        ("July, 1, 2021", dt.date(2021, 7, 1)),
        ("Feb 25 2021", dt.date(2021, 2, 25)),
        ("25 February 2021", dt.date(2021, 2, 25)),
        ("2021-02-25", dt.date(2021, 2, 25)),
        ("Sept. 9, 2021", dt.date(2021, 9, 9)),
    ],
)
def test_dates_in_the_forms_people_write(text, date):
    assert parse_date(text) == (date, None)


def test_a_misspelt_month_is_read_with_a_warning():
    date, warning = parse_date("Feburary, 25, 2021")
    assert date == dt.date(2021, 2, 25)
    assert warning == "read the month 'Feburary' as February"


def test_an_impossible_date_is_a_warning_not_a_crash():
    assert parse_date("February, 30, 2021")[0] is None
    assert parse_date("sometime")[0] is None


def test_presenters_with_email_and_homepage():
    people, problems = parse_presenters("Tee Jung (naey05@gmail.com, https://b.mytears.org/)")
    assert people == [
        {"name": "Tee Jung", "email": "naey05@gmail.com", "url": "https://b.mytears.org/"}
    ]
    assert problems == []


def test_several_presenters():
    people, _ = parse_presenters("A Kim (a@x.org), B Lee (b@y.org, https://b.example/) & C Park")
    assert [p["name"] for p in people] == ["A Kim", "B Lee", "C Park"]
    assert people[1]["url"] == "https://b.example/"
    people, _ = parse_presenters("A Kim and B Lee")
    assert [p["name"] for p in people] == ["A Kim", "B Lee"]


MESSY = (
    "## My Study\r\n"
    "intro text\r\n"
    "# First talk   \r\n"
    "    Presenter:   Someone (s@x.org)  \r\n"
    "    Date: Febuary, 2, 2021\r\n"
    "    PPT: -\r\n"
    "    Video: https://youtu.be/wzy1QMci_Zs\t\r\n"
    "\r\n"
    "\r\n"
    "# Second talk\r\n"
    "\tPPT: https://example.org/deck.pdf\r\n"
    "\tSomething odd\r\n"
    "# Third talk\r\n"
    "\tPresenter: X\r\n"
    "\tDate: whenever\r\n"
)


def test_messy_readme_keeps_every_session_and_names_each_problem_line():
    result = parse_readme(MESSY, source="README.md")
    assert result.study_title == "My Study"
    assert [s.title for s in result.sessions] == ["First talk", "Second talk", "Third talk"]
    first, second, third = result.sessions
    assert first.date == dt.date(2021, 2, 2) and first.slides is None
    assert first.video == "https://youtu.be/wzy1QMci_Zs"
    assert second.slides == "https://example.org/deck.pdf" and second.date is None
    assert third.date is None
    assert result.warnings == [
        "README.md:5: session \"First talk\": read the month 'Febuary' as February",
        'README.md:10: session "Second talk": no Date: line',
        'README.md:10: session "Second talk": no Presenter: line',
        'README.md:12: session "Second talk": ignored a line that is not '
        "Presenter/Date/PPT/Video: 'Something odd'",
        "README.md:15: session \"Third talk\": cannot read the date 'whenever' "
        "(expected e.g. 'February, 25, 2021')",
    ]


def test_no_sessions_at_all_is_a_warning():
    assert parse_readme("just text\n").warnings == [
        "README.md: no sessions found (expected '# Title' headings)"
    ]


# --- properties (hypothesis): messy READMEs never crash the importer or lose a session --------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

field_lines = st.lists(
    st.one_of(
        st.builds("\tPresenter: {} ({})".format, st.text(max_size=20), st.text(max_size=20)),
        st.builds("    Date: {}".format, st.text(max_size=25)),
        st.builds("\tPPT: {}".format, st.sampled_from(["-", "https://example.org/a.pdf", "x"])),
        st.builds("Video: {}".format, st.text(max_size=30)),
        st.text(max_size=40).filter(lambda t: not t.lstrip().startswith("#")),
    ),
    max_size=6,
)
titles = (
    st.text(min_size=1, max_size=40)
    .map(lambda t: " ".join(t.split()))
    .filter(lambda t: t and not t.startswith("#"))
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(titles, field_lines), min_size=1, max_size=6))
def test_every_heading_becomes_a_session_whatever_follows(sessions):
    text = "\n".join(
        "\n".join([f"# {title}", *(ln.replace("\n", " ").replace("\r", " ") for ln in lines)])
        for title, lines in sessions
    )
    result = parse_readme(text)
    assert len(result.sessions) == len(sessions)
    to_yaml(result)  # and the result can always be written out


def test_only_markdown_line_breaks_split_lines():
    # U+2028 and NEL inside a line are text, not line breaks: no phantom '# …' session appears.
    result = parse_readme("# Talk\n\tPresenter: A\u2028# not a heading\x85# nor this\n")
    assert [s.title for s in result.sessions] == ["Talk"]


# One definition of an e-mail address: what the importer takes, the catalogue accepts.
emails = st.one_of(
    st.emails(),
    st.builds("{}@{}".format, st.text(max_size=12), st.text(max_size=12)),
    st.sampled_from(["a@b.c", "a@b", "x@y.co", "a@b.c.d", "first.last@example.org"]),
)


@settings(max_examples=300, deadline=None)
@given(emails)
def test_every_email_the_importer_takes_the_catalogue_accepts(email):
    people, _ = parse_presenters(f"Kim ({email})")
    taken = [p["email"] for p in people if "email" in p]
    if not taken:
        return
    session = ImportedSession(title="T", line=1, date=dt.date(2021, 1, 1), presenters=people)
    text = to_yaml(ImportResult("S", None, [session], []))
    (parsed,) = parse(text).sessions  # the validator raises CatalogError on a refused address
    assert [p.email for p in parsed.presenters] == taken


def test_an_address_the_catalogue_would_refuse_is_a_warning_not_an_email():
    people, problems = parse_presenters("Kim (a@b.c)")
    assert people == [{"name": "Kim"}]
    assert problems == ["'a@b.c' in presenter 'Kim' is not an e-mail address"]
