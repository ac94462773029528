# A forward proxy that asks for credentials (407) and checks the answer as RFC 7616 (Digest)
# or RFC 7617 (Basic) say, for tests/fetch/proxy_auth.rs. It forwards nothing: it answers
# each request itself with what arrived (method, target, body length), and after a CONNECT
# answers the one request sent through the "tunnel" the same way.
# argv: the challenges to offer, comma-separated, of: md5, sha256, basic; then "origin" to
# play an origin server instead (401, WWW-Authenticate, Authorization).
# Prints its port on the first line. The user is "u", the password "pw".
import hashlib, http.server, sys, threading

USER, PASSWORD, REALM, NONCE, OPAQUE = "u", "pw", "proxy@test", "n0nc3", "0paq"
OFFER = sys.argv[1].split(",")
ORIGIN = sys.argv[2:] == ["origin"]
STATUS, CHALLENGE, ANSWER = (
    (401, "WWW-Authenticate", "Authorization")
    if ORIGIN
    else (407, "Proxy-Authenticate", "Proxy-Authorization")
)
ALGORITHMS = {"md5": ("MD5", hashlib.md5), "sha256": ("SHA-256", hashlib.sha256)}


def params(value):
    out = {}
    for part in value.split(","):
        name, _, v = part.strip().partition("=")
        out[name.strip().lower()] = v.strip().strip('"')
    return out


def valid(method, target, header):
    if header is None:
        return False
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "basic" and "basic" in OFFER:
        import base64
        return base64.b64decode(rest.strip()).decode() == f"{USER}:{PASSWORD}"
    if scheme.lower() != "digest":
        return False
    p = params(rest)
    name = p.get("algorithm", "MD5").upper()
    found = [k for k, (n, _) in ALGORITHMS.items() if n == name and k in OFFER]
    if not found or p.get("username") != USER or p.get("nonce") != NONCE:
        return False
    # The absolute-form target, or its path alone (what curl sends, and squid accepts).
    path = "/" + target.split("://", 1)[1].partition("/")[2] if "://" in target else target
    if p.get("uri") not in (target, path) or p.get("realm") != REALM or p.get("opaque") != OPAQUE:
        return False
    h = lambda s: ALGORITHMS[found[0]][1](s.encode()).hexdigest()
    ha1, ha2 = h(f"{USER}:{REALM}:{PASSWORD}"), h(f"{method}:{p['uri']}")
    want = h(f"{ha1}:{NONCE}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
    return p.get("qop") == "auth" and p.get("response") == want


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, text, challenge=False):
        body = text.encode()
        self.send_response(status)
        if challenge:
            for k in OFFER:
                if k == "basic":
                    self.send_header(CHALLENGE, f'Basic realm="{REALM}"')
                else:
                    self.send_header(
                        CHALLENGE,
                        f'Digest realm="{REALM}", qop="auth", nonce="{NONCE}", '
                        f'opaque="{OPAQUE}", algorithm={ALGORITHMS[k][0]}',
                    )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def received(self):
        n = int(self.headers.get("Content-Length", "0"))
        return len(self.rfile.read(n)) if n else 0

    def answer(self):
        got = self.received()
        if not valid(self.command, self.path, self.headers.get(ANSWER)):
            self.reply(STATUS, "credentials needed\n", challenge=True)
            return
        if self.path.endswith("/go"):
            # A redirect the client follows through the proxy: a new path to answer for.
            self.send_response(302)
            self.send_header("Location", self.path[: -len("/go")] + "/went")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(200, f"proxy: {self.command} {self.path} with {got} body bytes\n")

    do_GET = do_POST = do_PUT = do_HEAD = answer

    def do_CONNECT(self):
        if not valid("CONNECT", self.path, self.headers.get("Proxy-Authorization")):
            self.reply(407, "credentials needed\n", challenge=True)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        # The "origin" at the far end of the tunnel: one request, answered, then closed.
        tunnel = self.path
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        got = self.received()
        self.close_connection = True
        self.reply(200, f"origin {tunnel}: {self.command} {self.path} with {got} body bytes\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
