"""The host registry: each kind of link registered once, with its names, key and service."""

import pickle

import pytest

from crawler.hosts import LinkKind, registered
from crawler.links import classify, make_link
from crawler.services.base import Service
from crawler.services.registry import default_services, service_class

# One link of each kind, in a field where another service could also take it.
SAMPLES = {
    LinkKind.GITHUB_FILE: ("video", "https://github.com/o/r/blob/main/talk.pdf"),
    LinkKind.SLIDESHARE: ("video", "https://fr.slideshare.net/someone/deck"),
    LinkKind.YOUTUBE: ("presenter", "https://youtu.be/dVH02_O2MzQ"),
    LinkKind.GENERIC: ("slides", "https://example.org/talk.pdf"),
}


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(LinkKind)


@pytest.mark.parametrize("kind", list(LinkKind))
def test_a_link_of_each_kind_goes_to_the_service_registered_with_it(kind):
    field, url = SAMPLES[kind]
    link = make_link("s", "S", "2021-01-01", field, url)
    assert classify(url) is kind
    chosen = next(s for s in default_services() if s.handles(link))
    assert type(chosen) is service_class(kind)


def test_the_services_come_in_the_registrys_order_generic_last():
    services = default_services()
    assert [type(s) for s in services] == [service_class(kind) for kind in LinkKind]
    assert all(isinstance(s, Service) for s in services)
    assert list(LinkKind)[-1] is LinkKind.GENERIC
    homepage = make_link("s", "S", "2021-01-01", "presenter", "https://example.org/me")
    assert [s.handles(homepage) for s in services] == [False] * (len(services) - 1) + [True]


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("youtu.be", LinkKind.YOUTUBE),
        ("www.youtube-nocookie.com", LinkKind.YOUTUBE),
        ("raw.githubusercontent.com", LinkKind.GITHUB_FILE),
        ("www.github.com", LinkKind.GITHUB_FILE),
        ("slideshare.net", LinkKind.SLIDESHARE),
        ("fr.slideshare.net", LinkKind.SLIDESHARE),  # any subdomain of a registered domain
        ("notslideshare.net", None),
        ("youtube.com.example.org", None),
        ("gist.github.com", None),
        ("", None),
    ],
)
def test_registered_hosts(host, kind):
    assert registered(host) is kind


def test_a_kind_crosses_to_worker_processes_as_itself():
    """``check --jobs`` pickles links: the kind comes back as the member, with its host."""
    again = pickle.loads(pickle.dumps(LinkKind.YOUTUBE))
    assert again is LinkKind.YOUTUBE
    assert again.host.asks == "www.youtube.com"
