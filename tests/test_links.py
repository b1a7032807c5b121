"""Link identity: every spelling of one video, deck or file has one canonical key."""

import asyncio

import pytest
from service_fakes import AskedHosts

from crawler.links import (
    canonical_key,
    classify,
    github_file,
    make_link,
    normalize_url,
    requested_host,
    youtube_video_id,
)
from crawler.model import LinkKind
from crawler.services.registry import default_services
from crawler.services.youtube.worker import Extraction

VID = "dVH02_O2MzQ"
ASYMO = "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"

# (url, kind, canonical key)
CASES = [
    # YouTube: every form is the video id.
    (f"https://youtu.be/{VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"http://youtu.be/{VID}?t=42", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://youtu.be/{VID}?si=AbCdEf123", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube.com/watch?v={VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (
        f"https://youtube.com/watch?v={VID}&list=UU03m_PqzOeNJPmZyyY2dRQw&index=2",
        LinkKind.YOUTUBE,
        f"youtube:{VID}",
    ),
    (f"https://www.youtube.com/watch?feature=share&v={VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://m.youtube.com/watch?v={VID}&t=1m2s", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://music.youtube.com/watch?v={VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube.com/embed/{VID}?start=10", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube-nocookie.com/embed/{VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://youtube.com/shorts/{VID}?feature=share", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube.com/live/{VID}?si=x", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube.com/v/{VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"HTTPS://WWW.YOUTUBE.COM/watch?v={VID}", LinkKind.YOUTUBE, f"youtube:{VID}"),
    (f"https://www.youtube.com/watch?v={VID}#t=30", LinkKind.YOUTUBE, f"youtube:{VID}"),
    ("https://youtu.be/--Is5DxG1wU", LinkKind.YOUTUBE, "youtube:--Is5DxG1wU"),
    # YouTube without a video id: still YouTube, identified by its normalised URL.
    (
        "https://www.youtube.com/@someone/videos",
        LinkKind.YOUTUBE,
        "https://www.youtube.com/@someone/videos",
    ),
    # GitHub files: blob, raw and ref variants of one file are one file.
    (
        "https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/TVM.pdf",
    ),
    (
        "https://github.com/constantpark/dl_compiler/raw/master/TVM.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/TVM.pdf",
    ),
    (
        "https://raw.githubusercontent.com/ConstantPark/DL_Compiler/main/TVM.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/TVM.pdf",
    ),
    (
        "https://github.com/ConstantPark/DL_Compiler/blob/0123abc/TVM.pdf?raw=true",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/TVM.pdf",
    ),
    (
        "https://github.com/ConstantPark/DL_Compiler/raw/refs/heads/main/TVM.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/TVM.pdf",
    ),
    (
        "https://github.com/ConstantPark/DL_Compiler/blob/main/Introduction%20to%20MLIR.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/Introduction to MLIR.pdf",
    ),
    (
        "https://github.com/ConstantPark/DL_Compiler/blob/main/docs/2021/a.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/docs/2021/a.pdf",
    ),
    # File paths are case-sensitive on GitHub: a different case is a different file.
    (
        "https://github.com/ConstantPark/DL_Compiler/blob/main/tvm.pdf",
        LinkKind.GITHUB_FILE,
        "github:constantpark/dl_compiler/tvm.pdf",
    ),
    # A repository page is not a file.
    (
        "https://github.com/ConstantPark/DL_Compiler",
        LinkKind.GENERIC,
        "https://github.com/ConstantPark/DL_Compiler",
    ),
    # SlideShare: host and case folded, trailing slash ignored.
    (
        "https://www.slideshare.net/leejaymin/hawqv3-dyadic-neural-network-quantization",
        LinkKind.SLIDESHARE,
        "slideshare:/leejaymin/hawqv3-dyadic-neural-network-quantization",
    ),
    (
        "https://fr.slideshare.net/LeeJaymin/HAWQv3-dyadic-neural-network-quantization/",
        LinkKind.SLIDESHARE,
        "slideshare:/leejaymin/hawqv3-dyadic-neural-network-quantization",
    ),
    (
        "https://www.slideshare.net/slideshow/deck-title/123456",
        LinkKind.SLIDESHARE,
        "slideshare:/slideshow/deck-title/123456",
    ),
    # Anything else: scheme and host case, default port, fragment.
    ("https://b.mytears.org/", LinkKind.GENERIC, "https://b.mytears.org/"),
    ("HTTPS://B.MyTears.org:443", LinkKind.GENERIC, "https://b.mytears.org/"),
    ("http://example.org:80/a?b=1#frag", LinkKind.GENERIC, "http://example.org/a?b=1"),
    ("http://example.org:8080/a", LinkKind.GENERIC, "http://example.org:8080/a"),
    ("https://example.org/Path/Case", LinkKind.GENERIC, "https://example.org/Path/Case"),
]


@pytest.mark.parametrize(("url", "kind", "key"), CASES)
def test_kind_and_canonical_key(url, kind, key):
    assert classify(url) == kind
    assert canonical_key(url) == key


def test_at_least_thirty_forms_are_covered():
    assert len(CASES) >= 30


def test_video_id_rejects_what_is_not_an_id():
    assert youtube_video_id("https://www.youtube.com/watch?v=short") is None
    assert (
        youtube_video_id("https://www.youtube.com/playlist?list=UU03m_PqzOeNJPmZyyY2dRQw") is None
    )
    assert youtube_video_id(f"https://notyoutube.com/watch?v={VID}") is None


def test_github_raw_url_keeps_the_path_bytes_exactly():
    url = f"https://github.com/ConstantPark/DL_Compiler/blob/main/{ASYMO}"
    gh = github_file(url)
    assert gh is not None
    assert gh.raw_url == f"https://raw.githubusercontent.com/ConstantPark/DL_Compiler/main/{ASYMO}"
    # NFD Hangul stays NFD: the key decodes escapes but never re-normalises Unicode.
    assert canonical_key(url).endswith(
        "AsyMo-공개용.pptx.pdf".replace(
            "공개용", "\u1100\u1169\u11bc\u1100\u1162\u110b\u116d\u11bc"
        )
    )


def test_nfc_and_nfd_spellings_are_different_files():
    nfc = "https://github.com/o/r/blob/main/%EA%B3%B5.pdf"  # 공 precomposed
    nfd = "https://github.com/o/r/blob/main/%E1%84%80%E1%85%A9%E1%86%BC.pdf"  # 공 decomposed
    assert canonical_key(nfc) != canonical_key(nfd)


def test_normalize_keeps_query_and_credentials():
    assert normalize_url("http://u:p@Example.org/x?q=1") == "http://u:p@example.org/x?q=1"


# (field, url, the host its checks ask)
ASKED = [
    ("video", f"https://youtu.be/{VID}", "www.youtube.com"),
    ("video", f"https://m.youtube.com/watch?v={VID}&t=1m2s", "www.youtube.com"),
    ("video", f"https://www.youtube-nocookie.com/embed/{VID}", "www.youtube.com"),
    ("presenter", f"https://music.youtube.com/watch?v={VID}", "www.youtube.com"),
    ("slides", "https://github.com/o/r/blob/main/talk.pdf", "raw.githubusercontent.com"),
    ("slides", "https://github.com/o/r/raw/main/talk.pdf", "raw.githubusercontent.com"),
    ("slides", "https://raw.githubusercontent.com/o/r/main/talk.pdf", "raw.githubusercontent.com"),
    ("slides", "https://www.slideshare.net/slideshow/deck/123456", "www.slideshare.net"),
    ("presenter", "https://github.com/someone", "github.com"),
    ("presenter", "HTTPS://Talks.Example.ORG:8443/me", "talks.example.org"),
    ("video", "https://talks.example.org/v/1", "talks.example.org"),  # yt-dlp's generic one
]


@pytest.mark.parametrize(("field", "url", "host"), ASKED)
def test_requested_host_is_the_host_the_services_ask(field, url, host):
    """``check --jobs`` splits links by it: it must be where the services really go."""
    link = make_link("s", "S", "2021-01-01", field, url)
    assert requested_host(link) == host
    service = next(s for s in default_services() if s.handles(link))
    ctx = AskedHosts({}, extraction=Extraction(info={"title": "A talk", "duration": 60}))
    asyncio.run(service.check(link, ctx))
    assert ctx.hosts and set(ctx.hosts) == {host}


# --- properties (hypothesis): any id, any decoration, one key ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

video_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    min_size=11,
    max_size=11,
)
extra_params = st.lists(
    st.sampled_from(["si=AbC123", "t=42", "list=UU03m", "index=2", "feature=share", "t=1m2s"]),
    max_size=3,
)
forms = st.sampled_from(
    [
        "https://youtu.be/{id}?{q}",
        "https://www.youtube.com/watch?v={id}&{q}",
        "https://m.youtube.com/watch?{q}&v={id}",
        "https://www.youtube.com/embed/{id}?{q}",
        "https://youtube.com/shorts/{id}?{q}",
        "https://www.youtube.com/live/{id}?{q}",
        "https://www.youtube-nocookie.com/embed/{id}?{q}",
        "https://music.youtube.com/watch?v={id}&{q}",
    ]
)


@settings(max_examples=200, deadline=None)
@given(video_id=video_ids, params=extra_params, form=forms)
def test_every_spelling_of_a_video_has_the_videos_key(video_id, params, form):
    url = form.format(id=video_id, q="&".join(params))
    assert classify(url) == LinkKind.YOUTUBE
    assert canonical_key(url) == f"youtube:{video_id}"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_canonical_key_never_raises_on_junk(text):
    assert isinstance(canonical_key(text), str)
    assert isinstance(classify(text), LinkKind)
