//! The `fetch` command line as typed: clap's flags ([`Args`]), their help text and the exit
//! code table. Phase one of two: nothing here checks how flags combine or touches a file;
//! that is [`Config::from_args`](super::config::Config::from_args).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::form::FormPart;
use crate::request::HeaderEdit;

const EXIT_CODES_SHORT: &str = "\
Exit codes: 0 ok, 1 unsupported protocol, 2 usage, 3 malformed target, 5 resolve proxy,
6 resolve, 7 connect, 8 unparseable reply, 18 partial body, 22 HTTP error (-f), 23 write
error, 26 read error, 28 timeout, 33 cannot resume, 45 bind, 47 too many redirects,
35 TLS handshake, 52 empty reply, 55 send failure, 56 receive failure, 58 client
certificate, 59 cipher, 60 certificate not trusted, 61 bad content encoding, 63 too large,
67 login denied, 77 CA file, 82 CRL file, 90 pinned key, 120 digest mismatch (more: --help)";

const EXIT_CODES: &str = "\
Exit codes (curl's numbers):
   0  success (also when stdout is closed early, as by `| head -1`)
   1  unsupported protocol: ftp:// and other schemes, a redirect to one, http or https
      turned off by --proto/--proto-redir, an HTTP/0.9 reply without --http0.9
   2  usage: unknown flag, bad value, flags that ask for two methods
   3  malformed target
   5  could not resolve the proxy's name
   6  could not resolve the host name
   7  could not connect (every address listed with its reason)
   8  unparseable reply: bad or oversized head (64 KiB, 100 fields), conflicting
      Content-Length, an unrequested 101
  18  partial body: the connection closed before the declared length or the last chunk
  22  HTTP error with -f: status 400 or more
  23  write error: the output file or stdout (or a binary body refused on a terminal)
  26  read error: a file to upload (-T) cannot be read
  28  timeout (the message names the phase and the limit)
  33  cannot resume (-C -): the server sent another range than the one asked for, or a
      whole body where part of it already went to stdout
  35  TLS handshake failed: refused, cut off, no common version or cipher, not TLS at
      all (a plain-HTTP server behind https://), a client certificate demanded in
      TLS 1.2, --tls-max below 1.2
  45  --interface or --local-port could not be used (no such interface, address taken)
  47  too many redirects (--max-redirs)
  52  empty reply: the server closed without a byte
  55  the request could not be sent
  56  receive failure: connection reset, malformed chunked body, a client certificate
      demanded after a TLS 1.3 handshake
  58  the client certificate or key (--cert, --key) cannot be used, or --pass does not
      decrypt the key
  59  a cipher or curve rustls lacks (--ciphers, --tls13-ciphers, --curves)
  60  the server's certificate is not trusted: unknown issuer, expired, not yet valid,
      another host's name, revoked (--crlfile)
  61  bad content encoding (--compressed): a coding not asked for, or a broken stream
  63  the body is larger than --max-filesize
  67  a user name in the URL with --disallow-username-in-url
  77  the CA certificates (--cacert, --capath, $CURL_CA_BUNDLE...) cannot be read
  82  the CRL file (--crlfile) cannot be read
  90  the server's public key is not the pinned one (--pinnedpubkey)
 120  digest mismatch (fetch's own; curl has none): the body does not match its
      Repr-Digest or Content-Digest (sha-256, sha-512) or --checksum; the file is removed

Verified downloads (RFC 9530): a Repr-Digest or Content-Digest (sha-256, sha-512) in the
response is checked as the body streams, with no second pass; other algorithms are ignored,
and so is a field that does not parse (a note says so with -v). Content-Digest covers the
bytes as sent (before --compressed decodes them); Repr-Digest covers the whole file, so for a
206 it is checked only when resuming (-C -), over the part on disk and the rest together.
On a mismatch the .part file is removed and nothing takes the final name (exit 120).

Timeouts: --connect-timeout (default 30 s) covers resolving and connecting; then 30 s to
send the request, 60 s for the whole response head, and 60 s of silence at most while
reading the body. -m bounds the whole transfer, redirects included (default: none).

Many targets (on the command line and with --input FILE): -Z runs up to --parallel-max N
(default 50) transfers at once, side by side on one thread, reusing kept-alive connections per host
and port (up to max(4, N) idle per endpoint). Bodies on stdout come out in target order whatever order they finish in
(bodies that finish early wait in memory, up to 8 MiB in all, then in temporary files); with
-O each goes to its own file. The exit code is that of the first target, in input order, that
failed; with more than one target a one-line summary ends stderr (not with -s).

Resume (-C -): continue NAME.part (or an existing -o file) with `Range: bytes=N-`. When a
download starts, the validator of the response (a strong ETag, else Last-Modified) is stored
beside the part file in NAME.part.meta (a small text file: it travels with the part file, works
on every file system, and is removed with the rename); a resume sends it in If-Range, so a
changed file comes back whole (200: start over) rather than as a mismatched tail. 206: the
tail is appended (its Content-Range must start at N); 416 with `Content-Range: bytes */N`: the
file was already complete. The result is the same bytes as a one-shot download.

Retries (--retry N): after a timeout, a name that did not resolve, a dropped connection (empty
reply, reset, partial body) or a 408, 429, 500, 502, 503 or 504 answer (a refused connection
too with --retry-connrefused, any error with --retry-all-errors), wait and try again, up to N
times and, with --retry-max-time, not after that long: 1 s doubling each time up to 10
minutes, or --retry-delay each time, or what Retry-After says (seconds or an HTTP date, at most
60 s). A download retried after some of its body arrived
resumes from there (its .part, or the bytes already on stdout) when the server honours ranges.
-m bounds each try.

--timing draws, after each transfer, its phases on stderr (resolve, each connect attempt,
request sent, first byte, body done) for every hop, as bars on one time scale with the
numbers in ms. --report-json writes one JSON line per transfer on stderr (stdout carries the bodies),
schema 1, documented in docs/fetch-json.md.

Connecting: a name with several addresses is raced, Happy Eyeballs style (RFC 8305): the next
address (families alternating) is tried when the previous one has not connected within 250 ms.";

/// fetch: fetch pages over HTTP/1.x and HTTPS from the terminal.
///
/// fetch resolves the host, connects to it (port 80 unless given), sends `GET /path` and
/// writes the body to stdout, byte for byte. It speaks curl's flags and returns curl's exit
/// codes, and is strict about what arrives: a body shorter than declared is an error, never
/// a quiet success, and files are written as FILE.part and renamed only when complete.
#[derive(Parser, Debug)]
#[command(name = "fetch", version, after_help = EXIT_CODES_SHORT, after_long_help = EXIT_CODES,
          args_override_self = true)]
pub struct Args {
    /// What to fetch: host, host:port, host/path, http://host:port/path?query, [::1]:8080/x,
    /// unix:/path/to.sock
    #[arg(value_name = "TARGET", required_unless_present_any = ["input", "url"])]
    pub targets: Vec<String>,

    /// Write the body to FILE (`-o -` = stdout)
    ///
    /// As in curl, the -o and -O go to the targets in order, whatever their place on the
    /// line: the first to the first target, and so on. The body goes to FILE.part first,
    /// renamed to FILE only when it is complete; after a failure FILE is neither created nor
    /// overwritten, and FILE.part stays.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub output: Vec<String>,

    /// Save the next target under its remote name, in the current folder (one -O per
    /// target, paired like -o)
    ///
    /// The name is the last segment of the path, percent-decoded, without `/`, `\` or
    /// leading dots; `index.html` when the path ends in `/`.
    #[arg(short = 'O', long = "remote-name", action = clap::ArgAction::Append, num_args = 0,
          default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub remote_name: Vec<bool>,

    /// With -O, name the file as the server's Content-Disposition says (its folder parts
    /// dropped), never overwriting an existing file (exit 23)
    #[arg(short = 'J', long = "remote-header-name")]
    pub remote_header_name: bool,

    /// Save every target that no -o or -O names under its remote name, as -O does
    #[arg(long = "remote-name-all")]
    pub remote_name_all: bool,

    /// Upload FILE with PUT (`-` = stdin, sent chunked), one -T per target, paired like -o
    ///
    /// A target ending in `/` gets the file's name appended. A file goes with its length in
    /// `Content-Length`; as curl does, `Expect: 100-continue` is sent first and the body
    /// follows on `100 Continue`, or after 1 s without an answer.
    #[arg(
        short = 'T',
        long = "upload-file",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub upload_file: Vec<String>,

    /// Create the folders that -o (and --output-dir) name when they are missing
    #[arg(long = "create-dirs")]
    pub create_dirs: bool,

    /// Write the files of -o and -O in DIR
    #[arg(long = "output-dir", value_name = "DIR", allow_hyphen_values = true)]
    pub output_dir: Option<String>,

    /// Give a saved file the server's Last-Modified time
    #[arg(short = 'R', long = "remote-time")]
    pub remote_time: bool,

    /// Only if changed since TIME (`If-Modified-Since`); `-TIME`: only if not changed since
    /// (`If-Unmodified-Since`). TIME is a date, or else a file whose time is used
    #[arg(
        short = 'z',
        long = "time-cond",
        value_name = "TIME",
        allow_hyphen_values = true
    )]
    pub time_cond: Option<String>,

    /// Write the response's ETag (and a newline) to FILE; empty when there is none
    #[arg(long = "etag-save", value_name = "FILE", allow_hyphen_values = true)]
    pub etag_save: Option<PathBuf>,

    /// Send the ETag in FILE (its first line) as `If-None-Match`; a FILE that cannot be read
    /// exits 26, as in curl
    #[arg(long = "etag-compare", value_name = "FILE", allow_hyphen_values = true)]
    pub etag_compare: Option<PathBuf>,

    /// Receive at most RATE bytes a second on average (suffixes B, K, M, G, T, P), each
    /// transfer
    #[arg(long = "limit-rate", value_name = "RATE", value_parser = parse_size, allow_hyphen_values = true)]
    pub limit_rate: Option<u64>,

    /// Abort a transfer slower than SPEED bytes a second for --speed-time (default 30 s),
    /// exit 28
    #[arg(short = 'Y', long = "speed-limit", value_name = "SPEED", value_parser = parse_size, allow_hyphen_values = true)]
    pub speed_limit: Option<u64>,

    /// How long a transfer may stay below --speed-limit (default 1 byte a second) before it
    /// is aborted, exit 28
    #[arg(short = 'y', long = "speed-time", value_name = "SECS", value_parser = parse_secs, allow_hyphen_values = true)]
    pub speed_time: Option<Duration>,

    /// Check the body (as saved: after --compressed decodes it; with -C -, the whole file)
    /// against ALGO:HEX, `sha256:HEX` or `sha512:HEX`, exit 120 when it differs
    ///
    /// For servers that send no Repr-Digest; applies to every target. fetch's own option.
    #[arg(long = "checksum", value_name = "ALGO:HEX")]
    pub checksum: Option<String>,

    /// Refuse a body the server says is larger than BYTES (suffixes B, K, M, G, T, P), exit 63
    #[arg(long = "max-filesize", value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub max_filesize: Option<u64>,

    /// Ask for part of the body: `Range: bytes=RANGE` (`0-99`, `500-`, `-500`, `0-0,-1`)
    #[arg(
        short = 'r',
        long = "range",
        value_name = "RANGE",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,

    /// The -o and -O in the order typed (filled by [`Args::parse_ordered`]).
    #[arg(skip)]
    pub outputs: Vec<Output>,

    /// Send HEAD and print the response head
    #[arg(short = 'I', long = "head")]
    pub head: bool,

    /// Print the response head before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,

    /// On stderr: resolution, each address tried, `>` request and `<` response heads
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// No progress, no warnings, and no error message unless -S (as curl)
    #[arg(short = 's', long = "silent")]
    pub silent: bool,

    /// Show the error message even with -s (`-sS`)
    #[arg(short = 'S', long = "show-error")]
    pub show_error: bool,

    /// Status 400 or more: write no body, exit 22
    #[arg(short = 'f', long = "fail", conflicts_with = "fail_with_body")]
    pub fail: bool,

    /// Stop at the first target that fails (with several): start no other
    #[arg(long = "fail-early")]
    pub fail_early: bool,

    /// Status 400 or more: write the body as usual, then exit 22
    #[arg(long = "fail-with-body")]
    pub fail_with_body: bool,

    /// Send METHOD on the request line instead of the one the other options choose (GET,
    /// POST with -d, HEAD with -I)
    ///
    /// Only the name changes, on every request, redirects included: what is sent, and
    /// what a redirect does, still follow the other options (as in curl).
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        allow_hyphen_values = true
    )]
    pub request: Option<String>,

    /// Send DATA in a POST body, as a form (`@FILE`: the file without CR and LF, `@-`:
    /// stdin)
    ///
    /// Several -d, --data-* are joined with `&`. The body goes with
    /// `Content-Type: application/x-www-form-urlencoded` unless -H names one.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        allow_hyphen_values = true
    )]
    pub data: Vec<String>,

    /// The same as -d
    #[arg(long = "data-ascii", value_name = "DATA", allow_hyphen_values = true)]
    pub data_ascii: Vec<String>,

    /// Like -d, but a leading `@` is just a character
    #[arg(long = "data-raw", value_name = "DATA", allow_hyphen_values = true)]
    pub data_raw: Vec<String>,

    /// Like -d, but `@FILE` is sent exactly as it is (CR and LF kept)
    #[arg(long = "data-binary", value_name = "DATA", allow_hyphen_values = true)]
    pub data_binary: Vec<String>,

    /// Like -d, percent-encoding: `CONTENT`, `=CONTENT`, `NAME=CONTENT`, `@FILE`, `NAME@FILE`
    ///
    /// The content (or the file's) is percent-encoded, a space as `+`; NAME is sent as
    /// typed, followed by `=`.
    #[arg(
        long = "data-urlencode",
        value_name = "DATA",
        allow_hyphen_values = true
    )]
    pub data_urlencode: Vec<String>,

    /// POST a multipart form part: `NAME=CONTENT`, `NAME=@FILE` (a file, with its name and
    /// type), `NAME=<FILE` (a file's content as text), with `;type=TYPE` and
    /// `;filename=NAME`; `@-` and `<-` read stdin
    #[arg(
        short = 'F',
        long = "form",
        value_name = "NAME=CONTENT",
        allow_hyphen_values = true
    )]
    pub form: Vec<String>,

    /// Like -F, but CONTENT is sent as it stands (no `@`, `<` or `;type=`)
    #[arg(
        long = "form-string",
        value_name = "NAME=STRING",
        allow_hyphen_values = true
    )]
    pub form_string: Vec<String>,

    /// -F and --form-string in the order typed (filled by [`Args::parse_ordered`]).
    #[arg(skip)]
    pub form_parts: Vec<FormPart>,

    /// Send the -d data as the query of a GET (appended with `?` or `&`) instead of a body
    #[arg(short = 'G', long = "get")]
    pub get: bool,

    /// With -L, keep a POST (and its body) after a 301 instead of switching to GET
    #[arg(long = "post301")]
    pub post301: bool,

    /// With -L, keep a POST (and its body) after a 302 instead of switching to GET
    #[arg(long = "post302")]
    pub post302: bool,

    /// With -L, keep a POST (and its body) after a 303 instead of switching to GET
    #[arg(long = "post303")]
    pub post303: bool,

    /// Send requests through the HTTP proxy at `[http://][USER:PASSWORD@]HOST[:PORT]`
    /// (port 1080 when none is given, as curl); `""` for none, whatever the environment
    /// says
    ///
    /// Without -x, fetch reads curl's variables: `http_proxy` (only lowercase, as curl),
    /// then `ALL_PROXY` or `all_proxy`, and `no_proxy` or `NO_PROXY`.
    #[arg(
        short = 'x',
        long = "proxy",
        value_name = "[PROTOCOL://]HOST[:PORT]",
        allow_hyphen_values = true
    )]
    pub proxy: Option<String>,

    /// The proxy's USER and PASSWORD: sent as `Proxy-Authorization: Basic`, or in answer to
    /// its 407 with --proxy-digest, --proxy-anyauth
    #[arg(
        short = 'U',
        long = "proxy-user",
        value_name = "USER:PASSWORD",
        allow_hyphen_values = true
    )]
    pub proxy_user: Option<String>,

    /// Use Basic authentication with the proxy (the default): sent with the first request
    #[arg(long = "proxy-basic", overrides_with_all = ["proxy_digest", "proxy_anyauth"])]
    pub proxy_basic: bool,

    /// Use HTTP Digest authentication with the proxy (-U, or the -x URL's USER:PASSWORD):
    /// the first request goes without, the proxy's 407 says how
    #[arg(long = "proxy-digest", overrides_with_all = ["proxy_basic", "proxy_anyauth"])]
    pub proxy_digest: bool,

    /// Let the proxy choose: the first request goes without credentials, and a 407 is
    /// answered with the best scheme it offers (Digest, else Basic)
    #[arg(long = "proxy-anyauth", overrides_with_all = ["proxy_basic", "proxy_digest"])]
    pub proxy_anyauth: bool,

    /// Send this header to the proxy: with requests sent through it, and alone in the
    /// CONNECT of -p (repeatable; `Name:` removes one)
    #[arg(long = "proxy-header", value_name = "'NAME: VALUE'", value_parser = HeaderEdit::parse, allow_hyphen_values = true)]
    pub proxy_headers: Vec<HeaderEdit>,

    /// Ask the proxy for a tunnel (CONNECT host:port) and send each request through it
    /// as to the server itself
    #[arg(short = 'p', long = "proxytunnel")]
    pub proxytunnel: bool,

    /// Use HOST[:PORT] as the proxy, as -x does, with an HTTP/1.0 CONNECT for -p
    #[arg(
        long = "proxy1.0",
        value_name = "HOST[:PORT]",
        allow_hyphen_values = true
    )]
    pub proxy10: Option<String>,

    /// Accepted, as fetch never shows the proxy's answer to CONNECT with -i or -D
    #[arg(long = "suppress-connect-headers")]
    pub suppress_connect_headers: bool,

    /// Hosts to reach without the proxy: a comma-separated list of names (with their
    /// subdomains) and addresses, or `*` for all
    #[arg(
        long = "noproxy",
        value_name = "NO-PROXY-LIST",
        allow_hyphen_values = true
    )]
    pub noproxy: Option<String>,

    /// Send `Authorization: Basic` with USER and PASSWORD (not after a redirect to another
    /// host)
    ///
    /// `-u USER` alone reads the password from stdin when stdin is not a terminal (after the
    /// prompt `Enter host password for user 'USER':` on stderr), as curl does there.
    #[arg(
        short = 'u',
        long = "user",
        value_name = "USER:PASSWORD",
        allow_hyphen_values = true
    )]
    pub user: Option<String>,

    /// Take the login and password for each target's host from `$HOME/.netrc` (a missing
    /// file is no error, as in curl); -u wins
    #[arg(short = 'n', long = "netrc")]
    pub netrc: bool,

    /// Like -n, from FILE
    #[arg(long = "netrc-file", value_name = "FILE", allow_hyphen_values = true)]
    pub netrc_file: Option<PathBuf>,

    /// Like -n, but a password in the URL wins over the file
    #[arg(long = "netrc-optional")]
    pub netrc_optional: bool,

    /// Send `Authorization: Bearer TOKEN` (it takes the place of -u's, as in curl)
    #[arg(
        long = "oauth2-bearer",
        value_name = "TOKEN",
        allow_hyphen_values = true
    )]
    pub oauth2_bearer: Option<String>,

    /// Use Basic authentication with -u (the default): sent with the first request
    #[arg(long = "basic", overrides_with_all = ["digest", "anyauth"])]
    pub basic: bool,

    /// Use HTTP Digest authentication with -u (RFC 7616: MD5, SHA-256, SHA-512/256, and
    /// their -sess forms): the first request goes without, the server's 401 says how
    #[arg(long = "digest", overrides_with_all = ["basic", "anyauth"])]
    pub digest: bool,

    /// With -u, let the server choose: the first request goes without credentials, and
    /// a 401 is answered with the best scheme it offers (Digest, else Basic)
    #[arg(long = "anyauth", overrides_with_all = ["basic", "digest"])]
    pub anyauth: bool,

    /// For requests to HOST1:PORT1, connect to HOST2:PORT2 instead, keeping the URL and
    /// its Host header (repeatable; an empty part matches any host or port, or keeps it)
    #[arg(long = "connect-to", value_name = "HOST1:PORT1:HOST2:PORT2", value_parser = parse_connect_to)]
    pub connect_to: Vec<crate::ConnectTo>,

    /// Connect from this network interface (`if!NAME`), or from this local address
    /// (`host!ADDRESS`); a bare word is an address if it reads as one, else an interface
    #[arg(long = "interface", value_name = "NAME", allow_hyphen_values = true)]
    pub interface: Option<String>,

    /// Connect from this local port, or the first free one in the range N-M
    #[arg(long = "local-port", value_name = "N[-M]", value_parser = parse_port_range)]
    pub local_port: Option<(u16, u16)>,

    /// Send TCP keep-alive probes after SECS idle, and every SECS after that
    #[arg(long = "keepalive-time", value_name = "SECS")]
    pub keepalive_time: Option<u64>,

    /// Use TCP Fast Open: the request may go in the SYN to a server that allows it
    #[arg(long = "tcp-fastopen")]
    pub tcp_fastopen: bool,

    /// Begin each connection with a PROXY protocol v1 line naming its two ends (for a
    /// server behind HAProxy's accept-proxy)
    #[arg(long = "haproxy-protocol")]
    pub haproxy_protocol: bool,

    /// Refuse a URL with a user name in it (`http://user@host/`), exit 67
    #[arg(long = "disallow-username-in-url")]
    pub disallow_username_in_url: bool,

    /// With -L, send -u's credentials (and -H's Authorization, Cookie, Host) to every host
    /// a redirect leads to, not only the first
    #[arg(long = "location-trusted")]
    pub location_trusted: bool,

    /// Put TARGET on the request line instead of the URL's path (e.g. `*` with
    /// `-X OPTIONS`)
    #[arg(
        long = "request-target",
        value_name = "TARGET",
        allow_hyphen_values = true
    )]
    pub request_target: Option<String>,

    /// Add DATA to each URL's query, joined with `&`, encoded as --data-urlencode encodes
    /// (`+DATA`: as it is)
    #[arg(long = "url-query", value_name = "DATA", allow_hyphen_values = true)]
    pub url_query: Vec<String>,

    /// Pass the body on as it came: chunked framing and content codings left in
    #[arg(long = "raw")]
    pub raw: bool,

    /// Ask for a compressed transfer (TE: gzip) and decode it
    #[arg(long = "tr-encoding")]
    pub tr_encoding: bool,

    /// Read the body until the server closes, whatever Content-Length says
    #[arg(long = "ignore-content-length")]
    pub ignore_content_length: bool,

    /// Send `Referer: URL`; `URL;auto` (or `;auto` alone) also sends, after a redirect, the
    /// URL redirected from
    #[arg(
        short = 'e',
        long = "referer",
        value_name = "URL",
        allow_hyphen_values = true
    )]
    pub referer: Option<String>,

    /// After each transfer, write FORMAT to stdout with curl's variables (`@FILE`: the
    /// format from a file, `@-` from stdin)
    ///
    /// `%{http_code}`, `%{response_code}`, `%{url_effective}`, `%{url}`, `%{urlnum}`,
    /// `%{redirect_url}`, `%{num_redirects}`, `%{size_download}`, `%{size_upload}`,
    /// `%{size_header}`, `%{speed_download}`, `%{speed_upload}`, `%{time_namelookup}`,
    /// `%{time_connect}`, `%{time_appconnect}`, `%{time_pretransfer}`,
    /// `%{time_starttransfer}`, `%{time_redirect}`, `%{time_total}` (seconds, six decimals),
    /// `%{content_type}`, `%{exitcode}`, `%{errormsg}`, `%{remote_ip}`, `%{remote_port}`,
    /// `%{num_headers}`, `%{http_version}`, `%{filename_effective}`, `%{scheme}`,
    /// `%{local_ip}`, `%{local_port}`, `%{method}`, `%{num_connects}`, `%{size_request}`,
    /// `%{json}` (all of them, curl's keys), `%header{NAME}`; `%{stdout}`, `%{stderr}` switch the output, `%{onerror}` ends it
    /// unless the transfer failed; `%%`, `\n`, `\r`, `\t`.
    #[arg(
        short = 'w',
        long = "write-out",
        value_name = "FORMAT",
        allow_hyphen_values = true
    )]
    pub write_out: Option<String>,

    /// Write the response heads (redirects included) to FILE as received (`-` = stdout)
    #[arg(
        short = 'D',
        long = "dump-header",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub dump_header: Option<PathBuf>,

    /// The -d, --data-* values in the order typed (filled by [`Args::parse_ordered`]).
    #[arg(skip)]
    pub data_parts: Vec<DataPart>,

    /// Follow redirects (301, 302, 303, 307, 308)
    ///
    /// As curl: 301 and 302 turn a POST into a GET without its body, 303 every method but
    /// HEAD (unless --post301/302/303); 307 and 308 keep the method and send the body again.
    /// Authorization, Cookie and Host given with -H, and -u, are not sent to another host or
    /// port.
    #[arg(short = 'L', long = "location")]
    pub location: bool,

    /// Follow at most N redirects with -L, then exit 47 (curl's default, 50; -1: no limit)
    #[arg(long = "max-redirs", value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(i64).range(-1..), allow_hyphen_values = true)]
    pub max_redirs: i64,

    /// Add or replace a request header (`Name:` removes a default one, `Name;` sends it
    /// empty)
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = HeaderEdit::parse, allow_hyphen_values = true)]
    pub headers: Vec<HeaderEdit>,

    /// The User-Agent header (default fetch/VERSION; empty: none)
    #[arg(
        short = 'A',
        long = "user-agent",
        value_name = "STRING",
        allow_hyphen_values = true
    )]
    pub user_agent: Option<String>,

    /// Limit for resolving and connecting (default 30 s)
    #[arg(long = "connect-timeout", value_name = "SECS", value_parser = parse_secs, allow_hyphen_values = true)]
    pub connect_timeout: Option<Duration>,

    /// Limit for the whole transfer, redirects and body included
    #[arg(short = 'm', long = "max-time", value_name = "SECS", value_parser = parse_secs, allow_hyphen_values = true)]
    pub max_time: Option<Duration>,

    /// Connect to this Unix-domain socket; the target still gives Host and path
    #[arg(long = "unix-socket", value_name = "PATH", allow_hyphen_values = true)]
    pub unix_socket: Option<PathBuf>,

    /// Send HTTP/1.0 (one request per connection)
    #[arg(short = '0', long = "http1.0", conflicts_with = "http09")]
    pub http10: bool,

    /// Send HTTP/1.1 (the default)
    #[arg(long = "http1.1", conflicts_with_all = ["http10", "http09"])]
    pub http11: bool,

    /// https://: do not check the server's certificate (a pinned key is still checked)
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,

    /// Write the body to stdout as each piece arrives, without holding any back
    #[arg(short = 'N', long = "no-buffer")]
    pub no_buffer: bool,

    /// Set TCP_NODELAY (fetch always does: accepted for curl's lines)
    #[arg(long = "tcp-nodelay")]
    pub tcp_nodelay: bool,

    /// Turn off TCP keepalive probes (fetch sends none: accepted for curl's lines)
    #[arg(long = "no-keepalive")]
    pub no_keepalive: bool,

    /// Allow only the protocols of curl's LIST (`=http`, `-all,+http`, `all,-http`...):
    /// without http, every target fails (exit 1)
    #[arg(long = "proto", value_name = "PROTOCOLS", allow_hyphen_values = true)]
    pub proto: Option<String>,

    /// The same, for redirects (curl's default allows http): without http, a redirect is
    /// not followed (exit 1)
    #[arg(
        long = "proto-redir",
        value_name = "PROTOCOLS",
        allow_hyphen_values = true
    )]
    pub proto_redir: Option<String>,

    /// https://: TLS 1.2 at least (rustls speaks 1.2 and 1.3: so is every minimum below)
    #[arg(short = '1', long = "tlsv1")]
    pub tlsv1: bool,

    /// https://: TLS 1.0 at least (met: rustls speaks 1.2 and 1.3)
    #[arg(long = "tlsv1.0")]
    pub tlsv1_0: bool,

    /// https://: TLS 1.1 at least (met: rustls speaks 1.2 and 1.3)
    #[arg(long = "tlsv1.1")]
    pub tlsv1_1: bool,

    /// https://: TLS 1.2 at least
    #[arg(long = "tlsv1.2")]
    pub tlsv1_2: bool,

    /// https://: TLS 1.3 at least
    #[arg(long = "tlsv1.3")]
    pub tlsv1_3: bool,

    /// https://: TLS VERSION at most (1.2 or 1.3; 1.0 and 1.1 cannot be met: exit 35)
    #[arg(long = "tls-max", value_name = "VERSION", allow_hyphen_values = true)]
    pub tls_max: Option<String>,

    /// https://: trust the CA certificates in FILE (PEM) instead of the system's bundle
    ///
    /// Without it, as curl: $CURL_CA_BUNDLE, else $SSL_CERT_FILE (and $SSL_CERT_DIR for
    /// --capath), else /etc/ssl/certs/ca-certificates.crt. Unreadable: exit 77.
    #[arg(long = "cacert", value_name = "FILE", allow_hyphen_values = true)]
    pub cacert: Option<String>,

    /// https://: also trust the CA certificates in the files of DIR (default /etc/ssl/certs)
    #[arg(long = "capath", value_name = "DIR", allow_hyphen_values = true)]
    pub capath: Option<String>,

    /// https://: the server's public key must be this one: a PEM or DER file, or
    /// sha256//BASE64 hashes separated by ';' (exit 90 if not)
    #[arg(
        long = "pinnedpubkey",
        value_name = "HASHES",
        allow_hyphen_values = true
    )]
    pub pinnedpubkey: Option<String>,

    /// https://: refuse certificates revoked by the CRL in FILE (PEM; unreadable: exit 82)
    #[arg(long = "crlfile", value_name = "FILE", allow_hyphen_values = true)]
    pub crlfile: Option<String>,

    /// https://: send the client certificate in FILE (PEM chain; its key too, unless --key)
    ///
    /// curl's CERT[:PASSWORD] form is read too: PASSWORD decrypts the key, as --pass does
    /// (--pass wins when both are given).
    #[arg(
        short = 'E',
        long = "cert",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub cert: Option<String>,

    /// https://: the client certificate's private key (PEM or DER: PKCS#8, PKCS#1, SEC1)
    #[arg(long = "key", value_name = "FILE", allow_hyphen_values = true)]
    pub key: Option<String>,

    /// https://: the client certificate's type: PEM or DER (P12 and ENG are refused)
    #[arg(long = "cert-type", value_name = "TYPE")]
    pub cert_type: Option<String>,

    /// https://: the key's type: PEM or DER (ENG is refused)
    #[arg(long = "key-type", value_name = "TYPE")]
    pub key_type: Option<String>,

    /// https://: the pass phrase of an encrypted --key (PKCS#8 "ENCRYPTED PRIVATE KEY"; a
    /// wrong one, or none for an encrypted key: exit 58)
    #[arg(long = "pass", value_name = "PHRASE", allow_hyphen_values = true)]
    pub pass: Option<String>,

    /// https://: the TLS 1.2 suites to offer, by OpenSSL's names, ':'-separated (exit 59
    /// for one rustls lacks)
    #[arg(long = "ciphers", value_name = "LIST", allow_hyphen_values = true)]
    pub ciphers: Option<String>,

    /// https://: the TLS 1.3 suites to offer (TLS_AES_128_GCM_SHA256, ...), ':'-separated
    #[arg(
        long = "tls13-ciphers",
        value_name = "LIST",
        allow_hyphen_values = true
    )]
    pub tls13_ciphers: Option<String>,

    /// https://: the key exchange groups to offer (X25519, P-256, P-384,
    /// X25519MLKEM768), ':'-separated
    #[arg(long = "curves", value_name = "LIST", allow_hyphen_values = true)]
    pub curves: Option<String>,

    /// https://: never resume a TLS session (each connection makes a full handshake)
    #[arg(long = "no-sessionid")]
    pub no_sessionid: bool,

    /// Accepted, as curl accepts it outside Windows (rustls checks no revocation on its
    /// own; see --crlfile)
    #[arg(long = "ssl-no-revoke")]
    pub ssl_no_revoke: bool,

    /// Accepted, as curl accepts it outside Windows
    #[arg(long = "ssl-revoke-best-effort")]
    pub ssl_revoke_best_effort: bool,

    /// Send the path as typed: without it, `.` and `..` segments are resolved first, as
    /// curl does
    #[arg(long = "path-as-is")]
    pub path_as_is: bool,

    /// Take `{}` and `[]` in targets as they are: no globbing
    ///
    /// Without it, as in curl, `{a,b}` and `[1-9]`, `[01-10]`, `[a-z]`, `[1-99:2]` make
    /// one target of each value, and `#1`, `#2` in an -o name stand for them.
    #[arg(short = 'g', long = "globoff")]
    pub globoff: bool,

    /// Do not read `.curlrc` (only as the first option, as in curl)
    ///
    /// Without it, fetch reads curl's `.curlrc` first, from `$CURL_HOME`,
    /// `$XDG_CONFIG_HOME` or `$HOME`, as curl does.
    #[arg(short = 'q', long = "disable")]
    pub disable: bool,

    /// Start another operation: the targets and options after it are fetched with their
    /// own options (the global ones, -s -S -v -Z --parallel-max and the progress
    /// switches, hold for all), as in curl
    #[arg(short = ':', long = "next")]
    pub next: bool,

    /// Read more options from FILE (`-` = stdin), in curl's config syntax: one option a
    /// line, with or without its dashes, its value after spaces, `=` or `:` (quoted with
    /// `\` escapes when it has spaces); `url = URL` for targets
    #[arg(
        short = 'K',
        long = "config",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub config: Vec<String>,

    /// No progress display; errors still print
    #[arg(long = "no-progress-meter")]
    pub no_progress_meter: bool,

    /// Show progress as fetch does (one line per transfer, on a terminal)
    #[arg(short = '#', long = "progress-bar")]
    pub progress_bar: bool,

    /// Also fetch URL (repeatable; in order with the targets around it)
    #[arg(long = "url", value_name = "URL", allow_hyphen_values = true)]
    pub url: Vec<String>,

    /// After `Expect: 100-continue`, send the body anyway after SECS (default 1)
    #[arg(long = "expect100-timeout", value_name = "SECS", value_parser = parse_secs_or_zero, allow_hyphen_values = true)]
    pub expect100_timeout: Option<Duration>,

    /// After a failure, remove what was written of the file (FILE.part and its record)
    #[arg(long = "remove-on-error")]
    pub remove_on_error: bool,

    /// Never overwrite a file with -o or -O: save as NAME.1, NAME.2, ... up to NAME.100
    /// instead (exit 23 when all exist)
    #[arg(long = "no-clobber")]
    pub no_clobber: bool,

    /// Create new files with these permission bits, in octal (default 0666; the umask
    /// applies)
    #[arg(long = "create-file-mode", value_name = "MODE", value_parser = parse_mode)]
    pub create_file_mode: Option<u32>,

    /// Store the URL and the Content-Type of a saved file in its extended attributes
    /// (user.xdg.origin.url, user.mime_type)
    #[arg(long = "xattr")]
    pub xattr: bool,

    /// Start at most N transfers per unit of time, one after the other: `N/s`, `N/m`,
    /// `N/h` (the default unit), `N/d` (no effect with -Z, as in curl)
    #[arg(long = "rate", value_name = "N/UNIT", value_parser = parse_rate)]
    pub rate: Option<Duration>,

    /// Write what goes to stderr (messages, -v, the progress meter) to FILE instead
    /// (`-` = stdout)
    #[arg(long = "stderr", value_name = "FILE", allow_hyphen_values = true)]
    pub stderr: Option<PathBuf>,

    /// Write a full trace of every transfer to FILE (`-` = stdout, `%` = stderr): what
    /// happened, the bytes sent and received in hex and text
    #[arg(long = "trace", value_name = "FILE", allow_hyphen_values = true, overrides_with_all = ["trace_ascii", "verbose"])]
    pub trace: Option<String>,

    /// As --trace, without the hex: the bytes as text, a line per CRLF
    #[arg(long = "trace-ascii", value_name = "FILE", allow_hyphen_values = true, overrides_with_all = ["trace", "verbose"])]
    pub trace_ascii: Option<String>,

    /// With --trace or --trace-ascii, begin each entry with the time of day (UTC,
    /// HH:MM:SS.micros)
    #[arg(long = "trace-time")]
    pub trace_time: bool,

    /// Wait MS milliseconds for an address before racing the next one (Happy Eyeballs;
    /// default 250)
    #[arg(long = "happy-eyeballs-timeout-ms", value_name = "MS")]
    pub happy_eyeballs_timeout_ms: Option<u64>,

    /// The scheme of a target without one: only `http` works (fetch's default anyway);
    /// another makes such targets fail with exit 1
    #[arg(long = "proto-default", value_name = "PROTOCOL")]
    pub proto_default: Option<String>,

    /// Accepted: fetch never styles what it writes (curl's bold header names on a
    /// terminal)
    #[arg(long = "styled-output")]
    pub styled_output: bool,

    /// With -F, escape `"` and `\` in names and file names with a backslash (by default
    /// `"`, CR and LF are percent-encoded, as curl does)
    #[arg(long = "form-escape")]
    pub form_escape: bool,

    /// Send a simple request (`GET /path`) and take the raw reply up to close
    #[arg(long = "http0.9")]
    pub http09: bool,

    /// Use ADDR for HOST:PORT instead of asking DNS (repeatable)
    #[arg(
        long = "resolve",
        value_name = "HOST:PORT:ADDR[,ADDR]",
        allow_hyphen_values = true
    )]
    pub resolve: Vec<String>,

    /// Use IPv4 addresses only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 addresses only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Read more targets from FILE (`-` for stdin): one per line; blank lines and lines
    /// starting with `#` are skipped
    #[arg(long = "input", value_name = "FILE", allow_hyphen_values = true)]
    pub input: Option<PathBuf>,

    /// Run the transfers at once, up to --parallel-max at a time
    ///
    /// Bodies on stdout still come out in target order; kept-alive connections are shared
    /// between the transfers.
    #[arg(short = 'Z', long = "parallel")]
    pub parallel: bool,

    /// With -Z, at most N transfers at once (default 50; as in curl, above 300 means 300
    /// and below 1 means 50); with --mirror or --recursive, N files at once (default 5, as
    /// wget2; 1 or --wait: one at a time)
    #[arg(long = "parallel-max", value_name = "N", allow_hyphen_values = true)]
    pub parallel_max: Option<i64>,

    /// With -Z, open new connections at once rather than wait to share one (what fetch
    /// always does: HTTP/1 cannot share a busy connection)
    #[arg(long = "parallel-immediate")]
    pub parallel_immediate: bool,

    /// With -b FILE, leave out its session cookies (those without an expiry), as if a new
    /// browser session began
    #[arg(short = 'j', long = "junk-session-cookies")]
    pub junk_session_cookies: bool,

    /// Send cookies: `NAME=VALUE; NAME2=VALUE2` as it stands, or (without `=`) read them
    /// from FILE, a Netscape cookie file (`-` = stdin), which also keeps the cookies the
    /// server sets for the requests that follow
    ///
    /// Repeatable: the strings are joined with `;`, every file is read. A missing FILE is
    /// no error, as in curl.
    #[arg(
        short = 'b',
        long = "cookie",
        value_name = "DATA|FILE",
        allow_hyphen_values = true
    )]
    pub cookie: Vec<String>,

    /// After the run, write every cookie to FILE in curl's Netscape format (`-` = stdout);
    /// keeps the cookies the server sets for the requests that follow
    #[arg(
        short = 'c',
        long = "cookie-jar",
        value_name = "FILE",
        allow_hyphen_values = true
    )]
    pub cookie_jar: Option<String>,

    /// Resume a download: `-C -` continues NAME.part (or an existing -o file) where it ends
    ///
    /// Only the form `-C -` (curl's "find the offset yourself") is accepted. Needs -o or -O.
    #[arg(short = 'C', long = "continue-at", value_name = "-", value_parser = parse_continue, allow_hyphen_values = true)]
    pub continue_at: Option<bool>,

    /// Retry up to N times after a transient failure: a timeout, a name that did not
    /// resolve, a dropped connection (empty reply, reset, partial body), or 408, 429, 500,
    /// 502, 503, 504
    ///
    /// A refused connection only with --retry-connrefused, anything else only with
    /// --retry-all-errors (as in curl).
    #[arg(
        long = "retry",
        value_name = "N",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub retry: u32,

    /// Wait SECS before every retry (no doubling); without it, or with 0, 1 s doubling up
    /// to 10 minutes, or what Retry-After asks for
    #[arg(long = "retry-delay", value_name = "SECS", value_parser = parse_secs_or_zero, allow_hyphen_values = true)]
    pub retry_delay: Option<Duration>,

    /// With --retry: retry a refused connection too (a server that is not up yet)
    #[arg(long = "retry-connrefused")]
    pub retry_connrefused: bool,

    /// With --retry: retry after any error, an HTTP error with -f included
    #[arg(long = "retry-all-errors")]
    pub retry_all_errors: bool,

    /// With --retry: start no retry once SECS have passed since the first try
    #[arg(long = "retry-max-time", value_name = "SECS", value_parser = parse_secs_or_zero, allow_hyphen_values = true)]
    pub retry_max_time: Option<Duration>,

    /// After each transfer, draw its phases (resolve, connect, sent, first byte, done) on
    /// stderr
    #[arg(long = "timing")]
    pub timing: bool,

    /// After each transfer, one JSON line on stderr (schema 1: docs/fetch-json.md)
    #[arg(long = "report-json")]
    pub report_json: bool,

    /// POST DATA as JSON (`@FILE`, `@-`: as they are): adds `Content-Type:
    /// application/json` and `Accept: application/json` unless -H names them
    ///
    /// Several --json are joined with nothing between them.
    #[arg(long = "json", value_name = "DATA", allow_hyphen_values = true)]
    pub json: Vec<String>,

    /// Ask for a gzip or deflate body (Accept-Encoding) and decode it as it arrives
    #[arg(long = "compressed")]
    pub compressed: bool,

    /// Mirror a site: take every page, file and folder under URL into DIR, and on the next
    /// run only what changed (wget's --mirror; recursion with no depth limit)
    ///
    /// Links are found in HTML and CSS, and folders are walked through serve's JSON
    /// listing where the server offers one. Only URL's host and port are followed. Files
    /// go to DIR/HOST[:PORT]/PATH (DIR: --directory-prefix, else --output-dir, else the
    /// current folder), each written as NAME.part and renamed when complete; ETags are kept
    /// on each file (the attribute user.fetch.mirror, else in DIR/.fetch-mirror/), so a
    /// second run asks with If-None-Match (else If-Modified-Since, from the file's time,
    /// which is the server's Last-Modified). With
    /// -Z, up to --parallel-max files at once. wget's short spellings that are curl options
    /// keep curl's meaning: see the README ("wget spellings").
    #[arg(long = "mirror")]
    pub mirror: bool,

    /// Follow links and folder listings under URL, as --mirror, to depth 5 unless --level
    /// says otherwise (wget's -r; fetch's -r is curl's --range)
    #[arg(long = "recursive")]
    pub recursive: bool,

    /// With --mirror or --recursive: follow links at most DEPTH steps from URL (`inf` or 0:
    /// no limit; wget's -l; fetch's -l is curl's --list-only)
    #[arg(long = "level", value_name = "DEPTH", value_parser = parse_level)]
    pub level: Option<u32>,

    /// With --mirror or --recursive: never go above URL's folder (wget's -np)
    #[arg(long = "no-parent")]
    pub no_parent: bool,

    /// With --mirror or --recursive: save under DIR (wget's -P; fetch's -P is curl's
    /// --ftp-port)
    #[arg(
        long = "directory-prefix",
        value_name = "DIR",
        allow_hyphen_values = true
    )]
    pub directory_prefix: Option<PathBuf>,

    /// With --mirror or --recursive: save under DIR/PATH, without the HOST[:PORT] folder
    /// (wget's -nH)
    #[arg(long = "no-host-directories")]
    pub no_host_directories: bool,

    /// With --mirror or --recursive: start no new file once BYTES have been received
    /// (suffixes B, K, M, G, T, P; wget's -Q; fetch's -Q is curl's --quote)
    #[arg(long = "quota", value_name = "BYTES", value_parser = parse_size)]
    pub quota: Option<u64>,

    /// With --mirror or --recursive: drop the first N folders of each path (wget's
    /// --cut-dirs: with N = 1, /a/b/c.txt is saved as b/c.txt)
    #[arg(long = "cut-dirs", value_name = "N")]
    pub cut_dirs: Option<usize>,

    /// With --mirror or --recursive: wait SECS between requests (wget's -w; fetch's -w is
    /// curl's --write-out)
    #[arg(long = "wait", value_name = "SECS", value_parser = parse_secs_or_zero)]
    pub wait: Option<Duration>,

    /// With --wait: wait between 0.5 and 1.5 times as long, chosen afresh each time
    #[arg(long = "random-wait")]
    pub random_wait: bool,

    /// With --mirror or --recursive: `robots=off` ignores robots.txt, which is respected
    /// by default (wget's -e robots=off; fetch's -e is curl's --referer)
    #[arg(long = "execute", value_name = "robots=on|off", value_parser = parse_robots)]
    pub execute: Option<bool>,

    /// With --mirror or --recursive: keep only files whose names end with one of LIST or
    /// match one of its patterns (`*`, `?`, `[...]`), comma-separated (wget's -A; fetch's
    /// -A is curl's --user-agent). Pages are still read for their links.
    #[arg(long = "accept", value_name = "LIST")]
    pub accept: Option<String>,

    /// With --mirror or --recursive: keep no file whose name ends with one of LIST or
    /// matches one of its patterns (wget's -R; fetch's -R is curl's --remote-time)
    #[arg(long = "reject", value_name = "LIST")]
    pub reject: Option<String>,

    /// With --mirror or --recursive: follow only URLs (the whole URL) that REGEX matches
    /// (wget's --accept-regex; the start URL is always fetched)
    #[arg(long = "accept-regex", value_name = "REGEX")]
    pub accept_regex: Option<String>,

    /// With --mirror or --recursive: follow no URL (the whole URL) that REGEX matches
    /// (wget's --reject-regex; the start URL is always fetched)
    #[arg(long = "reject-regex", value_name = "REGEX")]
    pub reject_regex: Option<String>,

    /// With --mirror: after a crawl with no failure, remove the files an earlier run saved
    /// that the site no longer has (only files fetch wrote, never anything else in DIR)
    #[arg(long = "delete")]
    pub delete: bool,

    /// With --mirror or --recursive: also fetch what the pages within --level need to show
    /// (images, style sheets and what they load, scripts, frames) however deep (wget's -p;
    /// fetch's -p is curl's --proxytunnel)
    #[arg(long = "page-requisites")]
    pub page_requisites: bool,

    /// With --mirror or --recursive: follow links to other hosts and ports too, each saved
    /// under its own HOST[:PORT] folder (wget's -H; fetch's -H is curl's --header)
    #[arg(long = "span-hosts")]
    pub span_hosts: bool,

    /// With --mirror or --recursive: afterwards, rewrite the links in the saved HTML and CSS
    /// so the copy works from file:// (wget's -k; fetch's -k is curl's --insecure)
    #[arg(long = "convert-links")]
    pub convert_links: bool,

    /// With --span-hosts: only hosts in these domains, comma-separated (`example.com`
    /// takes `docs.example.com`; wget's -D; fetch's -D is curl's --dump-header)
    #[arg(long = "domains", value_name = "LIST")]
    pub domains: Option<String>,
}

/// `--execute`: of wget's commands, `robots=on` and `robots=off`.
fn parse_robots(s: &str) -> Result<bool, String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected robots=on or robots=off"))?;
    if !key.trim().eq_ignore_ascii_case("robots") {
        return Err(format!(
            "'{s}': of wget's commands, only robots=on|off is supported"
        ));
    }
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "yes" => Ok(true),
        "off" | "0" | "no" => Ok(false),
        _ => Err(format!("'{s}': expected robots=on or robots=off")),
    }
}

/// `--level`: a depth, `inf` or 0 (no limit, as in wget).
fn parse_level(s: &str) -> Result<u32, String> {
    if s.eq_ignore_ascii_case("inf") {
        return Ok(0);
    }
    s.parse::<u32>()
        .map_err(|_| format!("'{s}' is not a depth (a number, or inf)"))
}

/// How one `-d`-like value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// `-d`, `--data-ascii`: `@FILE` read without CR and LF.
    Ascii,
    /// `--data-raw`: taken as typed.
    Raw,
    /// `--data-binary`: `@FILE` read as it is.
    Binary,
    /// `--data-urlencode`.
    UrlEncode,
    /// `--json`: as `--data-binary`, joined to what comes before without `&`.
    Json,
}

/// One `-d`-like value as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPart {
    /// Which flag gave it.
    pub kind: DataKind,
    /// The value.
    pub value: String,
}

/// One `-o` or `-O`, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `-o FILE`.
    File(String),
    /// `-O`.
    Remote,
}

impl Args {
    /// Parses the command line like `Args::try_parse_from`, and also records the order in
    /// which the -d, --data-* values and the -o, -O were typed (clap keeps one list per
    /// flag).
    pub fn parse_ordered<I, T>(args: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Args::command().try_get_matches_from(args)?;
        let mut parsed = Args::from_arg_matches(&matches)?;
        let mut parts = Vec::new();
        for (id, kind) in [
            ("data", DataKind::Ascii),
            ("data_ascii", DataKind::Ascii),
            ("data_raw", DataKind::Raw),
            ("data_binary", DataKind::Binary),
            ("data_urlencode", DataKind::UrlEncode),
            ("json", DataKind::Json),
        ] {
            if let (Some(at), Some(values)) =
                (matches.indices_of(id), matches.get_many::<String>(id))
            {
                for (i, value) in at.zip(values) {
                    parts.push((
                        i,
                        DataPart {
                            kind,
                            value: value.clone(),
                        },
                    ));
                }
            }
        }
        parts.sort_by_key(|(i, _)| *i);
        parsed.data_parts = parts.into_iter().map(|(_, p)| p).collect();
        // --url targets take their place among the others.
        if !parsed.url.is_empty() {
            let mut all: Vec<(usize, String)> = Vec::new();
            for id in ["targets", "url"] {
                if let (Some(at), Some(values)) =
                    (matches.indices_of(id), matches.get_many::<String>(id))
                {
                    all.extend(at.zip(values.cloned()));
                }
            }
            all.sort_by_key(|(i, _)| *i);
            parsed.targets = all.into_iter().map(|(_, t)| t).collect();
        }
        let mut forms: Vec<(usize, FormPart)> = Vec::new();
        for (id, literal) in [("form", false), ("form_string", true)] {
            if let (Some(at), Some(values)) =
                (matches.indices_of(id), matches.get_many::<String>(id))
            {
                forms.extend(at.zip(values.map(|v| FormPart {
                    value: v.clone(),
                    literal,
                })));
            }
        }
        forms.sort_by_key(|(i, _)| *i);
        parsed.form_parts = forms.into_iter().map(|(_, f)| f).collect();
        let mut outputs: Vec<(usize, Output)> = Vec::new();
        if let (Some(at), Some(files)) = (
            matches.indices_of("output"),
            matches.get_many::<String>("output"),
        ) {
            outputs.extend(at.zip(files.map(|f| Output::File(f.clone()))));
        }
        // A count has a default (0) with an index of its own: only occurrences typed count.
        let typed =
            matches.value_source("remote_name") == Some(clap::parser::ValueSource::CommandLine);
        if let Some(at) = matches.indices_of("remote_name").filter(|_| typed) {
            outputs.extend(at.map(|i| (i, Output::Remote)));
        }
        outputs.sort_by_key(|(i, _)| *i);
        parsed.outputs = outputs.into_iter().map(|(_, o)| o).collect();
        Ok(parsed)
    }
}

/// `--local-port N` or `N-M`.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("'{s}': expected a port or a range N-M");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// `--connect-to`: four parts split at colons, IPv6 addresses in brackets.
fn parse_connect_to(s: &str) -> Result<crate::ConnectTo, String> {
    let bad = || format!("'{s}': expected HOST1:PORT1:HOST2:PORT2 (parts may be empty)");
    let mut parts = Vec::new();
    let mut rest = s;
    // Bounded: each turn takes at least one byte or ends.
    for _ in 0..4 {
        let end = if rest.starts_with('[') {
            rest.find(']').map(|i| i + 1).ok_or_else(bad)?
        } else {
            rest.find(':').unwrap_or(rest.len())
        };
        parts.push(&rest[..end]);
        rest = rest[end..].strip_prefix(':').unwrap_or(&rest[end..]);
    }
    if !rest.is_empty() || parts.len() != 4 {
        return Err(bad());
    }
    let port = |p: &str| -> Result<Option<u16>, String> {
        if p.is_empty() {
            Ok(None)
        } else {
            p.parse().map(Some).map_err(|_| bad())
        }
    };
    let host = |h: &str| (!h.is_empty()).then(|| h.to_ascii_lowercase());
    Ok(crate::ConnectTo {
        host: host(parts[0]),
        port: port(parts[1])?,
        to_host: host(parts[2]),
        to_port: port(parts[3])?,
    })
}

/// `--create-file-mode`: octal permission bits, at most 0777.
fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("'{s}' is not a file mode (octal, e.g. 0644)"))
}

/// `--rate N/UNIT`: the least time between two starts.
fn parse_rate(s: &str) -> Result<Duration, String> {
    let bad = || format!("'{s}' is not a rate (N/s, N/m, N/h or N/d)");
    let (n, unit) = s.split_once('/').unwrap_or((s, "h"));
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    let per = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(per) / u32::try_from(n).map_err(|_| bad())?)
}

fn parse_continue(s: &str) -> Result<bool, String> {
    if s == "-" {
        Ok(true)
    } else {
        Err(format!(
            "'{s}': only `-C -` is supported (resume where the part file ends)"
        ))
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("'{s}' must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A size in bytes, read as curl reads one (`--limit-rate`, `--max-filesize`): leading
/// spaces, decimal digits, then at most one suffix in either case, B (bytes), K, M, G, T or
/// P (powers of 1024). curl 7.88 knows B, K, M and G; T and P came later.
fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size (BYTES, or with B, K, M, G, T or P)");
    let text = s.trim_start();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(bad)
}

/// Seconds, where 0 means "the default" (curl's --retry-delay 0, --retry-max-time 0).
fn parse_secs_or_zero(s: &str) -> Result<Duration, String> {
    if s.parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    parse_secs(s)
}

/// clap's message on one line: `unexpected argument '--x' found (see 'fetch --help')`.
pub(crate) fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() && !line.starts_with("tip:") {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_string());
        }
    }
    format!("{} (see 'fetch --help')", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_rules() {
        let r = parse_connect_to("a.test:80:[::1]:8080").unwrap();
        assert_eq!(r.host.as_deref(), Some("a.test"));
        assert_eq!((r.port, r.to_port), (Some(80), Some(8080)));
        assert_eq!(r.to_host.as_deref(), Some("[::1]"));
        let any = parse_connect_to("::b.test:").unwrap();
        assert_eq!((any.host, any.port, any.to_port), (None, None, None));
        assert_eq!(any.to_host.as_deref(), Some("b.test"));
        assert!(parse_connect_to("a:b:c:d").is_err());
    }

    #[test]
    fn sizes_as_curl_reads_them() {
        let cases: &[(&str, Option<u64>)] = &[
            ("1000", Some(1000)),
            ("1000B", Some(1000)),
            ("1000b", Some(1000)),
            ("2k", Some(2048)),
            ("2K", Some(2048)),
            ("3m", Some(3 << 20)),
            ("1G", Some(1 << 30)),
            ("1t", Some(1 << 40)),
            ("1T", Some(1 << 40)),
            ("1p", Some(1 << 50)),
            ("2P", Some(2 << 50)),
            (" 5", Some(5)),
            ("010", Some(10)),
            ("16384P", None),
            ("1kb", None),
            ("1.5k", None),
            ("0x10", None),
            ("1E", None),
            ("-1", None),
            ("", None),
            ("k", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).ok(), *want, "{text:?}");
        }
    }

    #[test]
    fn clap_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
