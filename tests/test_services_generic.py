"""The shared HTTP verdict rules and the fallback service, against a scripted engine."""

from __future__ import annotations

import asyncio

import pytest
import respx
from service_fakes import FakeContext, answer, check_through_engine, failure, link_for

from crawler.model import Fix, FixKind, FixSource, Hop, LinkResult, Status
from crawler.services import pdf
from crawler.services.generic import GenericService

PAGE = "https://tvm.apache.org/docs/"
PDF = "https://example.org/talks/Intro%20to%20MLIR.PDF"
PDF_START = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"


def check(url: str, responses: dict) -> tuple[LinkResult, FakeContext]:
    ctx = FakeContext(responses)
    return asyncio.run(GenericService().check(link_for(url), ctx)), ctx


# --- status rules -----------------------------------------------------------------------------


def test_a_200_head_is_ok_with_one_request():
    result, ctx = check(PAGE, {("HEAD", PAGE): answer(PAGE, 200)})
    assert result.status is Status.OK
    assert (result.http_status, result.final_url, list(result.redirects)) == (200, PAGE, [])
    assert result.detail == "reachable (HTTP 200)"
    assert [c.method for c in ctx.calls] == ["HEAD"]


@pytest.mark.parametrize(
    ("code", "words"), [(404, "not found (HTTP 404)"), (410, "gone (HTTP 410)")]
)
def test_not_found_and_gone_are_broken_once_a_get_confirms(code, words):
    result, ctx = check(
        PAGE, {("HEAD", PAGE): answer(PAGE, code), ("GET", PAGE): answer(PAGE, code)}
    )
    assert result.status is Status.BROKEN
    assert result.detail == words
    assert result.http_status == code
    assert [c.method for c in ctx.calls] == ["HEAD", "GET"]


@pytest.mark.parametrize("code", [400, 403, 404, 405, 501])
def test_a_head_the_server_mishandles_is_settled_by_a_get(code):
    result, ctx = check(
        PAGE, {("HEAD", PAGE): answer(PAGE, code), ("GET", PAGE): answer(PAGE, 200)}
    )
    assert result.status is Status.OK
    assert result.http_status == 200
    assert [c.method for c in ctx.calls] == ["HEAD", "GET"]


def test_a_head_that_is_rate_limited_is_not_asked_again():
    result, ctx = check(PAGE, {("HEAD", PAGE): answer(PAGE, 429, attempts=3)})
    assert result.status is Status.UNVERIFIED
    assert "429" in result.detail
    assert len(ctx.calls) == 1


@pytest.mark.parametrize("code", [401, 403])
def test_access_denied_is_unverified_as_a_possible_bot_wall(code):
    result, _ = check(PAGE, {("HEAD", PAGE): answer(PAGE, code), ("GET", PAGE): answer(PAGE, code)})
    assert result.status is Status.UNVERIFIED
    assert result.detail == f"access denied (HTTP {code}) — possibly a bot wall"
    assert not result.network_error


# --- redirects --------------------------------------------------------------------------------


def test_a_permanent_redirect_gives_the_new_url_as_the_fix():
    new = "https://tvm.apache.org/docs/index.html"
    fetch = answer(PAGE, 200, hops=[(PAGE, 301)], final_url=new)
    result, _ = check(PAGE, {("HEAD", PAGE): fetch})
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(new, FixKind.CERTAIN, FixSource.REDIRECT)
    assert result.final_url == new
    assert list(result.redirects) == [Hop(PAGE, 301)]


@pytest.mark.parametrize("kind", ["redirect-loop", "too-many-redirects"])
def test_redirect_loops_are_broken_once_a_get_loops_too(kind):
    loop = failure(PAGE, kind, "redirect loop: /docs/ → /docs → /docs/")
    result, ctx = check(PAGE, {("HEAD", PAGE): loop, ("GET", PAGE): loop})
    assert result.status is Status.BROKEN
    assert "redirect loop" in result.detail
    assert [c.method for c in ctx.calls] == ["HEAD", "GET"]


# --- failures without an answer ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["network", "timeout"])
def test_network_failures_are_unverified_and_flagged(kind):
    result, ctx = check(PAGE, {("HEAD", PAGE): failure(PAGE, kind, "could not connect")})
    assert result.status is Status.UNVERIFIED
    assert result.network_error is True
    assert result.detail == "could not connect"
    assert len(ctx.calls) == 1  # no GET: it would only fail the same way


def test_a_target_the_safety_guard_refused_is_skipped_with_its_reason():
    url = "http://192.168.1.10/slides.html"
    refused = failure(url, "refused", "refused: private address 192.168.1.10")
    result, _ = check(url, {("HEAD", url): refused})
    assert result.status is Status.SKIPPED
    assert "private address 192.168.1.10" in result.detail


# --- PDFs -------------------------------------------------------------------------------------


def test_a_pdf_link_is_probed_with_one_ranged_get_and_its_size_recorded():
    fetch = answer(
        PDF,
        206,
        headers={"Content-Type": "application/pdf", "Content-Range": "bytes 0-1023/2457600"},
        body=PDF_START,
    )
    result, ctx = check(PDF, {("GET", PDF): fetch})
    assert result.status is Status.OK
    assert result.size == 2457600
    assert result.title == "Intro to MLIR.PDF"
    assert result.detail == "PDF, 2.5 MB"
    [call] = ctx.calls
    assert call.headers == {"Range": "bytes=0-1023"}
    assert call.max_bytes == 1024


def test_a_pdf_server_ignoring_the_range_gives_its_size_by_content_length():
    fetch = answer(PDF, 200, headers={"Content-Length": "5000"}, body=PDF_START)
    result, _ = check(PDF, {("GET", PDF): fetch})
    assert (result.status, result.size) == (Status.OK, 5000)


def test_a_pdf_link_serving_html_is_broken():
    fetch = answer(
        PDF,
        200,
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Length": "812"},
        body=b"<!DOCTYPE html><html><head><title>Sign in</title>",
    )
    result, _ = check(PDF, {("GET", PDF): fetch})
    assert result.status is Status.BROKEN
    assert result.detail == "not a PDF: the server sent text/html"
    assert result.size == 812


def test_a_server_rejecting_the_range_is_asked_without_one():
    responses = {
        ("GET", PDF): [
            answer(PDF, 416),
            answer(PDF, 200, headers={"Content-Length": "0"}, body=b""),
        ]
    }
    result, ctx = check(PDF, responses)
    assert [c.headers for c in ctx.calls] == [{"Range": "bytes=0-1023"}, {}]
    assert result.status is Status.BROKEN
    assert result.detail == "not a PDF: the file is empty"


def test_a_missing_pdf_is_broken_by_the_plain_rules():
    result, _ = check(PDF, {("GET", PDF): answer(PDF, 404)})
    assert (result.status, result.detail) == (Status.BROKEN, "not found (HTTP 404)")


def test_a_moved_pdf_is_redirected_and_still_signature_checked():
    new = "https://example.org/archive/Intro%20to%20MLIR.pdf"
    fetch = answer(PDF, 200, hops=[(PDF, 301)], final_url=new, body=b"%PDF-1.4\n")
    result, _ = check(PDF, {("GET", PDF): fetch})
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(new, FixKind.CERTAIN, FixSource.REDIRECT)
    assert result.detail.startswith("PDF")


# --- pdf.py helpers ---------------------------------------------------------------------------


def test_pdf_url_detection_looks_at_the_path_only():
    assert pdf.is_pdf_url("https://x.org/a/Deck.Pdf")
    assert not pdf.is_pdf_url("https://x.org/view?file=deck.pdf")
    assert not pdf.is_pdf_url("https://x.org/deck.pdf.html")


def test_the_signature_may_follow_a_little_junk_but_must_be_in_the_first_kib():
    assert pdf.looks_like_pdf(b"\r\n\x00%PDF-1.5")
    assert not pdf.looks_like_pdf(b" " * 1024 + b"%PDF-1.5")


def test_size_comes_from_the_content_range_total_not_the_part_length():
    headers = {"content-range": "bytes 0-1023/99999", "content-length": "1024"}
    assert pdf.total_size(206, headers) == 99999
    assert (
        pdf.total_size(206, {"content-range": "bytes 0-1023/*", "content-length": "1024"}) is None
    )
    assert pdf.total_size(200, {"content-length": "1234"}) == 1234


def test_a_vague_media_type_is_explained_by_the_first_bytes():
    reason = pdf.not_pdf_reason(
        b"version https://git-lfs.github.com/spec/v1\n", {"content-type": "text/plain"}
    )
    assert (
        reason == "not a PDF: the server sent text/plain starting with 'version https://git-lfs.'"
    )


# --- through the real engine (HTTP mocked with respx) -----------------------------------------


@respx.mock
def test_engine_a_404_is_confirmed_by_get_and_broken():
    head = respx.head(PAGE).respond(404)
    get = respx.get(PAGE).respond(404, text="<h1>Not Found</h1>")
    result = check_through_engine(GenericService(), PAGE)
    assert (result.status, result.detail) == (Status.BROKEN, "not found (HTTP 404)")
    assert head.call_count == 1 and get.call_count == 1


@respx.mock
def test_engine_a_301_chain_is_redirected_with_every_hop_recorded():
    start, moved, landed = (
        "http://example.org/talk",
        "https://example.org/talk",
        "https://cdn.example.org/t",
    )
    respx.head(start).respond(301, headers={"Location": moved})
    respx.head(moved).respond(302, headers={"Location": landed})
    respx.head(landed).respond(200)
    result = check_through_engine(GenericService(), start)
    assert result.status is Status.REDIRECTED
    assert list(result.redirects) == [Hop(start, 301), Hop(moved, 302)]
    assert result.fix == Fix(moved, FixKind.CERTAIN, FixSource.REDIRECT)
    assert result.final_url == landed


@respx.mock
def test_engine_the_pdf_probe_sends_a_range_and_checks_the_signature():
    good, bad = "https://example.org/a.pdf", "https://example.org/b.pdf"
    good_route = respx.get(good).respond(
        206, headers={"Content-Range": "bytes 0-1023/4096"}, content=PDF_START + b"\0" * 1000
    )
    respx.get(bad).respond(200, headers={"Content-Type": "text/html"}, text="<html>login</html>")
    ok = check_through_engine(GenericService(), good)
    assert (ok.status, ok.size, ok.title) == (Status.OK, 4096, "a.pdf")
    assert good_route.calls.last.request.headers["Range"] == "bytes=0-1023"
    broken = check_through_engine(GenericService(), bad)
    assert (broken.status, broken.detail) == (Status.BROKEN, "not a PDF: the server sent text/html")
