"""Validating catalog.yaml: every problem at once, as file:line:col."""

import datetime as dt
import textwrap

import pytest
from catalog_samples import GOOD, problems_of

from crawler.catalog import parse


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


def test_dash_means_no_link():
    cat = parse("study: {title: S}\nsessions:\n  - {title: T, date: 2021-01-01, video: '-'}\n")
    assert cat.sessions[0].video is None


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
