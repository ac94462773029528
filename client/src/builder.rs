//! [`Builder`]: the settings every request of a client shares (timeouts, redirects,
//! headers, resolution), with their defaults. [`Builder::build`] (in `client.rs`) makes the
//! [`Client`](crate::Client) that holds them.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::Resolver;

use crate::auth::Credentials;
use crate::cookie::CookieJar;
use crate::event::{Event, Observer};
use crate::proxy::Proxy;
use crate::request::{HeaderEdit, Version};

/// Default limit for resolving a name and connecting: 30 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit from sending the request to having the whole response head: 60 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit on waiting for the next body bytes: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit on writing the request head: 30 s.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of redirects followed when following is on (curl's `--max-redirs`
/// default is 50; 10 is plenty for pages and stops loops sooner).
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
/// Default wait for `100 Continue` before sending a body anyway: 1 s (curl's).
pub const DEFAULT_EXPECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default number of idle kept-alive connections kept per endpoint: 4.
pub const DEFAULT_MAX_IDLE_PER_ENDPOINT: usize = 4;

/// Settings for a [`Client`](crate::Client); start from
/// [`Client::builder`](crate::Client::builder).
#[derive(Clone)]
pub struct Builder {
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) head_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_time: Option<Duration>,
    pub(crate) redirects: Option<u32>,
    pub(crate) headers: Vec<HeaderEdit>,
    pub(crate) version: Version,
    pub(crate) resolver: Resolver,
    pub(crate) unix_socket: Option<PathBuf>,
    pub(crate) observer: Option<Observer>,
    pub(crate) happy_eyeballs: Option<Duration>,
    pub(crate) max_idle_per_endpoint: usize,
    pub(crate) keep_post: Vec<u16>,
    pub(crate) authorization: Option<String>,
    pub(crate) host_login: Option<HostLogin>,
    pub(crate) referer: Option<String>,
    pub(crate) auto_referer: bool,
    pub(crate) expect_timeout: Duration,
    pub(crate) cookie_jar: Option<Arc<Mutex<CookieJar>>>,
    pub(crate) cookie: Option<String>,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) no_proxy: Vec<String>,
    pub(crate) redirect_http_off: Option<&'static str>,
    pub(crate) redirect_https_off: Option<&'static str>,
    pub(crate) accept_encoding: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) location_trusted: bool,
    pub(crate) request_target: Option<String>,
    pub(crate) ignore_content_length: bool,
    pub(crate) proxy_headers: Vec<HeaderEdit>,
    pub(crate) connect_to: Vec<ConnectTo>,
    pub(crate) local: shared::Local,
    pub(crate) haproxy_protocol: bool,
    pub(crate) raw: bool,
    pub(crate) transfer_codings: bool,
    pub(crate) upload_rate: Option<u64>,
    /// The proxy for `https://` targets when it differs from `proxy` (`https_proxy`).
    pub(crate) https_proxy: Option<Option<Proxy>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: crate::tls::Tls,
}

/// One `--connect-to` rule: requests for `host`:`port` (either `None`: any) connect to
/// `to_host`:`to_port` instead (either `None`: unchanged); the URL, `Host` included, stays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectTo {
    /// The host it applies to (`None`: every host).
    pub host: Option<String>,
    /// The port it applies to (`None`: every port).
    pub port: Option<u16>,
    /// Where to connect instead (`None`: the same host).
    pub to_host: Option<String>,
    /// The port to connect to instead (`None`: the same port).
    pub to_port: Option<u16>,
}

/// A login and password for a host, by its name (see [`Builder::host_login`]).
pub type HostLogin = Arc<dyn Fn(&str) -> Option<(String, String)> + Send + Sync>;

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("connect_timeout", &self.connect_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_time", &self.max_time)
            .field("redirects", &self.redirects)
            .field("headers", &self.headers)
            .field("version", &self.version)
            .field("unix_socket", &self.unix_socket)
            .field("happy_eyeballs", &self.happy_eyeballs)
            .field("max_idle_per_endpoint", &self.max_idle_per_endpoint)
            .field("keep_post", &self.keep_post)
            .field("referer", &self.referer)
            .field("auto_referer", &self.auto_referer)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_time: None,
            redirects: None,
            headers: Vec::new(),
            version: Version::Http11,
            resolver: Resolver::new(),
            unix_socket: None,
            observer: None,
            happy_eyeballs: Some(shared::HAPPY_EYEBALLS_DELAY),
            max_idle_per_endpoint: DEFAULT_MAX_IDLE_PER_ENDPOINT,
            keep_post: Vec::new(),
            authorization: None,
            host_login: None,
            referer: None,
            auto_referer: false,
            expect_timeout: DEFAULT_EXPECT_TIMEOUT,
            cookie_jar: None,
            cookie: None,
            proxy: None,
            no_proxy: Vec::new(),
            redirect_http_off: None,
            redirect_https_off: None,
            accept_encoding: None,
            user_agent: None,
            credentials: None,
            location_trusted: false,
            request_target: None,
            ignore_content_length: false,
            proxy_headers: Vec::new(),
            connect_to: Vec::new(),
            local: shared::Local::default(),
            haproxy_protocol: false,
            raw: false,
            transfer_codings: false,
            upload_rate: None,
            https_proxy: None,
            #[cfg(feature = "tls")]
            tls: crate::tls::Tls::default(),
        }
    }
}

impl Builder {
    /// Limit for resolving the name and connecting, together (default 30 s).
    pub fn connect_timeout(mut self, t: Duration) -> Builder {
        self.connect_timeout = t;
        self
    }

    /// Limit on writing the request head (default 30 s).
    pub fn send_timeout(mut self, t: Duration) -> Builder {
        self.send_timeout = t;
        self
    }

    /// Limit from sending the request to having the whole response head (default 60 s).
    pub fn head_timeout(mut self, t: Duration) -> Builder {
        self.head_timeout = t;
        self
    }

    /// Limit on waiting for the next body bytes (default 60 s).
    pub fn idle_timeout(mut self, t: Duration) -> Builder {
        self.idle_timeout = t;
        self
    }

    /// Limit for a whole request: connecting, every redirect, and reading the body
    /// (default none).
    pub fn max_time(mut self, t: Option<Duration>) -> Builder {
        self.max_time = t;
        self
    }

    /// Follow up to `max` redirects (`None`, the default: return the 3xx response).
    pub fn redirects(mut self, max: Option<u32>) -> Builder {
        self.redirects = max;
        self
    }

    /// Applies a header edit (add, replace a default, or remove one), after those given
    /// before.
    pub fn header(mut self, edit: HeaderEdit) -> Builder {
        self.headers.push(edit);
        self
    }

    /// The protocol version to speak (default HTTP/1.1).
    pub fn version(mut self, v: Version) -> Builder {
        self.version = v;
        self
    }

    /// The resolver (its overrides and address family).
    pub fn resolver(mut self, r: Resolver) -> Builder {
        self.resolver = r;
        self
    }

    /// Connect to this Unix-domain socket whatever the target; the target still gives the
    /// `Host` header and the path.
    pub fn unix_socket(mut self, path: Option<PathBuf>) -> Builder {
        self.unix_socket = path;
        self
    }

    /// Tells `f` about each [`Event`] (resolution, connections, heads, redirects).
    pub fn observer(mut self, f: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Builder {
        self.observer = Some(Arc::new(f));
        self
    }

    /// Race the addresses of a name (Happy Eyeballs, RFC 8305): the next address is tried
    /// when the previous one has not connected within `delay` (default 250 ms,
    /// `shared::HAPPY_EYEBALLS_DELAY`). `None`: one address after the other, each with a
    /// share of the connect timeout.
    pub fn happy_eyeballs(mut self, delay: Option<Duration>) -> Builder {
        self.happy_eyeballs = delay;
        self
    }

    /// The most idle kept-alive connections kept per endpoint (default 4); the oldest is
    /// closed to make room. Raise it to the number of parallel transfers to one host.
    pub fn max_idle_per_endpoint(mut self, n: usize) -> Builder {
        self.max_idle_per_endpoint = n;
        self
    }

    /// Keep a POST, body and all, after a redirect with `status` (301, 302 or 303; curl's
    /// `--post301`, `--post302`, `--post303`). By default those turn it into a GET without
    /// a body, as browsers do; 307 and 308 always keep it.
    pub fn keep_post(mut self, status: u16) -> Builder {
        if !self.keep_post.contains(&status) {
            self.keep_post.push(status);
        }
        self
    }

    /// Send `Authorization: Basic` with `user` and `password` (curl's `-u`), right after
    /// `Host`, to the endpoint asked for only: not after a redirect to another host or port.
    /// A header edit naming `Authorization` replaces it.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Builder {
        self.authorization = Some(crate::auth::basic(user, password));
        self
    }

    /// Send `Authorization: Bearer token` instead (curl's `--oauth2-bearer`), in the same
    /// place, to the endpoint asked for only.
    pub fn bearer_auth(mut self, token: &str) -> Builder {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// Send `Referer: url` with the first request (curl's `-e`; default none).
    pub fn referer(mut self, url: Option<String>) -> Builder {
        self.referer = url;
        self
    }

    /// After a redirect, send the URL redirected from as the `Referer` (curl's `-e ';auto'`).
    pub fn auto_referer(mut self, on: bool) -> Builder {
        self.auto_referer = on;
        self
    }

    /// After `Expect: 100-continue` (sent before an upload or a body over 1 MiB), how long
    /// to wait for the go-ahead before sending the body anyway (default 1 s).
    pub fn expect_timeout(mut self, t: Duration) -> Builder {
        self.expect_timeout = t;
        self
    }

    /// Keep cookies in `jar`: every `Set-Cookie` received (redirects included) goes in,
    /// and each request sends the cookies that match it (curl's cookie engine, on with `-b
    /// FILE` or `-c`). Default: none.
    pub fn cookie_jar(mut self, jar: Option<Arc<Mutex<CookieJar>>>) -> Builder {
        self.cookie_jar = jar;
        self
    }

    /// Send `cookies` (`name=value; name2=value2`, curl's `-b STRING`) with every request,
    /// after the jar's.
    pub fn cookie(mut self, cookies: Option<String>) -> Builder {
        self.cookie = cookies;
        self
    }

    /// Send requests through this HTTP proxy (absolute-form request lines,
    /// `Proxy-Connection: Keep-Alive` as curl sends it); default none. A Unix socket
    /// (`unix_socket`) goes around it.
    pub fn proxy(mut self, proxy: Option<Proxy>) -> Builder {
        self.proxy = proxy;
        self
    }

    /// Hosts that go around the proxy: `*` for all, names with their subdomains,
    /// addresses (curl's `--noproxy`).
    pub fn no_proxy(mut self, patterns: Vec<String>) -> Builder {
        self.no_proxy = patterns;
        self
    }

    /// Refuse to follow a redirect to plain HTTP, naming `by`, the option that says so
    /// (curl's `--proto-redir` or `--proto` without http; exit 1). Default: `None`,
    /// redirects are followed.
    pub fn redirect_http_off(mut self, by: Option<&'static str>) -> Builder {
        self.redirect_http_off = by;
        self
    }

    /// The same for a redirect to `https://`.
    pub fn redirect_https_off(mut self, by: Option<&'static str>) -> Builder {
        self.redirect_https_off = by;
        self
    }

    /// Send `Accept-Encoding: codings` right after `Accept`, where curl puts it for
    /// `--compressed` (default none). The body is returned as it comes: decoding it is the
    /// caller's.
    pub fn accept_encoding(mut self, codings: Option<String>) -> Builder {
        self.accept_encoding = codings;
        self
    }

    /// The `User-Agent`, in its place after `Host` (curl's `-A`); `Some("")` sends none.
    /// Default `None`: `fetch/VERSION`.
    pub fn user_agent(mut self, agent: Option<String>) -> Builder {
        self.user_agent = agent;
        self
    }

    /// Answer a 401 with these credentials (curl's `--digest`, `--anyauth`): the first
    /// request goes without, and the server's `WWW-Authenticate` picks the scheme; the 401
    /// joins the response's history, as a redirect does. Default none.
    pub fn challenge_auth(mut self, credentials: Option<Credentials>) -> Builder {
        self.credentials = credentials;
        self
    }

    /// The Basic login for a host a redirect leads to, asked of `f` with the host's name
    /// (curl reads `.netrc` for each host it goes to): sent there instead of the first
    /// host's credentials, with `--location-trusted` too. Default none.
    pub fn host_login(mut self, f: Option<HostLogin>) -> Builder {
        self.host_login = f;
        self
    }

    /// Send credentials and host-bound `-H` lines to every host a redirect leads to, not
    /// only the first (curl's `--location-trusted`). Default off.
    pub fn location_trusted(mut self, on: bool) -> Builder {
        self.location_trusted = on;
        self
    }

    /// Put `target` on the request line instead of the URL's path (curl's
    /// `--request-target`, e.g. `*` for `OPTIONS *`). Default `None`.
    pub fn request_target(mut self, target: Option<String>) -> Builder {
        self.request_target = target;
        self
    }

    /// Read every body to the end of the connection, whatever `Content-Length` says
    /// (curl's `--ignore-content-length`). Default off.
    pub fn ignore_content_length(mut self, on: bool) -> Builder {
        self.ignore_content_length = on;
        self
    }

    /// Add `edit` to the headers a proxy gets: after the others in a request through the
    /// proxy, and alone (with `Host`) in a `CONNECT` (curl's `--proxy-header`).
    pub fn proxy_header(mut self, edit: HeaderEdit) -> Builder {
        self.proxy_headers.push(edit);
        self
    }

    /// Connect somewhere else for some hosts and ports (curl's `--connect-to`; the first
    /// rule that matches applies). Default none.
    pub fn connect_to(mut self, rule: ConnectTo) -> Builder {
        self.connect_to.push(rule);
        self
    }

    /// How the client side of each new TCP connection is set up: local address, interface,
    /// port range, keep-alive probes, TCP Fast Open (curl's `--interface`, `--local-port`,
    /// `--keepalive-time`, `--tcp-fastopen`). Default: the system's choices.
    pub fn local(mut self, local: shared::Local) -> Builder {
        self.local = local;
        self
    }

    /// Begin each new TCP connection with a PROXY protocol v1 line naming its two ends
    /// (curl's `--haproxy-protocol`), for a server behind HAProxy's `accept-proxy`.
    /// Default off.
    pub fn haproxy_protocol(mut self, on: bool) -> Builder {
        self.haproxy_protocol = on;
        self
    }

    /// Hand out a chunked body with its framing, as it came (curl's `--raw`); its end is
    /// still found. Default off.
    pub fn raw(mut self, on: bool) -> Builder {
        self.raw = on;
        self
    }

    /// Ask for a compressed transfer coding (`TE: gzip`, `Connection: TE`, curl's
    /// `--tr-encoding`) and accept gzip or deflate before `chunked` in the answer's
    /// `Transfer-Encoding`; decoding the body is the caller's. Default off.
    pub fn transfer_codings(mut self, on: bool) -> Builder {
        self.transfer_codings = on;
        self
    }

    /// Send request bodies at most `rate` bytes a second on average (curl's
    /// `--limit-rate`, which bounds uploads too). Default `None`: as fast as the socket
    /// takes them.
    pub fn upload_rate(mut self, rate: Option<u64>) -> Builder {
        self.upload_rate = rate;
        self
    }

    /// Tells the observer, if there is one, about `event`.
    /// The TLS settings for `https://` targets: curl's `--cacert`, `-k`, `--pinnedpubkey`
    /// and the rest (the default verifies against the system's roots). Files are read
    /// when the first `https://` request needs them.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, settings: shared::tls::ClientSettings) -> Builder {
        self.tls = crate::tls::Tls::new(settings);
        self
    }

    /// The proxy for `https://` targets only (curl's `https_proxy`), where it differs from
    /// [`Builder::proxy`]'s: `None` sends them direct. Through a proxy, an `https://`
    /// request always goes through a `CONNECT` tunnel.
    pub fn https_proxy(mut self, proxy: Option<Proxy>) -> Builder {
        self.https_proxy = Some(proxy);
        self
    }

    pub(crate) fn notify(&self, event: Event<'_>) {
        if let Some(f) = &self.observer {
            f(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let b = Builder::default();
        assert_eq!(b.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(b.max_time, None);
        assert_eq!(b.redirects, None, "redirects are followed only when asked");
        assert_eq!(b.version, Version::Http11);
    }
}
