"""A valid catalogue, and the problems ``parse`` finds in a text (tests/test_catalog_*.py)."""

import pytest

from crawler.catalog import CatalogError, parse

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
