""" "Did you mean" (``crawler/suggest/github_tree.py``): which file of a tree is close enough."""

from __future__ import annotations

import pytest

from crawler.hosts import github_file
from crawler.suggest.github_tree import blob_url, closest

TREE = [
    "README.md",
    "2021/TVM.pdf",
    "2021/Ansor Auto-scheduler.pdf",
    "slides/xla_compiler.pdf",
    "2022/MobileViT.pdf",
    "\u1112\u1161\u11ab.pdf",  # NFD Hangul, as a Mac commits it
]


@pytest.mark.parametrize(
    ("missing", "found"),
    [
        ("TVM.pdf", "2021/TVM.pdf"),  # the same name in another folder
        ("slides/XLA_Compiler.pdf", "slides/xla_compiler.pdf"),  # case
        ("2021/Ansor_Auto_scheduler.pdf", "2021/Ansor Auto-scheduler.pdf"),  # separators
        ("2021/Ansor%20Auto-scheduler.pdf", "2021/Ansor Auto-scheduler.pdf"),  # escapes
        ("2022/MobileVit.pdf", "2022/MobileViT.pdf"),  # case again
        ("2022/MobileViTT.pdf", "2022/MobileViT.pdf"),  # one character off
        ("%ED%95%9C.pdf", "\u1112\u1161\u11ab.pdf"),  # NFC escapes for an NFD name
        ("Glow.pdf", None),  # nothing close
        ("2021/XLA.pdf", None),  # TVM.pdf is not close to XLA.pdf
    ],
)
def test_the_closest_file_or_none(missing, found):
    assert closest(missing, TREE) == found


def test_the_suggestion_is_a_blob_url_with_its_path_escaped():
    gh = github_file("https://github.com/O/R/blob/main/2021/Ansor_Auto_scheduler.pdf")
    assert gh is not None
    assert blob_url(gh, "2021/Ansor Auto-scheduler.pdf") == (
        "https://github.com/O/R/blob/main/2021/Ansor%20Auto-scheduler.pdf"
    )
