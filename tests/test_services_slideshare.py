"""SlideShare decks: live, moved, removed (soft-404s) and bot-walled, against a scripted engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import respx
from service_fakes import FakeContext, answer, check_through_engine, failure, link_for

from crawler.hosts import LinkKind
from crawler.model import Fix, FixKind, FixSource, Hop, LinkResult, Status
from crawler.services.slideshare import SlideShareService, clean_title, read_deck_page

FIXTURES = Path(__file__).parent / "fixtures" / "slideshare"
HTML = {"Content-Type": "text/html; charset=utf-8"}

OLD = "https://www.slideshare.net/leejaymin/efficient-execution-of-quantized-deep-learning-models-a-compiler-approach"
NEW = (
    "https://www.slideshare.net/slideshow/"
    "efficient-execution-of-quantized-deep-learning-models-a-compiler-approach/248342916"
)
HAWQ = "https://www.slideshare.net/leejaymin/hawqv3-dyadic-neural-network-quantization"
HOME = "https://www.slideshare.net/"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def check(url: str, fetch) -> LinkResult:
    link = link_for(url)
    assert link.kind is LinkKind.SLIDESHARE
    service = SlideShareService()
    assert service.handles(link)
    ctx = FakeContext({("GET", url): fetch})
    result = asyncio.run(service.check(link, ctx))
    assert [c.method for c in ctx.calls] == ["GET"]
    return result


def test_a_live_deck_is_ok_with_its_title():
    result = check(NEW, answer(NEW, 200, headers=HTML, body=fixture("live_deck.html")))
    assert result.status is Status.OK
    assert (
        result.title == "Efficient execution of quantized deep learning models a compiler approach"
    )
    assert result.http_status == 200


def test_the_move_to_slideshow_slug_id_is_redirected_with_the_new_url():
    fetch = answer(OLD, 200, headers=HTML, body=fixture("live_deck.html"), hops=[(OLD, 301)])
    fetch.final_url = NEW
    result = check(OLD, fetch)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(NEW, FixKind.CERTAIN, FixSource.REDIRECT)
    assert list(result.redirects) == [Hop(OLD, 301)]
    assert result.title and result.title.startswith("Efficient execution")


def test_a_removed_deck_served_with_200_is_a_soft_404():
    result = check(HAWQ, answer(HAWQ, 200, headers=HTML, body=fixture("removed_deck.html")))
    assert result.status is Status.BROKEN
    assert result.detail == (
        'the deck was removed or is private (the page says "this content has been removed")'
    )
    assert result.http_status == 200


def test_a_redirect_to_the_home_page_is_broken():
    fetch = answer(HAWQ, 200, headers=HTML, body=fixture("home_page.html"), hops=[(HAWQ, 301)])
    fetch.final_url = HOME
    result = check(HAWQ, fetch)
    assert result.status is Status.BROKEN
    assert result.detail == "redirected to the SlideShare home page"
    assert result.fix is None  # "use the home page" would be no fix at all
    assert result.final_url == HOME


@pytest.mark.parametrize(
    ("final", "words"),
    [
        ("https://www.slideshare.net/search?searchfrom=header&q=hawqv3", "a search page"),
        ("https://www.slideshare.net/login?from_source=%2Fleejaymin%2Fhawqv3", "a login page"),
    ],
)
def test_a_redirect_to_search_or_login_is_broken_and_says_which(final, words):
    fetch = answer(HAWQ, 200, headers=HTML, body=b"<html><title>x</title></html>")
    fetch.hops, fetch.final_url = [Hop(HAWQ, 302)], final
    result = check(HAWQ, fetch)
    assert result.status is Status.BROKEN
    assert result.detail == f"redirected to {words} ({final})"


@pytest.mark.parametrize(
    "slug", ["oauth-login-flow-explained", "designing-signup-forms", "signin-with-sso-done-right"]
)
def test_a_moved_deck_whose_slug_mentions_login_or_search_is_a_move_not_a_wall(slug):
    old = f"https://www.slideshare.net/leejaymin/{slug}"
    fetch = answer(old, 200, headers=HTML, body=fixture("live_deck.html"), hops=[(old, 301)])
    fetch.final_url = f"https://www.slideshare.net/slideshow/{slug}/123456"
    result = check(old, fetch)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(fetch.final_url, FixKind.CERTAIN, FixSource.REDIRECT)


def test_a_deck_by_a_user_whose_name_starts_with_search_survives_http_to_https():
    url = "http://www.slideshare.net/searchlight/tvm-intro"
    fetch = answer(url, 200, headers=HTML, body=fixture("live_deck.html"), hops=[(url, 301)])
    fetch.final_url = url.replace("http:", "https:")
    result = check(url, fetch)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(fetch.final_url, FixKind.CERTAIN, FixSource.REDIRECT)


@pytest.mark.parametrize(
    ("url", "final"),
    [
        ("http://www.slideshare.net/search?q=tvm", "https://www.slideshare.net/search?q=tvm"),
        ("http://slideshare.net/", "https://www.slideshare.net/"),
        ("http://www.slideshare.net", "https://www.slideshare.net/"),
    ],
)
def test_http_to_https_on_the_same_path_is_no_move_to_search_or_home(url, final):
    page = b"<html><head><title>SlideShare</title></head><body></body></html>"
    fetch = answer(url, 200, headers=HTML, body=page, hops=[(url, 301)])
    fetch.final_url = final
    result = check(url, fetch)
    assert result.status is Status.REDIRECTED, result.detail
    assert result.fix == Fix(final, FixKind.CERTAIN, FixSource.REDIRECT)


@pytest.mark.parametrize(
    ("final", "words"),
    [
        ("https://www.slideshare.net/signup?from=deck", "a login page"),
        ("https://www.linkedin.com/uas/login?session_redirect=x", "a login page"),
        ("https://www.slideshare.net/search/slideshow?q=hawqv3", "a search page"),
        ("https://www.slideshare.net/?ref=removed", "the SlideShare home page"),
    ],
)
def test_a_redirect_to_a_login_search_or_home_segment_is_still_broken(final, words):
    fetch = answer(HAWQ, 200, headers=HTML, body=fixture("home_page.html"), hops=[(HAWQ, 302)])
    fetch.final_url = final
    result = check(HAWQ, fetch)
    assert result.status is Status.BROKEN
    assert words in result.detail


def test_a_cloudflare_challenge_is_unverified_not_broken():
    headers = {**HTML, "cf-mitigated": "challenge", "server": "cloudflare"}
    fetch = answer(HAWQ, 403, headers=headers, body=fixture("cloudflare_challenge.html"))
    result = check(HAWQ, fetch)
    assert result.status is Status.UNVERIFIED
    assert result.detail == "blocked by a Cloudflare bot check (HTTP 403)"
    assert result.http_status == 403


def test_a_challenge_page_is_recognised_by_its_body_alone_even_with_200():
    fetch = answer(HAWQ, 200, headers=HTML, body=fixture("cloudflare_challenge.html"))
    result = check(HAWQ, fetch)
    assert result.status is Status.UNVERIFIED
    assert "Cloudflare" in result.detail


def test_a_real_404_is_broken_and_a_network_failure_unverified():
    assert check(HAWQ, answer(HAWQ, 404, headers=HTML, body=b"")).status is Status.BROKEN
    failed = check(HAWQ, failure(HAWQ, "network", "DNS lookup failed"))
    assert (failed.status, failed.network_error) == (Status.UNVERIFIED, True)


def test_a_complete_page_without_any_deck_marker_is_a_soft_404():
    page = b"<!DOCTYPE html><html><head><title>SlideShare</title></head><body>x</body></html>"
    result = check(HAWQ, answer(HAWQ, 200, headers=HTML, body=page))
    assert result.status is Status.BROKEN
    assert result.detail == "the page shows no deck (removed or private)"


def test_a_page_cut_short_before_any_marker_is_only_unverified():
    page = b"<!DOCTYPE html><html><head><title>x</title><style>" + b"a{}" * 1000
    result = check(HAWQ, answer(HAWQ, 200, headers=HTML, body=page))
    assert result.status is Status.UNVERIFIED
    assert result.detail == "no deck found in the part of the page that was read"


def test_a_profile_page_has_no_deck_to_find_and_is_simply_ok():
    url = "https://www.slideshare.net/leejaymin"
    page = b"<html><head><title>Jemin Lee | SlideShare</title></head><body></body></html>"
    result = check(url, answer(url, 200, headers=HTML, body=page))
    assert (result.status, result.title) == (Status.OK, "Jemin Lee")


@pytest.mark.parametrize("tab", ["presentations", "documents", "Followers"])
def test_a_profile_tab_lists_decks_and_is_no_deck_to_find(tab):
    url = f"https://www.slideshare.net/leejaymin/{tab}"
    page = b"<html><head><title>Jemin Lee | SlideShare</title></head><body></body></html>"
    result = check(url, answer(url, 200, headers=HTML, body=page))
    assert (result.status, result.title) == (Status.OK, "Jemin Lee")


# --- the markers, one at a time ---------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="og:type" content="slideshare:presentation">',
        f'<meta property="og:url" content="{NEW}">',
        f'<link rel="canonical" href="{NEW}">',
        '<meta name="twitter:player" value="https://www.slideshare.net/slideshow/embed_code/123">',
        '<meta property="og:image" content="https://cdn.slidesharecdn.com/ss_thumbnails/x.jpg">',
        '<script id="__NEXT_DATA__" type="application/json">'
        '{"props":{"pageProps":{"slideshow":{"id":"1"}}}}</script>',
    ],
)
def test_each_deck_marker_alone_is_enough(head):
    page = read_deck_page(f"<html><head>{head}</head><body></body></html>".encode())
    assert page.has_deck


def test_related_decks_images_are_not_a_deck_marker():
    page = read_deck_page(fixture("removed_deck.html"))
    assert not page.has_deck
    assert page.removed_wording == "this content has been removed"


def test_slide_text_saying_page_not_found_does_not_make_a_live_deck_a_soft_404():
    body = fixture("live_deck.html").replace(
        b'<div class="slide-container">', b"<p>Designing a good page not found screen</p><div>"
    )
    result = check(NEW, answer(NEW, 200, headers=HTML, body=body))
    assert result.status is Status.OK


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "HAWQV3: Dyadic Neural Network Quantization | PPT",
            "HAWQV3: Dyadic Neural Network Quantization",
        ),
        ("TVM tutorial - SlideShare", "TVM tutorial"),
        ("Glow | PDF | Free Download", "Glow"),
        ("  Spread\n  over lines  ", "Spread over lines"),
        ("A - B", "A - B"),
    ],
)
def test_titles_lose_slideshares_decorations(raw, clean):
    assert clean_title(raw) == clean


def test_og_title_is_preferred_to_the_title_tag():
    page = read_deck_page(
        b'<html><head><title>Deck | PPT</title><meta property="og:title" content="The Deck">'
    )
    assert page.title == "The Deck"


# --- through the real engine (HTTP mocked with respx) -----------------------------------------


@respx.mock
def test_engine_a_moved_deck_is_redirected_and_titled():
    respx.get(OLD).respond(301, headers={"Location": NEW})
    respx.get(NEW).respond(200, headers=HTML, content=fixture("live_deck.html"))
    result = check_through_engine(SlideShareService(), OLD)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(NEW, FixKind.CERTAIN, FixSource.REDIRECT)
    assert list(result.redirects) == [Hop(OLD, 301)]
    assert (
        result.title == "Efficient execution of quantized deep learning models a compiler approach"
    )


@respx.mock
def test_engine_a_cloudflare_wall_is_unverified():
    headers = {**HTML, "cf-mitigated": "challenge"}
    respx.get(HAWQ).respond(403, headers=headers, content=fixture("cloudflare_challenge.html"))
    result = check_through_engine(SlideShareService(), HAWQ)
    assert (result.status, result.http_status) == (Status.UNVERIFIED, 403)
    assert "Cloudflare" in result.detail


@respx.mock
def test_engine_a_redirect_to_the_home_page_is_broken():
    respx.get(HAWQ).respond(302, headers={"Location": "/"})
    respx.get(HOME).respond(200, headers=HTML, content=fixture("home_page.html"))
    result = check_through_engine(SlideShareService(), HAWQ)
    assert (result.status, result.detail) == (
        Status.BROKEN,
        "redirected to the SlideShare home page",
    )
