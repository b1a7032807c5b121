"""Import the study README (``# Title``, ``Presenter:/Date:/PPT:/Video:`` lines) into a catalogue.

The README is hand-written, so the parser is forgiving: tabs or spaces, CRLF, trailing whitespace,
``-`` for "none", ``February, 25, 2021`` or ``Feb 25 2021``, a misspelt month. Whatever it cannot
make sense of becomes a warning naming the line — a session is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from crawler.fields import is_email
from crawler.hosts import github_file

MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
_FIELD = re.compile(r"^\s*(presenters?|speakers?|date|ppt|slides?|video)\s*:\s*(.*?)\s*$", re.I)
_NONE = {"", "-", "—", "–", "n/a", "none", "tbd"}

HEADER = (
    "# The study's talks: the single source of truth for `python -m crawler check`.\n"
    "# Imported from the study's README (`python -m crawler import README.md`); edit it here.\n"
)


@dataclass
class ImportedSession:
    title: str
    line: int
    date: dt.date | None = None
    presenters: list[dict[str, str]] = field(default_factory=list)
    slides: str | None = None
    video: str | None = None


@dataclass
class ImportResult:
    study_title: str
    repository: str | None
    sessions: list[ImportedSession]
    warnings: list[str]


def parse_date(text: str) -> tuple[dt.date | None, str | None]:
    """Parse the README's date forms; returns (date, warning-or-None)."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text), None
    except ValueError:
        pass
    words = [w for w in re.split(r"[\s,./]+", text) if w]
    month_words = [w for w in words if w.isalpha()]
    numbers = [w for w in words if w.isdigit()]
    if len(month_words) != 1 or len(numbers) != 2:
        return None, f"cannot read the date {text!r} (expected e.g. 'February, 25, 2021')"
    word = month_words[0].lower()
    warning = None
    candidates = [m for m in MONTHS if m.startswith(word)] if len(word) >= 3 else []
    if len(candidates) == 1:
        month = MONTHS.index(candidates[0]) + 1
    else:
        close = difflib.get_close_matches(word, MONTHS, n=1, cutoff=0.6)
        if not close:
            return None, f"cannot read the month {month_words[0]!r} in {text!r}"
        month = MONTHS.index(close[0]) + 1
        warning = f"read the month {month_words[0]!r} as {close[0].capitalize()}"
    day, year = (int(n) for n in numbers)
    if day > 31 and year <= 31:  # "2021, 25" order
        day, year = year, day
    try:
        return dt.date(year, month, day), warning
    except ValueError as exc:
        return None, f"the date {text!r} is impossible ({exc})"


def _split_presenters(text: str) -> list[str]:
    """Split 'A (a@x), B (b@y) & C' on separators that are outside parentheses."""
    parts, depth, current = [], 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if depth == 0 and (ch in ",&;/" or text[i : i + 5].lower() == " and "):
            parts.append(current)
            current = ""
            i += 5 if text[i : i + 5].lower() == " and " else 1
            continue
        current += ch
        i += 1
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_presenters(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """'Tee Jung (naey05@gmail.com, https://b.mytears.org/)' → [{name, email, url}]."""
    people, problems = [], []
    for part in _split_presenters(text):
        match = re.match(r"^(.*?)\s*(?:\((.*)\))?\s*$", part)
        name = (match.group(1) if match else part).strip()
        person: dict[str, str] = {"name": name}
        for item in (match.group(2) or "").split(",") if match else []:
            item = item.strip()
            if not item:
                continue
            if is_email(item):
                person.setdefault("email", item)
            elif re.match(r"^https?://", item, re.I):
                person.setdefault("url", item)
            elif "@" in item:
                problems.append(f"{item!r} in presenter {name!r} is not an e-mail address")
            else:
                problems.append(f"did not understand {item!r} in presenter {name!r}")
        if not name:
            problems.append(f"a presenter without a name in {text!r}")
            continue
        people.append(person)
    return people, problems


def parse_readme(text: str, source: str = "README.md") -> ImportResult:
    """Parse the study README into sessions, collecting warnings as 'README.md:LINE: …'."""
    warnings: list[str] = []
    sessions: list[ImportedSession] = []
    study_title = ""
    current: ImportedSession | None = None
    seen_fields: set[str] = set()

    def warn(line: int, what: str, session: ImportedSession | None = None) -> None:
        who = f'session "{session.title}": ' if session else ""
        warnings.append(f"{source}:{line}: {who}{what}")

    def finish(session: ImportedSession | None) -> None:
        if session is None:
            return
        for needed in ("date", "presenter"):
            if needed not in seen_fields:
                warn(session.line, f"no {needed.capitalize()}: line", session)
        sessions.append(session)

    # Markdown's line breaks only: str.splitlines would also split on \x85, \u2028, \x0c…
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s*(.*?)\s*#*\s*$", line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            if level == 1:
                finish(current)
                current = ImportedSession(title=title, line=number)
                seen_fields = set()
                if not title:
                    warn(number, "a session heading without a title")
            elif not study_title and not sessions and current is None:
                study_title = title
            continue
        match = _FIELD.match(line)
        if not match:
            if current is not None and line.strip() and not line.lstrip().startswith(("<", "!")):
                warn(
                    number,
                    f"ignored a line that is not Presenter/Date/PPT/Video: {line.strip()!r}",
                    current,
                )
            continue
        if current is None:
            warn(number, f"a {match.group(1)} line before any '# Title' heading was ignored")
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key.startswith(("presenter", "speaker")):
            seen_fields.add("presenter")
            people, problems = parse_presenters(value)
            current.presenters.extend(people)
            for problem in problems:
                warn(number, problem, current)
        elif key == "date":
            seen_fields.add("date")
            current.date, date_problem = parse_date(value)
            if date_problem:
                warn(number, date_problem, current)
        else:
            fld = "video" if key == "video" else "slides"
            url = None if value.lower() in _NONE else value
            if url and not re.match(r"^https?://\S+$", url, re.I):
                warn(number, f"{fld}: {url!r} is not a URL; kept as written", current)
            setattr(current, fld, url)
    finish(current)
    # In file order: the end-of-session checks would otherwise come after later lines.
    warnings.sort(key=lambda w: int(m.group(1)) if (m := re.match(r"[^:]*:(\d+):", w)) else 0)
    if not sessions:
        warnings.append(f"{source}: no sessions found (expected '# Title' headings)")
    return ImportResult(
        study_title=study_title or "Study",
        repository=_infer_repository(sessions),
        sessions=sessions,
        warnings=warnings,
    )


def _infer_repository(sessions: list[ImportedSession]) -> str | None:
    """The study's repository is where most of its GitHub-hosted slides live."""
    repos: Counter[str] = Counter()
    for s in sessions:
        gh = github_file(s.slides) if s.slides else None
        if gh:
            repos[f"https://github.com/{gh.owner}/{gh.repo}"] += 1
    return repos.most_common(1)[0][0] if repos else None


def to_yaml(result: ImportResult) -> str:
    """Render the catalogue in its committed shape (stable: importing twice gives equal text)."""
    doc = CommentedMap()
    study = CommentedMap()
    study["title"] = result.study_title
    if result.repository:
        study["repository"] = result.repository
    doc["study"] = study
    items = CommentedSeq()
    for s in result.sessions:
        entry = CommentedMap()
        entry["title"] = DoubleQuotedScalarString(s.title)
        entry["date"] = s.date
        people = CommentedSeq()
        for p in s.presenters:
            person = CommentedMap()
            for key in ("name", "email", "url"):
                if key in p:
                    person[key] = p[key]
            people.append(person)
        entry["presenters"] = people
        entry["slides"] = s.slides
        entry["video"] = s.video
        items.append(entry)
    doc["sessions"] = items
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold a long URL or title across lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(doc, out)
    body = out.getvalue()
    # Blank line between sessions, for a readable diff when one is added.
    body = re.sub(r"\n(  - title:)", r"\n\n\1", body).replace("sessions:\n\n", "sessions:\n", 1)
    return HEADER + body


def import_readme(path: str | Path) -> ImportResult:
    path = Path(path)
    return parse_readme(path.read_text(encoding="utf-8"), source=path.name)
