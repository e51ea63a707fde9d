"""The dashboard page: one Jinja2 template, rendered live (assets linked) or self-contained.

The live page (``GET /``) links its scripts from ``/dashboard/assets/``; the static report
inlines them, so the file opens offline. Both embed the same :class:`DashboardData` JSON, from
which the page's script draws the charts with the bundled Vega-Lite.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from leadpersona.domain.persona import CORE_FEATURES
from leadpersona.domain.segmentation import COMPANY_TYPES
from leadpersona.services.dashboard import DashboardData
from leadpersona.services.tables import dashboard_tables, pct

__all__ = ["ASSETS", "ASSET_PREFIX", "asset_bytes", "render_page"]

_HERE = Path(__file__).resolve().parent
_STATIC = _HERE / "static"

#: Files the page uses: public name → (path under ``static/``, media type). Only these are
#: served, so no request path ever reaches the file system.
ASSETS: Final[dict[str, tuple[str, str]]] = {
    "dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "vega.min.js": ("vendor/vega.min.js", "text/javascript; charset=utf-8"),
    "vega-lite.min.js": ("vendor/vega-lite.min.js", "text/javascript; charset=utf-8"),
    "vega-embed.min.js": ("vendor/vega-embed.min.js", "text/javascript; charset=utf-8"),
    "dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
}
#: Load order of the scripts (vega-embed needs vega and vega-lite; the page needs all three).
_SCRIPTS: Final = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboard.js")
#: Where the live page finds its assets (relative, so the app can sit under a path prefix).
ASSET_PREFIX: Final = "dashboard/assets/"

_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


@cache
def asset_bytes(name: str) -> bytes:
    """The content of one asset (``KeyError`` for a name not in :data:`ASSETS`)."""
    relative, _ = ASSETS[name]
    return (_STATIC / relative).read_bytes()


def _inline(name: str) -> str:
    # Text inside <script>/<style> ends at the first "</script"; escape it so that the HTML
    # parser never closes the element early ("<\/" means the same in JavaScript strings).
    return _SCRIPT_END.sub(r"<\\/\1", asset_bytes(name).decode("utf-8"))


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    environment.filters["pct"] = pct
    return environment


def render_page(data: DashboardData, *, live: bool, token_required: bool = False) -> str:
    """The dashboard as HTML. ``live``: served by the API (assets linked, lead search and
    editing shown); otherwise a self-contained file (every asset inlined, no network)."""
    template = _environment().get_template("dashboard.html")
    assets = {} if live else {name: _inline(name) for name in ASSETS}
    return template.render(
        data=data,
        data_json=data.model_dump(mode="json"),
        tables=dashboard_tables(data),
        live=live,
        inline=not live,
        assets=assets,
        asset_url=ASSET_PREFIX,
        scripts=_SCRIPTS,
        token_required=token_required,
        core_features=CORE_FEATURES,
        company_types=COMPANY_TYPES,
    )
