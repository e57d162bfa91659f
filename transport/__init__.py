"""The transports: how MCP messages reach a built server and its answers leave it.

`transport.stdio` serves a server over stdin/stdout, `transport.http` over streamable HTTP
behind one ASGI guard (token, Host and Origin allow-lists, body limit, sessions);
`transport._json` holds the JSON-RPC helpers both share (the nesting guard, reading an id
from a message too broken to parse whole). The entry (`server.py`, `cli.py`) builds the
server and hands it here; nothing in this package imports the entry or a tool adapter.
"""
