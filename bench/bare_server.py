"""The floor for the start-up benchmark: a bare SDK server with one trivial tool, over stdio."""

from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(value: int = 1) -> int:
    """Return the value."""
    return value


if __name__ == "__main__":
    server.run()
