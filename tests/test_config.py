"""The run's settings and limits: host limits, the shard a run checks."""

from __future__ import annotations

import pytest

from crawler.config import HostLimits, Settings, Shard, limits_for, youtube_api_key
from crawler.links import make_link


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("github.com=8/0.1", ("github.com", HostLimits(8, 0.1))),
        ("GitHub.com.=2", ("github.com", HostLimits(2, 0.0))),
        ("*.example.org=1/3", ("example.org", HostLimits(1, 3.0))),
        ("127.0.0.1=1/0", ("127.0.0.1", HostLimits(1, 0.0))),
    ],
)
def test_a_host_limit_is_domain_count_and_optional_seconds(text, expected):
    assert HostLimits.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "github.com",
        "github.com=",
        "github.com=x",
        "github.com=2/x",
        "https://github.com/=2",
        "=2",
        "github.com=0",
        "github.com=65",
        "github.com=2/-1",
        "github.com=2/nan",
        "github.com=2/inf",
        "git hub.com=2",
    ],
)
def test_a_bad_host_limit_says_what_it_takes(text):
    with pytest.raises(ValueError, match=r"DOMAIN=N|1 <= N <= 64"):
        HostLimits.parse(text)


def test_limits_for_picks_the_most_specific_domain():
    table = [
        ("youtube.com", HostLimits(2, 1.0)),
        ("www.youtube.com", HostLimits(1, 5.0)),
        ("tube.com", HostLimits(9, 0.0)),
    ]
    assert limits_for("WWW.YouTube.com.", table) == HostLimits(1, 5.0)
    assert limits_for("m.youtube.com", table) == HostLimits(2, 1.0)
    assert limits_for("youtube.com", table) == HostLimits(2, 1.0)
    assert limits_for("notyoutube.com", table) is None  # a suffix, not a parent domain
    assert limits_for("example.org", table) is None


def test_shard_parsing_and_stable_slices():
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("0/2", "3/2", "x", "1/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
    links = [
        make_link(f"s{i}", "S", "2021-01-01", "slides", f"https://example.org/{i}.pdf")
        for i in range(200)
    ]
    shards = [Shard(k, 3) for k in (1, 2, 3)]
    owners = [[s for s in shards if s.owns(lk)] for lk in links]
    assert all(len(o) == 1 for o in owners)  # every link in exactly one shard
    assert all(20 < sum(1 for o in owners if o[0] == s) < 120 for s in shards)  # roughly even
    # Inserting links does not move the others: ownership depends on the link's key only.
    more = [make_link("new", "N", "2020-01-01", "slides", "https://example.org/new.pdf"), *links]
    assert [next(s for s in shards if s.owns(lk)) for lk in more[1:]] == [o[0] for o in owners]


def test_the_youtube_api_key_comes_from_the_environment_and_an_empty_secret_is_none(monkeypatch):
    monkeypatch.delenv("YOUTUBE_API_KEY", raising=False)
    assert youtube_api_key(None) is None
    monkeypatch.setenv("YOUTUBE_API_KEY", "")  # an unset GitHub secret is an empty value
    assert youtube_api_key(None) is None
    monkeypatch.setenv("YOUTUBE_API_KEY", " AIza-key \n")
    assert youtube_api_key(None) == "AIza-key"
    monkeypatch.setenv("OTHER_KEY", "AIza-other")
    assert youtube_api_key("OTHER_KEY") == "AIza-other"
    monkeypatch.delenv("OTHER_KEY")
    with pytest.raises(ValueError, match="OTHER_KEY is not set"):
        youtube_api_key("OTHER_KEY")
    # Never shown with the settings that hold it.
    assert "AIza" not in repr(Settings(youtube_api_key="AIza-key"))
