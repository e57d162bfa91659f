"""The scorecard's view: the ``ui://`` resource that ``show_scorecard`` is bound to.

Kept apart from the tool (``tools/scorecard.py``) so that a server registers the view at start
without importing the scorecard's core modules, which load when the tool is first built.
"""

from mcp.server.apps import Apps

from prompts import TEMPLATE_DIR

__all__ = ["SCORECARD_HTML", "SCORECARD_URI", "apps"]

SCORECARD_URI = "ui://creator-kpi/scorecard.html"
#: The built, self-contained view (see tools/scorecard.py's docstring for how it is made).
SCORECARD_HTML = TEMPLATE_DIR / "scorecard.html"


def apps() -> Apps:
    """The Apps extension carrying the scorecard view (pass it to ``MCPServer(extensions=...)``).

    Reads the built view from disk once, when the server is built.
    """
    extension = Apps()
    extension.add_html_resource(
        SCORECARD_URI,
        SCORECARD_HTML.read_text(encoding="utf-8"),
        name="scorecard",
        title="Creator scorecard",
        description=(
            "Interactive view of show_scorecard's result: overall score and band, the 13 KPIs "
            "against their benchmarks, bottlenecks, recommendations, tiered vs equal weights "
            "and a what-if form. Self-contained: it loads nothing from the network."
        ),
        prefers_border=True,
    )
    return extension
