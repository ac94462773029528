"""A TLS origin for fetch's tests, on python's ssl module (OpenSSL): one certificate,
one way of behaving. Prints its port on the first line, then serves until killed.

Usage: tls_server.py CERT KEY [--min V] [--max V] [--seclevel0] [--client-ca FILE]
                     [--cut] [--redirect URL] [--relay PORT] [--unix PATH]
V is 1.0, 1.1, 1.2 or 1.3. --cut answers with a close-delimited body and drops the
connection without close_notify. --redirect answers 302 to URL. --relay terminates TLS
and passes the bytes both ways to 127.0.0.1:PORT (a plain-HTTP server), as a TLS
terminator in front of it would. --unix listens on that Unix-domain socket instead (and
prints 0).
"""
import select
import socket
import ssl
import sys
import threading

VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def main():
    args = sys.argv[1:]
    cert, key = args[0], args[1]
    opts = {}
    flags = set()
    i = 2
    while i < len(args):
        if args[i] in ("--min", "--max", "--client-ca", "--redirect", "--relay", "--unix"):
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            flags.add(args[i])
            i += 1
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if "--seclevel0" in flags:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    if "--min" in opts:
        ctx.minimum_version = VERSIONS[opts["--min"]]
    if "--max" in opts:
        ctx.maximum_version = VERSIONS[opts["--max"]]
    ctx.load_cert_chain(cert, key)
    if "--client-ca" in opts:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(opts["--client-ca"])
    ctx.set_alpn_protocols(["http/1.1"])
    if "--unix" in opts:
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(opts["--unix"])
        lsock.listen(256)
        print(0, flush=True)
    else:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(256)
        print(lsock.getsockname()[1], flush=True)
    # Nothing one connection does may end the server: a test's next connection must find
    # it listening.
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            continue
        try:
            threading.Thread(target=serve, args=(ctx, conn, flags, opts), daemon=True).start()
        except RuntimeError:
            conn.close()


def serve(ctx, conn, flags, opts):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()
        return
    if "--relay" in opts:
        relay(tls, conn, int(opts["--relay"]))
        return
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            piece = tls.recv(4096)
            if not piece:
                return
            head += piece
        if "--cut" in flags:
            tls.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 1000)
            # Close the socket under TLS: no close_notify.
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            return
        if "--redirect" in opts:
            loc = opts["--redirect"].encode()
            tls.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + loc +
                        b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            body = b"tls ok\n"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                        % len(body) + body)
        tls.unwrap()
    except (ssl.SSLError, OSError):
        pass
    finally:
        conn.close()


def relay(tls, conn, port):
    """Passes bytes both ways until the backend closes, then closes the TLS side. One
    thread per connection: an SSL socket is never read and written from two threads."""
    try:
        back = socket.create_connection(("127.0.0.1", port))
    except OSError:
        conn.close()
        return
    client_open = True
    try:
        while True:
            watch = [back] + ([tls] if client_open else [])
            ready = [tls] if client_open and tls.pending() else []
            if not ready:
                ready, _, _ = select.select(watch, [], [], 60)
                if not ready:
                    break
            if tls in ready:
                piece = tls.recv(65536)
                if piece:
                    back.sendall(piece)
                else:
                    client_open = False
                    back.shutdown(socket.SHUT_WR)
            if back in ready:
                piece = back.recv(65536)
                if not piece:
                    break
                tls.sendall(piece)
    except (ssl.SSLError, OSError, ValueError):
        pass
    finally:
        back.close()
        conn.close()


if __name__ == "__main__":
    main()
