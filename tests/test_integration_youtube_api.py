"""End to end: the unmodified CLI with a YouTube Data API key, against a local server playing
the API (``CRAWLER_TEST_YOUTUBE_API``) and YouTube itself answering with its bot wall.

YouTube is reached through the CONNECT proxy of ``test_integration``, over TLS with this
test's own CA: yt-dlp and oEmbed ask www.youtube.com as in a real run, and meet "Sign in to
confirm you're not a bot" as a CI runner does. Without a key the video stays unverified; with
one it is ``ok`` with its title and duration. Every file the run writes and everything it
prints is searched for the key.
"""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer
from test_integration import ConnectProxy, by_url, run_cli, write_catalog
from werkzeug import Request, Response

KEY = "AIzaSyD-integration-key-0123456789abcd"
VIDEO_ID = "wzy1QMci_Zs"
GONE_ID = "AAAAAAAAAAA"
URL, GONE_URL = f"https://youtu.be/{VIDEO_ID}", f"https://youtu.be/{GONE_ID}"
BOT_WALL = "Sign in to confirm you’re not a bot"
PLAYER = {
    "playabilityStatus": {
        "status": "LOGIN_REQUIRED",
        "reason": BOT_WALL,
        "errorScreen": {"playerErrorMessageRenderer": {"reason": {"simpleText": BOT_WALL}}},
    }
}
SESSIONS = [
    {"title": "TVM An Automated Compiler", "date": "2021-02-25", "video": URL},
    {"title": "Ansor Tensor Programs", "date": "2021-03-04", "video": GONE_URL},
]


def youtube(request: Request) -> Response:
    """www.youtube.com to a datacenter address: the bot wall everywhere, oEmbed refusing."""
    if request.path == "/oembed":
        return Response("Unauthorized", status=401)
    if request.path.startswith("/youtubei/"):
        return Response(json.dumps(PLAYER), content_type="application/json")
    if request.path == "/watch":
        page = f"<html><script>var ytInitialPlayerResponse = {json.dumps(PLAYER)};</script></html>"
        return Response(page, content_type="text/html; charset=utf-8")
    return Response("Not Found", status=404)


def data_api(request: Request) -> Response:
    """The Data API: the one video it knows, only for the right key in its header."""
    if request.headers.get("X-Goog-Api-Key") != KEY:
        error = {"code": 400, "message": "API key not valid.", "errors": [{"reason": "keyInvalid"}]}
        return Response(json.dumps({"error": error}), status=400, content_type="application/json")
    asked = request.args.get("id", "").split(",")
    items = [
        {
            "id": VIDEO_ID,
            "snippet": {
                "title": "TVM: An Automated End-to-End Optimizing Compiler",
                "channelTitle": "DL Compiler Study",
                "publishedAt": "2021-02-25T12:00:00Z",
            },
            "contentDetails": {"duration": "PT1H2M3S"},
            "status": {"uploadStatus": "processed", "privacyStatus": "public", "embeddable": True},
        }
    ]
    listing = {"items": [i for i in items if i["id"] in asked]}
    return Response(json.dumps(listing), content_type="application/json")


@pytest.fixture
def youtube_server() -> Iterator[tuple[HTTPServer, trustme.CA]]:
    ca = trustme.CA()
    cert = ca.issue_cert("www.youtube.com", "youtube.com", "youtu.be")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    server.expect_request(re.compile(".*")).respond_with_handler(youtube)
    yield server, ca
    server.clear()
    if server.is_running():
        server.stop()


def environment(proxy: ConnectProxy, api: HTTPServer, ca_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "YOUTUBE_API_KEY"}
    env.update(
        HTTPS_PROXY=proxy.url,
        HTTP_PROXY=proxy.url,
        NO_PROXY="127.0.0.1,localhost",  # the API's stand-in is asked directly
        SSL_CERT_FILE=str(ca_file),
        CRAWLER_TEST_YOUTUBE_API=api.url_for("/youtube/v3"),
    )
    return env


@pytest.fixture
def world(youtube_server, httpserver: HTTPServer, tmp_path) -> Iterator[tuple[Path, dict]]:
    """The catalogue, and the environment of a run that reaches YouTube through the proxy."""
    server, ca = youtube_server
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    httpserver.expect_request("/youtube/v3/videos").respond_with_handler(data_api)
    catalog = write_catalog(tmp_path / "catalog.yaml", SESSIONS)
    with ConnectProxy(server.port) as proxy:
        yield catalog, environment(proxy, httpserver, ca_file)


def test_the_api_gives_a_verdict_title_and_duration_where_the_bot_wall_gives_none(
    world, youtube_server, httpserver: HTTPServer, tmp_path
):
    catalog, env = world
    youtube_log = youtube_server[0].log
    # Without a key: the bot wall, and oEmbed refusing, leave both videos unverified.
    control = run_cli(catalog, tmp_path / "control", "--allow-private", env=env)
    asked_youtube = len(youtube_log)
    env["YOUTUBE_API_KEY"] = KEY
    done = run_cli(catalog, tmp_path / "reports", "--allow-private", "-v", env=env)

    assert control.returncode == 3, control.stdout + control.stderr
    before = by_url(tmp_path / "control")[URL]
    assert before["status"] == "unverified" and "bot check" in before["detail"]
    assert before["source"] == "yt-dlp" and before["duration"] is None

    assert done.returncode == 1, done.stdout + done.stderr  # the deleted video is broken
    links = by_url(tmp_path / "reports")
    video, gone = links[URL], links[GONE_URL]
    assert (video["status"], video["source"]) == ("ok", "api"), video["detail"]
    assert video["title"] == "TVM: An Automated End-to-End Optimizing Compiler"
    assert (video["duration"], video["uploader"], video["upload_date"]) == (
        3723,
        "DL Compiler Study",
        "20210225",
    )
    assert (gone["status"], gone["source"]) == ("broken", "api")
    assert "no public video with this id" in gone["detail"]
    markdown = (tmp_path / "reports" / "latest.md").read_text(encoding="utf-8")
    assert "Video verdicts: 2 from the YouTube Data API" in markdown
    # One call for both videos; neither yt-dlp nor oEmbed asked YouTube.
    assert asked_youtube > 0 and len(youtube_log) == asked_youtube
    assert len(httpserver.log) == 1
    assert set(httpserver.log[0][0].args["id"].split(",")) == {VIDEO_ID, GONE_ID}
    assert_key_nowhere(KEY, tmp_path / "reports", done)


def test_a_refused_key_falls_back_says_so_once_and_is_never_shown(world, tmp_path):
    catalog, env = world
    wrong = "AIzaSyD-revoked-key-9876543210zyxwvu"
    env["CRAWLER_KEY"] = wrong
    args = ("--allow-private", "-v", "--youtube-api-key-env", "CRAWLER_KEY")
    done = run_cli(catalog, tmp_path / "reports", *args, env=env)

    # Nothing broken: the videos went to yt-dlp and met the bot wall.
    assert done.returncode == 3, done.stdout + done.stderr
    links = by_url(tmp_path / "reports")
    assert {links[URL]["status"], links[GONE_URL]["status"]} == {"unverified"}
    said = "YouTube Data API not used for the rest of this run: the key is not valid (keyInvalid)"
    assert done.stdout.count(said) == 1
    data = json.loads((tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"))
    assert len(data["notes"]) == 1 and said in data["notes"][0]
    markdown = (tmp_path / "reports" / "latest.md").read_text(encoding="utf-8")
    header = markdown.split("## Needs attention")[0]
    assert header.count("YouTube Data API not used for the rest of this run") == 1
    assert markdown.count("the key is not valid") == 1
    assert_key_nowhere(wrong, tmp_path / "reports", done)


def test_a_key_variable_named_but_unset_is_a_usage_error(tmp_path):
    catalog = write_catalog(tmp_path / "catalog.yaml", SESSIONS[:1])
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_KEY"}
    done = run_cli(catalog, tmp_path / "reports", "--youtube-api-key-env", "NO_SUCH_KEY", env=env)
    assert done.returncode == 2
    assert "NO_SUCH_KEY is not set" in done.stderr


def assert_key_nowhere(key: str, report_dir: Path, done) -> None:
    """The key in no file the run wrote (reports, temporary files) and nothing it printed."""
    written = [p for p in report_dir.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"latest.json", "latest.md", "badge.json"}
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    assert key not in done.stdout and key not in done.stderr
    assert done.stderr  # -v: the debug log was there to search
