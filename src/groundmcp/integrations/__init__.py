"""Front ends for other frameworks, over the same Engine the CLI and the MCP tools use.

Each module here needs its framework installed (an optional extra) and is imported only by users;
the engine never imports them.
"""
