"""Splicing new URLs into a catalogue's text (``crawler/catalog/rewrite.py``): only the scalar
changes, in the style it was written in, quoted when the new URL needs it."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from crawler.catalog.rewrite import Edit, RewriteError, rewrite

OLD = "https://old.example/a.pdf"


def _one(text: str, new: str) -> str:
    column = text.index("slides:") + len("slides: ") + 1
    return rewrite(text, [Edit(1, column, OLD, new)])


@pytest.mark.parametrize(
    ("text", "new", "expected"),
    [
        (
            f"slides: {OLD}  # c\n",
            "https://new.example/b.pdf",
            "slides: https://new.example/b.pdf  # c\n",
        ),
        (
            f"slides: '{OLD}'\n",
            "https://n.example/it's.pdf",
            "slides: 'https://n.example/it''s.pdf'\n",
        ),
        (f'slides: "{OLD}"\r\n', 'https://n.example/a"b', 'slides: "https://n.example/a\\"b"\r\n'),
        # A plain URL stays plain only when YAML would read it back as the same text.
        (f"slides: {OLD}\n", "https://n.example/x #y", "slides: 'https://n.example/x #y'\n"),
        (f"slides: {OLD}\n", "https://n.example/a,b", "slides: 'https://n.example/a,b'\n"),
    ],
)
def test_the_scalar_keeps_its_style_and_reads_back_as_the_new_url(text, new, expected):
    out = _one(text, new)
    assert out == expected
    assert YAML(typ="safe", pure=True).load(out) == {"slides": new}


def test_other_text_on_the_line_and_around_it_is_untouched():
    text = f"a: 1   # first\nslides: {OLD}  # two spaces\n\n\nb: {OLD}\n"
    out = rewrite(text, [Edit(2, 9, OLD, "https://n.example/")])
    assert out == f"a: 1   # first\nslides: https://n.example/  # two spaces\n\n\nb: {OLD}\n"


def test_a_scalar_that_is_not_the_reports_url_is_refused():
    with pytest.raises(RewriteError, match=r"line 1:9 holds 'https://other.example/', not"):
        rewrite("slides: https://other.example/\n", [Edit(1, 9, OLD, "https://n.example/")])


def test_a_position_without_a_scalar_is_refused():
    with pytest.raises(RewriteError, match=r"line 3:1: no URL"):
        rewrite(f"slides: {OLD}\n", [Edit(3, 1, OLD, "https://n.example/")])


def test_a_block_scalar_or_an_anchor_is_left_to_a_person():
    with pytest.raises(RewriteError, match="block scalar, anchor or tag: edit it by hand"):
        rewrite(f"slides: |\n  {OLD}\n", [Edit(1, 9, OLD + "\n", "https://n.example/")])
    with pytest.raises(RewriteError, match="edit it by hand"):
        rewrite(f"slides: &u {OLD}\n", [Edit(1, 9, OLD, "https://n.example/")])
