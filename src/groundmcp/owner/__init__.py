"""The resident owner of a data dir: one process opens the Engine once and serves the MCP app on a
Unix socket, so a CLI `search` costs a process start and a socket round trip, not a model load.

Who owns a data dir is decided by one file lock, never by the socket:
- `owner.lock` is held (flock, exclusive) by the owner for its whole life, and holds its pid. A
  process that cannot take it is not the owner and exits quietly; a killed owner's lock is freed
  by the kernel, so a lock that can be taken means no owner, whatever files lie about.
- `owner.sock` is bound only by the lock's holder, after the Engine is open (a socket that
  accepts is an owner that can answer), and unlinked by it before it lets the lock go. A socket
  file that refuses connections is a dead owner's: the next owner unlinks it and binds anew.
- `owner.start` serialises the clients that find no live owner: the first starts one and waits
  for its socket; the others wait on that lock, then find the socket live. So racing clients
  start one owner.

The socket is 0600 and the data dir 0700: only the same user can connect, which is the whole
authentication (the app runs without tokens, as a local stdio server would). The front ends that
forward other clients' requests (owner/bridge.py: `serve` over stdio or HTTP) name each request's
grant in a header (server/auth.py ForwardedGrant): their own roots, and an HTTP token's limits, so
the owner's tools apply the same rules as the bridge's own server would.
"""
