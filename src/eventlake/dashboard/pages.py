"""Server-rendered page shells: a shared layout around one page body; data comes from the API.

No template engine: the layout has a handful of ``{{name}}`` slots filled with escaped text.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources

from eventlake import __version__

PAGES = ("pipeline", "dashboards", "dashboard", "query", "error")
NAV = (("pipeline", "/pipeline", "Pipeline"), ("dashboards", "/dashboards", "Dashboards"), ("query", "/query", "Query"))


@cache
def _template(name: str) -> str:
    return (resources.files("eventlake.dashboard") / "templates" / f"{name}.html").read_text("utf-8")


def render_page(page: str, title: str, *, name: str = "", message: str = "") -> str:
    """The HTML of one page; `name` (a dashboard) and `message` (an error) are escaped."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page}")
    active = "dashboards" if page == "dashboard" else page
    nav = "".join(f'<a href="{href}"{" class=active" if key == active else ""}>{label}</a>' for key, href, label in NAV)
    body = _template(page).replace("{{message}}", html.escape(message))
    shell = (
        _template("layout")
        .replace("{{nav}}", nav)
        .replace("{{title}}", html.escape(title))
        .replace("{{page}}", page)
        .replace("{{name}}", html.escape(name, quote=True))
        .replace("{{version}}", __version__)
    )
    # The body goes in last, so text inside it is never taken for a slot.
    return shell.replace("{{body}}", body)
