"""``badge.json``: a shields.io endpoint badge (https://shields.io/badges/endpoint-badge).

Message: ``"58/60 ok"`` (links answering ``ok`` out of the links checked online). Colour, by the
worst thing in the run:

- ``red``: a broken or duplicated link, or any error finding (wrong video, escalated, …);
- ``orange``: a redirected link (works today, but the catalogue should be updated);
- ``yellow``: an unverified or skipped link (we could not check it; it may well be fine);
- ``brightgreen``: everything ok;
- ``lightgrey``: nothing was checked — an offline run (``"not checked"``), a run without
  network or whose links were all skipped (``"not verified"``, never a green "0/0 ok"); red
  all the same when the catalogue alone shows a problem (``"not checked, 1 duplicated"``).

Redirected is worse than unverified, as in ``model.STATUS_RANK``: a redirect is a definite answer
that needs an edit, an unverified link is only a doubt.
"""

from __future__ import annotations

import json

from crawler.model import RunReport, Severity
from crawler.report.common import summarize


def badge(report: RunReport) -> dict[str, object]:
    s = summarize(report)
    errors = any(f.severity == Severity.ERROR for f in report.findings)
    nothing_verified = report.network_unreachable or s.skipped == s.links
    unchecked = report.offline or (nothing_verified and s.ok + s.redirected + s.broken == 0)
    if unchecked:
        message, color = ("not checked" if report.offline else "not verified"), "lightgrey"
        # What the catalogue alone shows (a duplicated video) is known without the network.
        if s.duplicated:
            message, color = f"{message}, {s.duplicated} duplicated", "red"
        elif errors:
            message, color = f"{message}, catalogue errors", "red"
    else:
        message = f"{s.ok}/{s.checked} ok"
        if s.broken or s.duplicated or errors:
            color = "red"
        elif s.redirected:
            color = "orange"
        elif s.unverified or s.skipped:  # online, a skipped link was not verified either
            color = "yellow"
        else:
            color = "brightgreen"
    return {"schemaVersion": 1, "label": "links", "message": message, "color": color}


def render(report: RunReport) -> str:
    return json.dumps(badge(report), indent=2, ensure_ascii=False) + "\n"
