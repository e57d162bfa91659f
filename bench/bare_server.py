"""The floor for the start-up benchmark: a bare SDK server with one tool, over stdio.

    python bench/bare_server.py [ANSWER.json]

It does the protocol work our server does for a first call and nothing else: the same
`MCPServer`, `initialize`, one `tools/call` whose arguments it accepts as an object, and a
`tools/list` the client asks for to validate the result. Given ANSWER.json (written by
`bench/bench_startup.py` from our server in the same run: score_creator's output schema, text and
structured content), its tool declares that output schema and answers that content, so the
client's schema compilation and validation cost the same on both sides. What it skips is exactly
what the benchmark measures: our imports, our build and the scoring.
"""

import json
import sys
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent

STORED: dict[str, Any] = (
    json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")) if len(sys.argv) > 1 else {}
)


def echo(metrics: dict[str, Any] | None = None) -> CallToolResult:
    """Answer the stored content (or the number of metrics sent, without ANSWER.json)."""
    if not STORED:
        return CallToolResult(content=[TextContent(type="text", text=str(len(metrics or {})))])
    return CallToolResult(
        content=[TextContent(type="text", text=STORED["text"])],
        structured_content=STORED["structured"],
    )


tool = Tool.from_function(echo, name="echo", description="Answer the stored content.")
if STORED:
    # Tool.output_schema is a cached property; the stored schema takes the place of its value.
    vars(tool)["output_schema"] = STORED["output_schema"]
server = MCPServer("bare", tools=[tool])

if __name__ == "__main__":
    server.run()
