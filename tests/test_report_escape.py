"""Escaping untrusted text for Markdown, terminals and GitHub workflow commands."""

from __future__ import annotations

import pytest

from crawler.report import escape


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a | b", "a \\| b"),
        ("line\r\nbreak\nand\rmore", "line break and more"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("`code` *em* _em_ ~~s~~", "\\`code\\` \\*em\\* \\_em\\_ \\~\\~s\\~\\~"),
        ("# not a heading !", "\\# not a heading \\!"),
        ("back\\slash & amp", "back\\\\slash &amp; amp"),
        ("Hangul 컴파일러 stays", "Hangul 컴파일러 stays"),
        ("bidi \u202eevil\u202c and \x1b[31mred\x1b[0m", "bidi evil and red"),
    ],
)
def test_text(raw, expected):
    assert escape.text(raw) == expected


def test_text_at_line_start_cannot_start_a_list_or_heading():
    assert escape.text("1. first", line_start=True) == "1\\. first"
    assert escape.text("- item", line_start=True) == "\\- item"
    assert escape.text("= underline", line_start=True) == "\\= underline"
    assert escape.text("version 1. x") == "version 1. x"  # mid-line: left alone


@pytest.mark.parametrize(
    "url",
    [
        "https://youtu.be/wzy1QMci_Zs",
        "http://example.org/a%20b.pdf?x=1&y=(2)#frag",
        "https://github.com/ConstantPark/DL_Compiler/blob/main/%5BDL%20Study%5D.pdf",
    ],
)
def test_safe_urls_become_autolinks(url):
    assert escape.url(url) == f"<{url}>"
    assert escape.link("slides", url) == f"[slides](<{url}>)"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://e.vil/a|b",
        "https://e.vil/<script>",
        "https://e.vil/a b",
        "https://e.vil/`x`",
        "https://e.vil/\u202eexe.pdf",
        "ftp://example.org/file",
        "https:///nohost",
        "data:text/html,<b>x</b>",
    ],
)
def test_unsafe_urls_are_escaped_text(url):
    assert not escape.is_safe_url(url)
    shown = escape.url(url)
    assert not shown.startswith("<") and "|" not in shown.replace("\\|", "")
    assert escape.link("slides", url) == "slides"


def test_terminal_safe_strips_ansi_and_control_characters():
    hostile = "ok\x1b[2J\x1b]0;pwned title\x07 \x1b[31mred\x1b[0m\x00\x07\x08 \u202ebidi\r\nnext"
    assert escape.terminal_safe(hostile) == "ok red bidi  next"
    assert escape.terminal_safe("a\r\nb\nc", keep_newlines=True) == "a\nb\nc"


def test_github_escapes():
    assert escape.gh_data("100%\r\ndone: a, b") == "100%25%0D%0Adone: a, b"
    assert escape.gh_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


# --- properties (hypothesis): no text breaks a table row -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_escaped_text_stays_in_its_table_cell(raw):
    cell = escape.text(raw)
    assert "\n" not in cell and "\r" not in cell
    # Every pipe is escaped, so a row of three cells keeps exactly three cells.
    row = f"| a | {cell} | b |"
    unescaped = [i for i, ch in enumerate(row) if ch == "|" and (i == 0 or row[i - 1] != "\\")]
    assert len(unescaped) == 4
    assert "<" not in cell and ">" not in cell  # no raw HTML survives


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_terminal_safe_leaves_no_control_characters(raw):
    out = escape.terminal_safe(raw)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in out)
