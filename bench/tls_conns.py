#!/usr/bin/env python3
"""bench/run.sh's TLS helper (standard library only; loopback, bounded in count and time).

  tls_conns.py probe PORT
      Two connections to https://127.0.0.1:PORT/index.html, the second offering the session
      (ticket) the first received. Prints "VERSION CIPHER RESUMED RENEWED": the protocol and
      cipher a default OpenSSL client negotiated; 1 when the server resumed the session; 1 when
      it sent a new ticket on that resumed connection (a client that uses each ticket once, as
      TLS 1.3 asks, can resume again only then).

  tls_conns.py idle PORT N PID...
      Opens N TLS connections one after another, each with a full handshake (no session
      offered) and one keep-alive GET of /index.html read to its last byte, and keeps them all
      open and idle. One second after the last, sums VmRSS over the PIDs and their children,
      then counts how many of the N the server still holds open (none closed, none answered
      with anything). Prints "RSS_BEFORE_KIB RSS_KIB HELD SECONDS_TO_OPEN", RSS_BEFORE taken
      before the first connection.

The certificate is not verified (as wrk does not): these are measurements, not a client.
"""

import os
import resource
import socket
import ssl
import sys
import time

REQUEST = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
TIMEOUT = 10  # seconds for any one connect, handshake or response


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def get(sock):
    """Send one keep-alive request and read its whole response (Content-Length framed)."""
    sock.sendall(REQUEST)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk


def connect(ctx, port, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname="localhost", session=session)


def probe(port):
    ctx = context()
    first = connect(ctx, port)
    get(first)  # TLS 1.3 tickets come after the handshake: read a response first
    version, cipher, session = first.version(), first.cipher()[0], first.session
    first.close()
    second = connect(ctx, port, session)
    get(second)
    resumed = int(second.session_reused)
    # A new ticket makes a new session; without one the connection keeps the one it resumed.
    renewed = int(resumed and second.session is not None and second.session.id != session.id)
    second.close()
    print(version, cipher, resumed, renewed)


def family(pids):
    """The PIDs and all their descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, []))
    return out


def rss_kib(pids):
    total = 0
    for pid in family(pids):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def idle(port, n, pids):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(n + 64, soft)), hard))
    ctx = context()
    before = rss_kib(pids)
    start = time.monotonic()
    conns = []
    try:
        for _ in range(n):
            sock = connect(ctx, port)
            get(sock)
            conns.append(sock)
    except (OSError, ConnectionError) as e:
        print(f"tls_conns: connection {len(conns) + 1} of {n} failed: {e}", file=sys.stderr)
    opened = time.monotonic() - start
    time.sleep(1)
    rss = rss_kib(pids)
    held = 0
    for sock in conns:
        sock.setblocking(False)
        try:
            data = sock.recv(1)
            alive = bool(data)  # b"": the server closed it
        except ssl.SSLWantReadError:
            alive = True  # nothing to read: open and idle
        except (ssl.SSLError, OSError):
            alive = False  # close_notify, reset
        held += alive
    for sock in conns:
        sock.close()
    print(before, rss, held, round(opened, 2))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "probe":
        probe(int(sys.argv[2]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), [int(p) for p in sys.argv[4:]])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
