"""Catalogue-wide findings: duplicates, wrong videos, gaps, ordering."""

from pathlib import Path

from crawler.catalog import load, session_infos
from crawler.findings import (
    catalog_findings,
    date_order,
    duplicate_titles,
    find_duplicates,
    titles_match,
    wrong_videos,
)
from crawler.links import iter_links, make_link
from crawler.model import LinkResult, SessionInfo, Status

ROOT = Path(__file__).resolve().parent.parent
MOBILEVIT = "MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer"
ASYMO = "AsyMo: Scalable and Efficient Deep-Learning Inference on Asymmetric Mobile CPUs"


def info(id_, title, date, line=1):
    return SessionInfo(id=id_, title=title, date=date, presenters=(), line=line)


def test_the_bundled_catalogue_flags_mobilevit_and_asymo_sharing_a_video():
    catalog = load(ROOT / "catalog.yaml")
    links = list(iter_links(catalog))
    (dup,) = find_duplicates(links)
    assert dup.key == "youtube:dVH02_O2MzQ"
    assert dup.sessions == (
        "2022-08-22-mobilevit-light-weight-general-purpose-and-mobile-friendly",
        "2022-09-19-asymo-scalable-and-efficient-deep-learning-inference-on",
    )
    findings = catalog_findings(session_infos(catalog), links)
    (finding,) = [f for f in findings if f.kind == "duplicate"]
    assert finding.session_title == ASYMO
    assert finding.message == f"same video as '{MOBILEVIT}' (2022-08-22)"
    assert finding.severity == "error"
    lines = (ROOT / "catalog.yaml").read_text().splitlines()
    asymo_video = max(i for i, t in enumerate(lines) if "youtu.be/dVH02_O2MzQ" in t) + 1
    assert finding.line == asymo_video  # annotations land on AsyMo's video line
    missing = sorted(f.session_date for f in findings if f.kind == "missing-video")
    assert missing == ["2021-08-05", "2022-01-06"]  # TensorDIMM and AIMET write '-'


def test_different_spellings_of_one_video_are_duplicates_but_homepages_may_repeat():
    links = [
        make_link("a", "A", "2021-01-01", "video", "https://youtu.be/dVH02_O2MzQ"),
        make_link(
            "b",
            "B",
            "2021-01-02",
            "video",
            "https://www.youtube.com/watch?v=dVH02_O2MzQ&list=UU03m&index=2",
        ),
        make_link("a", "A", "2021-01-01", "presenter", "https://b.mytears.org/"),
        make_link("b", "B", "2021-01-02", "presenter", "https://b.mytears.org/"),
    ]
    (dup,) = find_duplicates(links)
    assert dup.sessions == ("a", "b") and len(dup.urls) == 2


def test_slides_reused_as_video_in_one_session_is_flagged():
    url = "https://example.org/talk.pdf"
    links = [
        make_link("a", "A", "2021-01-01", "slides", url),
        make_link("a", "A", "2021-01-01", "video", url),
    ]
    (dup,) = find_duplicates(links)
    assert dup.sessions == ("a",)


def test_dates_out_of_order():
    sessions = [
        info("1", "One", "2021-06-14"),
        info("2", "Two", "2021-06-10", line=9),
        info("3", "Three", "2021-07-01"),
    ]
    (f,) = date_order(sessions)
    assert (f.session_id, f.line) == ("2", 9)
    assert f.message == "dated 2021-06-10 but listed after 'One' (2021-06-14)"


def test_duplicate_titles_on_different_dates():
    sessions = [info("1", "Glow", "2021-07-01"), info("2", " glow ", "2021-07-15")]
    (f,) = duplicate_titles(sessions)
    assert f.session_id == "2"


def test_wrong_video_is_flagged_when_titles_share_nothing():
    link = make_link("x", ASYMO, "2022-09-19", "video", "https://youtu.be/dVH02_O2MzQ")
    result = LinkResult(link=link, status=Status.OK, detail="ok", title=MOBILEVIT)
    (f,) = wrong_videos([result])
    assert f.kind == "wrong-video"
    assert f.message == f"wrong video? its title is '{MOBILEVIT}'"


def test_titles_that_name_the_talk_are_not_flagged():
    assert titles_match(ASYMO, "[DL Compiler Study] AsyMo paper review")
    assert titles_match(
        "TVM: An Automated End-to-End Optimizing Compiler for Deep Learning",
        "TVM - an automated optimizing compiler",
    )
    assert titles_match("Tensor Comprehension", "Tensor Comprehensions explained")
    assert titles_match("AutoTVM and Auto Scheduler", "Auto scheduler and AutoTVM deep dive")
    # A title in another script cannot be compared: never cry wolf on it.
    assert titles_match(ASYMO, "딥러닝 컴파일러 스터디 22회")
    assert not titles_match(ASYMO, MOBILEVIT)
    assert not titles_match("Glow for NXP MCUs", "Cooking pasta at home with friends")


def test_a_link_used_as_both_slides_and_video_says_so():
    """One session's slides and video being one link is not 'the same video as itself'."""
    url = "https://www.youtube.com/watch?v=dVH02_O2MzQ"
    links = [
        make_link("a", "A", "2021-01-01", "slides", url),
        make_link("a", "A", "2021-01-01", "video", "https://youtu.be/dVH02_O2MzQ"),
        make_link("b", "B", "2021-01-02", "slides", url),
    ]
    findings = [f for f in catalog_findings([], links) if f.kind == "duplicate"]
    assert [(f.session_id, f.field, f.severity, f.message, f.fix) for f in findings] == [
        ("a", "video", "error", "the slides and the video are the same link",
         "give the session its own slides and video links"),
        ("b", "slides", "error", "same slides as 'A' (2021-01-01)",
         "replace with this session's own slides link, or remove it"),
    ]  # fmt: skip
    other = [make_link("a", "A", "2021-01-01", "slides", url),
             make_link("b", "B", "2021-01-02", "video", url)]  # fmt: skip
    [finding] = [f for f in catalog_findings([], other) if f.kind == "duplicate"]
    assert finding.message == "same link as the slides of 'A' (2021-01-01)"
