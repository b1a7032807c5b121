""" "Did you mean": the closest file in a GitHub repository's tree to one not found there.

The tree comes from ``GET /repos/O/R/git/trees/REF?recursive=1`` (once per repository and ref
in a run, shared by its links; the token when there is one). Close means, in this order: the
same name in another folder; a name equal once case, spaces, underscores, hyphens and
percent-escapes are set aside; a name a small edit away. Nothing close, no suggestion.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import unicodedata
from urllib.parse import quote, unquote

from crawler.hosts import GitHubFile
from crawler.model import Fix, FixKind, FixSource
from crawler.services.base import CheckContext
from crawler.services.github import auth_headers, github_token

MAX_TREE_BYTES = 32 * 1024 * 1024  # GitHub itself truncates a tree at 100,000 entries / 7 MB
# difflib's ratio a name must reach to count as "a small edit away" (one or two characters in
# a typical file name; "TVM.pdf" vs "XLA.pdf" stays far below).
CLOSE_RATIO = 0.85
_SEPARATORS = re.compile(r"[\s_\-]+")


def _loose(name: str) -> str:
    """``name`` with case, spaces, underscores, hyphens and percent-escapes set aside."""
    return _SEPARATORS.sub("", _nfc(unquote(name)).casefold())


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def closest(path: str, files: list[str]) -> str | None:
    """The file of ``files`` (paths in the tree) closest to ``path`` (as written, escapes and
    all), or None when none is close."""
    wanted = _nfc(unquote(path))
    name = wanted.rsplit("/", 1)[-1]
    by_name = [f for f in files if _nfc(f.rsplit("/", 1)[-1]) == name]
    if by_name:  # the same name in another folder: the one whose folder is most alike
        return max(by_name, key=lambda f: difflib.SequenceMatcher(None, f, wanted).ratio())
    loose = _loose(wanted)
    same = [f for f in files if _loose(f) == loose]
    if not same:
        same = [f for f in files if _loose(f.rsplit("/", 1)[-1]) == _loose(name)]
    if same:
        return same[0]
    names: dict[str, str] = {}
    for f in files:
        names.setdefault(_nfc(f.rsplit("/", 1)[-1]), f)
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=CLOSE_RATIO)
    return names[close[0]] if close else None


def blob_url(gh: GitHubFile, path: str) -> str:
    return f"https://github.com/{gh.owner}/{gh.repo}/blob/{gh.ref}/{quote(path, safe='/')}"


class Trees:
    """The repositories' trees, each asked once per run (concurrent askers share the answer)."""

    def __init__(self, ctx: CheckContext, api: str):
        self.ctx = ctx
        self.api = api
        self._trees: dict[tuple[str, str, str], asyncio.Task[list[str] | None]] = {}

    async def did_you_mean(self, gh: GitHubFile) -> Fix | None:
        key = (gh.owner, gh.repo, gh.ref)
        task = self._trees.get(key)
        if task is None:
            task = self._trees[key] = asyncio.ensure_future(self._tree(gh))
        files = await asyncio.shield(task)
        found = closest(gh.path, files) if files else None
        if found is None or _nfc(found) == _nfc(unquote(gh.path)):
            return None
        return Fix(blob_url(gh, found), FixKind.SUGGESTED, FixSource.GITHUB_TREE)

    async def _tree(self, gh: GitHubFile) -> list[str] | None:
        ref = gh.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        url = f"{self.api}/repos/{gh.owner}/{gh.repo}/git/trees/{quote(ref, safe='')}?recursive=1"
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        headers |= auth_headers(url, github_token(self.ctx.settings))
        answer = await self.ctx.fetch(url, headers=headers, max_bytes=MAX_TREE_BYTES)
        if answer.status != 200:
            return None
        try:
            tree = json.loads(answer.body)["tree"]
            return [e["path"] for e in tree if e.get("type") == "blob"]
        except (ValueError, KeyError, TypeError):  # cut short, or not GitHub's answer
            return None
