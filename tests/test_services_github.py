"""GitHub file links, checked through their raw URL against a scripted engine."""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import unicodedata

import httpx
import pytest
import respx
from service_fakes import (
    ENGINE_SETTINGS,
    FakeContext,
    answer,
    check_through_engine,
    failure,
    link_for,
    no_sleep,
    public_resolver,
)

from crawler.config import Settings
from crawler.hosts import github_file
from crawler.model import Fix, FixKind, FixSource, Hop, LinkKind, LinkResult, Status
from crawler.services.github import GitHubHosts, GitHubService, auth_headers, moved_file_url

REPO = "https://github.com/ConstantPark/DL_Compiler"
RAW = "https://raw.githubusercontent.com/ConstantPark/DL_Compiler"
TVM, TVM_RAW = f"{REPO}/blob/main/TVM.pdf", f"{RAW}/main/TVM.pdf"
# NFD Hangul, percent-encoded, as the catalogue has it: these exact bytes must reach GitHub.
ASYMO_PATH = (
    "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"
)
ASYMO, ASYMO_RAW = f"{REPO}/blob/main/{ASYMO_PATH}", f"{RAW}/main/{ASYMO_PATH}"
PDF_START = b"%PDF-1.5\n%\xb5\xb5\xb5\xb5\n1 0 obj\n"


def partial_pdf(url: str, total: int = 1_843_200, **kwargs) -> object:
    headers = {"Content-Type": "application/octet-stream", "Content-Range": f"bytes 0-1023/{total}"}
    return answer(url, 206, headers=headers, body=PDF_START, **kwargs)


def check(
    url: str, responses: dict, settings: Settings | None = None
) -> tuple[LinkResult, FakeContext]:
    ctx = FakeContext(responses, settings=settings or Settings())
    link = link_for(url)
    assert link.kind is LinkKind.GITHUB_FILE
    service = GitHubService()
    assert service.handles(link)
    return asyncio.run(service.check(link, ctx)), ctx


def test_a_pdf_in_the_repository_is_ok_with_its_size_and_file_name():
    result, ctx = check(TVM, {("GET", TVM_RAW): partial_pdf(TVM_RAW)})
    assert result.status is Status.OK
    assert result.size == 1_843_200
    assert result.title == "TVM.pdf"
    assert result.detail == "PDF, 1.8 MB"
    [call] = ctx.calls
    assert call.url == TVM_RAW
    assert call.headers == {"Range": "bytes=0-1023"}  # no token configured, no Authorization


def test_the_raw_request_keeps_the_catalogues_percent_escapes_byte_for_byte():
    result, ctx = check(ASYMO, {("GET", ASYMO_RAW): partial_pdf(ASYMO_RAW)})
    assert ctx.calls[0].url == ASYMO_RAW
    assert result.status is Status.OK
    # The title is decoded but not normalised: still NFD, which reads as 공개용 once composed.
    assert result.title == "AsyMo-\u1100\u1169\u11bc\u1100\u1162\u110b\u116d\u11bc.pptx.pdf"
    assert unicodedata.normalize("NFC", result.title) == "AsyMo-공개용.pptx.pdf"


def test_a_missing_file_is_broken_naming_path_repository_and_ref():
    url = f"{REPO}/blob/main/Tensor%20Comprehensions.pdf"
    raw = f"{RAW}/main/Tensor%20Comprehensions.pdf"
    tree = f"{REPO}/tree/main"  # github.com confirms the repository and ref are still there
    blob = f"{REPO}/blob/main/Tensor%20Comprehensions.pdf"  # and that the file is not
    result, ctx = check(
        url,
        {
            ("GET", raw): answer(raw, 404, body=b"404: Not Found"),
            ("GET", tree): answer(tree, 200),
            ("GET", blob): answer(blob, 404),
        },
    )
    assert result.status is Status.BROKEN
    assert result.detail == (
        "file not found: Tensor Comprehensions.pdf in ConstantPark/DL_Compiler at main"
    )
    assert result.http_status == 404
    assert result.title == "Tensor Comprehensions.pdf"
    for lookup in ctx.calls[1:]:
        assert (lookup.follow_redirects, lookup.max_bytes) == (False, 0)  # cheap questions
    assert [c.url for c in ctx.calls] == [raw, tree, blob]


def test_a_pdf_path_holding_something_else_is_broken():
    raw = f"{RAW}/main/BYOC.pdf"
    fetch = answer(raw, 206, headers={"Content-Type": "text/plain; charset=utf-8"}, body=b"TODO\n")
    result, _ = check(f"{REPO}/blob/main/BYOC.pdf", {("GET", raw): fetch})
    assert result.status is Status.BROKEN
    assert result.detail == "not a PDF: the server sent text/plain starting with 'TODO'"


def test_a_git_lfs_pointer_is_ok_with_a_note_and_the_real_size():
    pointer = (
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        b"size 48213377\n"
    )
    fetch = answer(TVM_RAW, 200, headers={"Content-Type": "text/plain"}, body=pointer)
    result, _ = check(TVM, {("GET", TVM_RAW): fetch})
    assert result.status is Status.OK
    assert result.note == "stored in Git LFS"
    assert result.size == 48213377
    assert result.detail == "stored in Git LFS, 48.2 MB"


def test_a_file_that_is_not_a_pdf_is_only_checked_for_existence():
    url, raw = f"{REPO}/blob/main/README.md", f"{RAW}/main/README.md"
    fetch = answer(raw, 206, headers={"Content-Range": "bytes 0-1023/6442"}, body=b"# TVM\n")
    result, _ = check(url, {("GET", raw): fetch})
    assert (result.status, result.size, result.detail) == (Status.OK, 6442, "file found, 6.4 kB")


def test_a_renamed_repository_is_redirected_with_the_new_blob_url_as_fix():
    moved_raw = "https://raw.githubusercontent.com/NewOrg/dl-compiler-study/main/TVM.pdf"
    fetch = partial_pdf(TVM_RAW, hops=[(TVM_RAW, 301)], final_url=moved_raw)
    result, _ = check(TVM, {("GET", TVM_RAW): fetch})
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(
        "https://github.com/NewOrg/dl-compiler-study/blob/main/TVM.pdf",
        FixKind.CERTAIN,
        FixSource.GITHUB,
    )
    assert result.final_url == moved_raw
    assert list(result.redirects) == [Hop(TVM_RAW, 301)]
    assert "NewOrg/dl-compiler-study" in result.detail


def test_a_raw_link_gets_a_raw_fix_and_a_raw_mode_link_keeps_raw():
    new_raw = "https://raw.githubusercontent.com/New/Repo/main/a%20b.pdf"
    assert moved_file_url(f"{RAW}/main/a%20b.pdf", new_raw) == new_raw
    assert (
        moved_file_url(f"{REPO}/raw/main/a%20b.pdf", new_raw)
        == "https://github.com/New/Repo/raw/main/a%20b.pdf"
    )


def test_a_temporary_redirect_stays_ok():
    elsewhere = f"{RAW}/refs/heads/main/TVM.pdf"
    fetch = partial_pdf(TVM_RAW, hops=[(TVM_RAW, 302)], final_url=elsewhere)
    result, _ = check(TVM, {("GET", TVM_RAW): fetch})
    assert result.status is Status.OK
    assert result.final_url == elsewhere
    assert result.fix is None


@pytest.mark.parametrize("code", [403, 429])
def test_the_rate_limit_is_unverified_and_says_when_it_resets(code):
    reset = calendar.timegm((2026, 11, 25, 14, 7, 0))
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    result, _ = check(TVM, {("GET", TVM_RAW): answer(TVM_RAW, code, headers=headers)})
    assert result.status is Status.UNVERIFIED
    assert result.detail == "GitHub rate limit reached (resets at 14:07 UTC)"
    assert result.http_status == code


def test_a_403_without_rate_limit_headers_is_an_ordinary_access_denied():
    result, _ = check(TVM, {("GET", TVM_RAW): answer(TVM_RAW, 403)})
    assert result.status is Status.UNVERIFIED
    assert result.detail.startswith("access denied (HTTP 403)")


def test_network_trouble_is_unverified():
    result, _ = check(TVM, {("GET", TVM_RAW): failure(TVM_RAW, "timeout", "timed out after 20 s")})
    assert (result.status, result.network_error) == (Status.UNVERIFIED, True)
    assert result.title == "TVM.pdf"


def test_the_token_from_settings_is_sent_to_github_as_a_bearer():
    settings = Settings(github_token="ghp_example")
    _, ctx = check(TVM, {("GET", TVM_RAW): partial_pdf(TVM_RAW)}, settings)
    assert ctx.calls[0].headers["Authorization"] == "Bearer ghp_example"


def test_the_token_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_from_actions")
    _, ctx = check(TVM, {("GET", TVM_RAW): partial_pdf(TVM_RAW)})
    assert ctx.calls[0].headers["Authorization"] == "Bearer ghs_from_actions"


def test_the_token_is_never_offered_to_another_host():
    assert auth_headers("https://raw.githubusercontent.com/a/b/c/d", "t") == {
        "Authorization": "Bearer t"
    }
    assert auth_headers("https://api.github.com/repos/a/b", "t")
    assert auth_headers("https://objects.githubusercontent.com/x", "t") == {}
    assert auth_headers("https://github.com.evil.example/x", "t") == {}
    assert auth_headers("https://raw.githubusercontent.com/a/b/c/d", None) == {}


# --- through the real engine (HTTP mocked with respx) -----------------------------------------


@respx.mock
def test_engine_the_asymo_path_reaches_github_byte_for_byte():
    route = respx.get(host="raw.githubusercontent.com").respond(
        206, headers={"Content-Range": "bytes 0-1023/3145728"}, content=PDF_START
    )
    result = check_through_engine(GitHubService(), ASYMO)
    request = route.calls.last.request
    assert request.url.raw_path == f"/ConstantPark/DL_Compiler/main/{ASYMO_PATH}".encode("ascii")
    assert request.headers["Range"] == "bytes=0-1023"
    assert (result.status, result.size) == (Status.OK, 3145728)


@respx.mock
def test_engine_a_missing_file_is_broken():
    respx.get(TVM_RAW).respond(404, text="404: Not Found")
    respx.get(f"{REPO}/tree/main").respond(200, text="<html>the repository</html>")
    respx.get(TVM).respond(404)
    result = check_through_engine(GitHubService(), TVM)
    assert result.status is Status.BROKEN
    assert result.detail == "file not found: TVM.pdf in ConstantPark/DL_Compiler at main"


@respx.mock
def test_engine_the_token_goes_to_github_and_not_to_a_host_it_redirects_to():
    elsewhere = "https://files.example.org/TVM.pdf"
    first = respx.get(TVM_RAW).respond(302, headers={"Location": elsewhere})
    second = respx.get(elsewhere).respond(200, content=PDF_START)
    settings = dataclasses.replace(ENGINE_SETTINGS, github_token="ghp_secret")
    result = check_through_engine(GitHubService(), TVM, settings)
    assert result.status is Status.OK
    assert first.calls.last.request.headers["Authorization"] == "Bearer ghp_secret"
    assert "Authorization" not in second.calls.last.request.headers


# --- a raw 404 is confirmed with github.com, which follows renames (respx, real engine) -------

MASTER_RAW, MASTER_TREE = f"{RAW}/master/TVM.pdf", f"{REPO}/tree/master"
OLD_REPO, OLD_RAW = "https://github.com/OldOrg/dlc", "https://raw.githubusercontent.com/OldOrg/dlc"
NEW_REPO, NEW_RAW = (
    "https://github.com/NewOrg/dl-compiler",
    "https://raw.githubusercontent.com/NewOrg/dl-compiler",
)
RATE_LIMITED = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000"}


def check_all_through_engine(urls: list[str], settings: Settings = ENGINE_SETTINGS):
    """Several links in one run of the real engine (one service instance); inside respx.mock."""
    from crawler.engine import Engine

    async def main() -> list[LinkResult]:
        async with Engine(
            settings,
            services=[GitHubService()],
            transport=httpx.AsyncHTTPTransport(),
            resolver=public_resolver,
            sleep=no_sleep,
        ) as engine:
            return await engine.check_all([link_for(u) for u in urls])

    return asyncio.run(main())


def pdf_route(url: str) -> respx.Route:
    return respx.get(url).respond(
        206, headers={"Content-Range": "bytes 0-1023/1843200"}, content=PDF_START
    )


@respx.mock
def test_a_renamed_branch_is_redirected_to_the_file_on_the_new_branch():
    respx.get(MASTER_RAW).respond(404, text="404: Not Found")  # raw does not follow renames
    lookup = respx.get(MASTER_TREE).respond(301, headers={"Location": f"{REPO}/tree/main"})
    pdf_route(TVM_RAW)
    result = check_through_engine(GitHubService(), f"{REPO}/blob/master/TVM.pdf")
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(f"{REPO}/blob/main/TVM.pdf", FixKind.CERTAIN, FixSource.GITHUB)
    assert result.detail == "PDF, 1.8 MB; the branch master was renamed to main"
    assert result.final_url == TVM_RAW
    assert list(result.redirects) == [Hop(MASTER_TREE, 301)]
    assert lookup.call_count == 1  # and tree/main was never asked: the redirect is not followed


@respx.mock
def test_a_renamed_repository_is_redirected_to_the_file_at_its_new_name():
    respx.get(f"{OLD_RAW}/main/TVM.pdf").respond(404)
    respx.get(f"{OLD_REPO}/tree/main").respond(301, headers={"Location": f"{NEW_REPO}/tree/main"})
    pdf_route(f"{NEW_RAW}/main/TVM.pdf")
    blob, raw = check_all_through_engine(
        [f"{OLD_REPO}/blob/main/TVM.pdf", f"{OLD_RAW}/main/TVM.pdf"]
    )
    assert blob.status is Status.REDIRECTED
    assert blob.fix == Fix(f"{NEW_REPO}/blob/main/TVM.pdf", FixKind.CERTAIN, FixSource.GITHUB)
    assert blob.detail == "PDF, 1.8 MB; the repository moved to NewOrg/dl-compiler"
    # A raw link is fixed with a raw link: the catalogue's spelling is kept.
    assert raw.fix == Fix(f"{NEW_RAW}/main/TVM.pdf", FixKind.CERTAIN, FixSource.GITHUB)


@respx.mock
def test_a_renamed_repository_whose_branch_was_renamed_too_takes_both_redirects():
    respx.get(f"{OLD_RAW}/master/TVM.pdf").respond(404)
    respx.get(f"{OLD_REPO}/tree/master").respond(
        301, headers={"Location": f"{NEW_REPO}/tree/master"}
    )
    respx.get(f"{NEW_RAW}/master/TVM.pdf").respond(404)  # not on master at the new name
    respx.get(f"{NEW_REPO}/tree/master").respond(
        302, headers={"Location": "/NewOrg/dl-compiler/tree/main"}
    )
    pdf_route(f"{NEW_RAW}/main/TVM.pdf")
    result = check_through_engine(GitHubService(), f"{OLD_REPO}/blob/master/TVM.pdf")
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(f"{NEW_REPO}/blob/main/TVM.pdf", FixKind.CERTAIN, FixSource.GITHUB)
    assert result.detail.endswith(
        "the repository moved to NewOrg/dl-compiler and the branch master was renamed to main"
    )


@respx.mock
def test_a_file_gone_from_a_repository_that_did_not_move_is_broken():
    respx.get(TVM_RAW).respond(404)
    lookup = respx.get(f"{REPO}/tree/main").respond(200)
    blob = respx.get(TVM).respond(404)
    result = check_through_engine(GitHubService(), TVM)
    assert (result.status, result.fix) == (Status.BROKEN, None)
    assert result.detail == "file not found: TVM.pdf in ConstantPark/DL_Compiler at main"
    # Broken once github.com confirmed the branch is still there and the file is not.
    assert (lookup.call_count, blob.call_count) == (1, 1)


@pytest.mark.parametrize(
    ("blob", "words"),
    [
        ({"status_code": 200}, "github.com answered HTTP 200 for the file"),
        (
            {"status_code": 301, "headers": {"Location": f"{REPO}/tree/main/TVM.pdf"}},
            "github.com answered HTTP 301 for the file",
        ),
        ({"status_code": 429}, "github.com answered 429 Too Many Requests"),
    ],
)
@respx.mock
def test_a_raw_404_that_github_com_does_not_confirm_is_unverified(blob, words):
    respx.get(TVM_RAW).respond(404)
    respx.get(f"{REPO}/tree/main").respond(200)
    respx.get(TVM).respond(**blob)
    result = check_through_engine(GitHubService(), TVM)
    assert result.status is Status.UNVERIFIED
    assert result.detail == (
        "file not found: TVM.pdf in ConstantPark/DL_Compiler at main, "
        f"but GitHub did not confirm it is gone ({words})"
    )


@respx.mock
def test_a_raw_refs_heads_link_asks_github_about_the_branch_itself():
    link = f"{RAW}/refs/heads/master/TVM.pdf"
    respx.get(link).respond(404)
    respx.get(MASTER_TREE).respond(301, headers={"Location": f"{REPO}/tree/main"})
    pdf_route(TVM_RAW)
    result = check_through_engine(GitHubService(), link)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(TVM_RAW, FixKind.CERTAIN, FixSource.GITHUB)


@respx.mock
def test_a_repository_or_ref_github_does_not_know_is_broken():
    respx.get(TVM_RAW).respond(404)
    respx.get(f"{REPO}/tree/main").respond(404)
    blob = respx.get(TVM).respond(404)
    result = check_through_engine(GitHubService(), TVM)
    assert result.status is Status.BROKEN
    assert result.detail == (
        "file not found: TVM.pdf in ConstantPark/DL_Compiler at main "
        "(no such repository or ref on GitHub (or a private one))"
    )
    assert blob.call_count == 1


@respx.mock
def test_a_branch_with_a_slash_is_not_judged_by_its_first_segment_alone():
    # "feature/x" reads as ref "feature" and path "x/TVM.pdf": github.com has no tree/feature,
    # yet its blob page redirects (the branch was renamed): not a confirmed loss.
    link = f"{REPO}/blob/feature/x/TVM.pdf"
    respx.get(f"{RAW}/feature/x/TVM.pdf").respond(404)
    respx.get(f"{REPO}/tree/feature").respond(404)
    respx.get(link).respond(301, headers={"Location": f"{REPO}/blob/feature/y/TVM.pdf"})
    result = check_through_engine(GitHubService(), link)
    assert result.status is Status.UNVERIFIED
    assert result.detail.endswith(
        "but GitHub did not confirm it is gone "
        f"(github.com redirected to {REPO}/blob/feature/y/TVM.pdf)"
    )


@respx.mock
def test_a_file_missing_at_the_new_place_too_is_broken_and_says_where_it_looked():
    respx.get(MASTER_RAW).respond(404)
    respx.get(MASTER_TREE).respond(301, headers={"Location": f"{REPO}/tree/main"})
    respx.get(TVM_RAW).respond(404)
    respx.get(f"{REPO}/tree/main").respond(200)
    respx.get(TVM).respond(404)
    result = check_through_engine(GitHubService(), f"{REPO}/blob/master/TVM.pdf")
    assert (result.status, result.fix) == (Status.BROKEN, None)
    assert result.detail == (
        "file not found: TVM.pdf in ConstantPark/DL_Compiler at main "
        "(the branch master was renamed to main; not there either)"
    )


@pytest.mark.parametrize(
    ("lookup", "words"),
    [
        ({"status_code": 403, "headers": RATE_LIMITED}, "GitHub rate limit reached (resets at"),
        ({"status_code": 429, "headers": RATE_LIMITED}, "GitHub rate limit reached (resets at"),
        ({"status_code": 429}, "github.com answered 429 Too Many Requests"),
        ({"status_code": 503}, "github.com answered 503 Service Unavailable"),
        ({"status_code": 403}, "github.com answered 403 Forbidden"),
        (
            {"status_code": 302, "headers": {"Location": "https://github.com/login"}},
            "github.com redirected to https://github.com/login",
        ),
    ],
)
@respx.mock
def test_a_lookup_without_a_definitive_answer_leaves_the_link_unverified(lookup, words):
    respx.get(MASTER_RAW).respond(404)
    respx.get(MASTER_TREE).respond(**lookup)
    result = check_through_engine(GitHubService(), f"{REPO}/blob/master/TVM.pdf")
    assert result.status is Status.UNVERIFIED
    assert result.detail.startswith(
        "file not found: TVM.pdf in ConstantPark/DL_Compiler at master, "
        "but GitHub did not confirm it is gone ("
    )
    assert words in result.detail, result.detail


@respx.mock
def test_a_lookup_that_times_out_leaves_the_link_unverified_as_a_network_failure():
    respx.get(MASTER_RAW).respond(404)
    respx.get(MASTER_TREE).mock(side_effect=httpx.ConnectTimeout("slow"))
    result = check_through_engine(GitHubService(), f"{REPO}/blob/master/TVM.pdf")
    assert (result.status, result.network_error) == (Status.UNVERIFIED, True)
    assert "timed out" in result.detail


@respx.mock
def test_github_is_asked_once_per_repository_and_ref_in_a_run():
    names = ["TVM.pdf", "XLA.pdf", "Glow.pdf"]
    for name in names:
        respx.get(f"{RAW}/master/{name}").respond(404)
        pdf_route(f"{RAW}/main/{name}")
    respx.get(
        f"https://raw.githubusercontent.com/constantpark/DL_Compiler/master/{names[2]}"
    ).respond(404)
    respx.get(f"{RAW}/v1/Old.pdf").respond(404)
    master = respx.get(MASTER_TREE).respond(301, headers={"Location": f"{REPO}/tree/main"})
    v1 = respx.get(f"{REPO}/tree/v1").respond(200)
    respx.get(f"{REPO}/blob/v1/Old.pdf").respond(404)
    # "constantpark" is the same repository: owner and repository names ignore case.
    urls = [f"{REPO}/blob/master/{n}" for n in names[:2]]
    urls += [f"https://github.com/constantpark/DL_Compiler/blob/master/{names[2]}"]
    urls += [f"{REPO}/blob/v1/Old.pdf", f"{RAW}/v1/Old.pdf"]
    results = check_all_through_engine(urls)
    assert [r.status for r in results] == [Status.REDIRECTED] * 3 + [Status.BROKEN] * 2
    assert (master.call_count, v1.call_count) == (1, 1)


@respx.mock
def test_the_lookup_sends_the_token_to_github():
    respx.get(MASTER_RAW).respond(404)
    lookup = respx.get(MASTER_TREE).respond(301, headers={"Location": f"{REPO}/tree/main"})
    pdf_route(TVM_RAW)
    settings = dataclasses.replace(ENGINE_SETTINGS, github_token="ghp_secret")
    check_through_engine(GitHubService(), f"{REPO}/blob/master/TVM.pdf", settings)
    assert lookup.calls.last.request.headers["Authorization"] == "Bearer ghp_secret"


def test_the_github_hosts_are_the_real_ones_unless_a_test_says_otherwise(monkeypatch):
    gh = link_for(TVM)
    assert GitHubHosts.from_environment() == GitHubHosts()
    assert GitHubHosts().real(TVM_RAW) == TVM_RAW
    monkeypatch.setenv(
        "CRAWLER_TEST_GITHUB_HOSTS", "http://127.0.0.1:9/web/ http://127.0.0.1:9/raw"
    )
    hosts = GitHubHosts.from_environment()
    assert (
        hosts.raw_url(github_file(gh.url))
        == "http://127.0.0.1:9/raw/ConstantPark/DL_Compiler/main/TVM.pdf"
    )
    assert hosts.real("http://127.0.0.1:9/web/O/R/tree/main") == "https://github.com/O/R/tree/main"
    assert hosts.real("http://127.0.0.1:9/rawx") == "http://127.0.0.1:9/rawx"
    # The token is for the real GitHub hosts only, whatever the test hosts are.
    assert auth_headers(hosts.raw_url(github_file(gh.url)), "t") == {}
    monkeypatch.setenv("CRAWLER_TEST_GITHUB_HOSTS", "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="WEB_BASE RAW_BASE"):
        GitHubHosts.from_environment()
