//! The main loop of a request: connect (or reuse), send the head, read the response head,
//! decide the body's framing, and follow redirects. Everything a request does happens here,
//! top to bottom.

use std::time::{Duration, Instant};

use shared::{Endpoint, Host, Target};

use crate::body::{self, Body};
use crate::builder::Builder;
use crate::connection::{Connection, Phase};
use crate::error::Error;
use crate::event::Event;
use crate::head::{self, Head};
use crate::payload::Payload;
use crate::pool::Pool;
use crate::redirect;
use crate::request::{self, HeaderEdit, Method, Request, Version};
use crate::response::Response;
use crate::trace::{AddrTry, Hop, Trace};

/// The largest redirect body read (and dropped) to keep its connection; a longer one just
/// closes it.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Runs `req` on `target` to the final response (whose body is left to the caller),
/// recording each hop in `trace`. Each time round the loop is one hop, a request and its
/// response head; a challenge answered or a redirect followed goes round again.
pub(crate) fn run(
    cfg: &Builder,
    pool: &Pool,
    req: &Request,
    target: &Target,
    trace: &mut Trace,
) -> Result<Response, Error> {
    // `-m` counts from here and bounds everything below, redirects and body included.
    let total = cfg.max_time.map(|max| (Instant::now() + max, max));
    let mut walk = Walk::new(cfg, req, target);
    loop {
        trace.hops.push(Hop {
            url: walk.current.to_string(),
            began: trace.now(),
            ..Hop::default()
        });
        let name = walk.method_name();
        let send = walk.request(&name, trace)?;
        let (conn, head, withheld) = exchange(cfg, pool, &walk.current, &send, total, trace)?;
        let sent = send.sent(withheld);
        walk.store_cookies(&head);
        let body = walk.body(conn, &head, withheld, pool)?;
        if walk.challenged(&head, &name) || walk.redirected(&head)? {
            // Asked again at once: this response's body is dropped (read, to keep its
            // connection, when short) and the response is part of the history, as curl
            // shows it with -i.
            body.drain(DRAIN_LIMIT);
            trace.body_done();
            walk.history.push(head);
            continue;
        }
        return Ok(Response::new(head, walk.current, walk.history, body, sent));
    }
}

/// A request on its way from the first hop to the final response: what a redirect or a
/// challenge changes for the hops after it.
struct Walk<'a> {
    cfg: &'a Builder,
    req: &'a Request,
    /// Where the first hop went.
    original: &'a Target,
    /// Where this hop goes.
    current: Target,
    /// The method, which a redirect may change (and with it drop the body).
    method: Method,
    payload: Option<Payload>,
    referer: Option<String>,
    /// The responses before this hop: redirects and answered challenges.
    history: Vec<Head>,
    /// Redirects followed, against `--max-redirs`.
    followed: u32,
    /// `--digest`, `--anyauth` (a 401's `WWW-Authenticate`) and `--proxy-digest`,
    /// `--proxy-anyauth` (a 407's `Proxy-Authenticate`): the challenges, taken once and
    /// answered on every request after them (each answer names its own method and path, so
    /// a redirect followed gets a fresh one, as curl makes it).
    challenges: Option<Vec<Vec<u8>>>,
    proxy_challenges: Option<Vec<Vec<u8>>>,
}

impl<'a> Walk<'a> {
    fn new(cfg: &'a Builder, req: &'a Request, target: &'a Target) -> Walk<'a> {
        Walk {
            cfg,
            req,
            original: target,
            current: target.clone(),
            method: req.method,
            payload: req.body.clone(),
            referer: cfg.referer.clone(),
            history: Vec::new(),
            followed: 0,
            challenges: None,
            proxy_challenges: None,
        }
    }

    /// The name on the request line: `-X`'s, else the method's.
    fn method_name(&self) -> String {
        self.req
            .method_name
            .clone()
            .unwrap_or_else(|| self.method.to_string())
    }

    /// What this hop sends, named `name` on the request line: the head, answering the
    /// challenges kept, and the body (a small one in the same write as the head).
    fn request(&self, name: &str, trace: &mut Trace) -> Result<Send<'_>, Error> {
        let cfg = self.cfg;
        let answered = self.challenges.as_ref().and_then(|c| {
            let target = request_target(cfg, &self.current);
            cfg.credentials
                .as_ref()?
                .answer(c.iter().map(Vec::as_slice), name, &target)
        });
        let proxy_answered = self
            .proxy_challenges
            .as_ref()
            .and_then(|c| proxy_answer(cfg, &self.current, c.iter().map(Vec::as_slice), name));
        let step = Step {
            method: name,
            current: &self.current,
            original: self.original,
            referer: self.referer.as_deref(),
            authorization: answered.as_deref(),
            proxy_authorization: proxy_answered.as_deref(),
        };
        let len = self.payload.as_ref().map(Payload::len).transpose()?;
        // curl's rule, for HTTP/1.1 only: ask first before an upload or a large body.
        let expect = cfg.version == Version::Http11
            && self
                .payload
                .as_ref()
                .is_some_and(|p| p.expects_continue(len.flatten()));
        let (mut head, expect) = request_head(cfg, &step, self.req, len, expect);
        if let Some(hop) = trace.hops.last_mut() {
            hop.method = name.to_string();
            hop.request_bytes = head.len() as u64;
        }
        let head_len = head.len();
        let body = match &self.payload {
            Some(Payload::Bytes(b)) if !expect => {
                // Head and body in one write: a small body goes out in the same packet.
                head.extend_from_slice(b);
                None
            }
            other => other.as_ref(),
        };
        Ok(Send {
            head,
            head_len,
            body,
            expect,
            len,
        })
    }

    /// Keeps the cookies `head` sets, for this hop's host and path. The jar is locked only
    /// for a response that sets cookies: the -Z threads share it.
    fn store_cookies(&self, head: &Head) {
        if let Some(jar) = &self.cfg.cookie_jar
            && let mut sets = head.all("set-cookie").peekable()
            && sets.peek().is_some()
        {
            let mut jar = jar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let current = &self.current;
            let host = host_of(current);
            for set in sets {
                jar.store_from(&host, &current.path, set, current.tls);
            }
        }
    }

    /// The body of the response `head` on `conn`, framed as RFC 9112 §6.3 says, and
    /// whether its connection may go back to the pool when it ends.
    fn body(
        &self,
        conn: Connection,
        head: &Head,
        withheld: bool,
        pool: &Pool,
    ) -> Result<Body, Error> {
        let cfg = self.cfg;
        let (framing, reusable) = match body::framing_with(self.method, head, cfg.transfer_codings)
        {
            // --ignore-content-length: the body is what comes until the server closes.
            Ok((body::Framing::Length(_), _)) if cfg.ignore_content_length => {
                (body::Framing::Close, false)
            }
            framing => framing.map_err(|reason| Error::BadResponse {
                peer: conn.peer.clone(),
                reason,
            })?,
        };
        // Only HTTP/1.1 requests ask for a persistent connection; one whose body was
        // withheld (the server answered before `100 Continue`) is left in an unknown state.
        let reusable = reusable && cfg.version == Version::Http11 && !withheld;
        Ok(Body::new(
            conn,
            framing,
            reusable,
            pool.clone(),
            cfg.idle_timeout,
            cfg.raw,
        ))
    }

    /// Whether `head` is the first 401 (`--digest`, `--anyauth`) or the first 407
    /// (`--proxy-digest`, `--proxy-anyauth`) whose challenge the user's credentials can
    /// answer for `method`; if so, the challenge is kept for every hop after this one.
    fn challenged(&mut self, head: &Head, method: &str) -> bool {
        let cfg = self.cfg;
        if head.status() == 401
            && self.challenges.is_none()
            && let Some(credentials) = &cfg.credentials
            && credentials
                .answer(
                    head.all("www-authenticate"),
                    method,
                    &request_target(cfg, &self.current),
                )
                .is_some()
        {
            self.challenges = Some(head.all("www-authenticate").map(<[u8]>::to_vec).collect());
            return true;
        }
        if head.status() == 407
            && self.proxy_challenges.is_none()
            && proxy_answer(cfg, &self.current, head.all("proxy-authenticate"), method).is_some()
        {
            // The same round as a 401's, with the proxy's challenge.
            self.proxy_challenges =
                Some(head.all("proxy-authenticate").map(<[u8]>::to_vec).collect());
            return true;
        }
        false
    }

    /// Whether `head` is a redirect to follow (`-L`); if so, the next hop is set up: its
    /// target, its method (and body, dropped with a change of method), its `Referer`.
    /// An error past `--max-redirs`, for a `Location` that does not resolve, or for a
    /// scheme the options turned off for redirects.
    fn redirected(&mut self, head: &Head) -> Result<bool, Error> {
        let cfg = self.cfg;
        let (Some(max), Some(location)) = (cfg.redirects, redirect::location(head)) else {
            return Ok(false);
        };
        if self.followed >= max {
            return Err(Error::TooManyRedirects { max });
        }
        let next = redirect::resolve(&self.current, location).map_err(|cause| Error::Redirect {
            location: String::from_utf8_lossy(location).into_owned(),
            cause,
        })?;
        let off = match next.tls {
            false => cfg.redirect_http_off,
            true => cfg.redirect_https_off,
        };
        if let Some(by) = off {
            return Err(Error::HttpDisabled {
                by,
                scheme: next.scheme(),
            });
        }
        cfg.notify(Event::Redirect {
            status: head.status(),
            to: &next,
        });
        let next_method = redirect::method_after(head.status(), self.method, &cfg.keep_post);
        if next_method != self.method {
            self.payload = None;
        }
        self.method = next_method;
        if cfg.auto_referer {
            self.referer = Some(self.current.to_string());
        }
        self.current = next;
        self.followed += 1;
        Ok(true)
    }
}

/// `--proxy-digest`, `--proxy-anyauth`: the `Proxy-Authorization` answering `challenges`
/// (a 407's `Proxy-Authenticate` values) for `method` on `current`, when a proxy (not a
/// tunnel's) takes it and the user asked for that. The Digest `uri` is the path, not the
/// absolute-form target RFC 7616 §3.4 names: curl sends the path, and proxies (squid)
/// accept it, so fetch answers as curl does.
fn proxy_answer<'a>(
    cfg: &Builder,
    current: &Target,
    challenges: impl Iterator<Item = &'a [u8]>,
    method: &str,
) -> Option<String> {
    forwarding(cfg, current)?
        .challenge_login()?
        .answer(challenges, method, &current.path)
}

/// What changes from one hop (request) to the next.
struct Step<'a> {
    /// The name on the request line.
    method: &'a str,
    /// Where this hop goes.
    current: &'a Target,
    /// Where the first one went.
    original: &'a Target,
    /// The `Referer` to send.
    referer: Option<&'a str>,
    /// The answer to a 401's challenge, if one was made.
    authorization: Option<&'a str>,
    /// The answer to a proxy's 407, if one was made.
    proxy_authorization: Option<&'a str>,
}

/// What the request line names: `--request-target`, else the whole URL through a proxy
/// (RFC 9112 §3.2.2; not inside a tunnel), else the path.
fn request_target(cfg: &Builder, current: &Target) -> String {
    if let Some(t) = &cfg.request_target {
        return t.clone();
    }
    match forwarding(cfg, current) {
        Some(_) => current.to_string(),
        None => current.path.clone(),
    }
}

/// The proxy that forwards the request to `current` itself (absolute-form request line):
/// none for a tunnel, which `-p` asks for and every `https://` target goes through (the
/// proxy must not see inside TLS), as curl does.
fn forwarding<'a>(cfg: &'a Builder, current: &Target) -> Option<&'a crate::proxy::Proxy> {
    via_proxy(cfg, current).filter(|p| !p.tunnel && !current.tls)
}

/// The proxy a request to `current` goes through: none with a Unix socket, or when
/// `no_proxy` lets the host go around it.
fn via_proxy<'a>(cfg: &'a Builder, current: &Target) -> Option<&'a crate::proxy::Proxy> {
    let proxy = match (&cfg.https_proxy, current.tls) {
        (Some(for_tls), true) => for_tls.as_ref(),
        _ => cfg.proxy.as_ref(),
    }
    .filter(|_| cfg.unix_socket.is_none())?;
    match &current.endpoint {
        Endpoint::Tcp { host, .. } if !crate::proxy::bypass(&cfg.no_proxy, &host.to_string()) => {
            Some(proxy)
        }
        _ => None,
    }
}

/// The `Cookie` for a request to `current`: the jar's matching cookies, then the
/// client's own (`-b STRING`).
fn cookies(cfg: &Builder, current: &Target) -> Option<String> {
    let from_jar = cfg.cookie_jar.as_ref().and_then(|jar| {
        let mut jar = jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jar.header_for(&host_of(current), &current.path, current.tls)
    });
    match (from_jar, &cfg.cookie) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or_else(|| b.clone()),
    }
}

/// The host name a cookie is for: the target's host, without port (and `localhost` for a
/// Unix socket).
fn host_of(target: &Target) -> String {
    match &target.endpoint {
        shared::Endpoint::Tcp { host, .. } => host.to_string(),
        shared::Endpoint::Unix(_) => "localhost".into(),
    }
}

/// What goes out for one request.
struct Send<'a> {
    /// The head (and a small body with it).
    head: Vec<u8>,
    /// Where the head ends in `head`.
    head_len: usize,
    /// The body to send after the head, if it is not in `head`.
    body: Option<&'a Payload>,
    /// `Expect: 100-continue` was sent: wait for the go-ahead (a short while) first.
    expect: bool,
    /// The body's length: `None` without a body, `Some(None)` when unknown (chunked).
    len: Option<Option<u64>>,
}

impl Send<'_> {
    /// The body bytes counted as sent: none when the server answered before
    /// `100 Continue` (`withheld`), and none counted for a body of unknown length.
    fn sent(&self, withheld: bool) -> u64 {
        match (self.len, withheld) {
            (Some(len), false) => len.unwrap_or(0),
            _ => 0,
        }
    }
}

/// The request head for a hop: the client's header edits (less the host-bound ones when a
/// redirect left the original host), the request's own, and for a body (`len`: its length
/// if known) its `Content-Length` or chunked coding, `Content-Type` and `Expect` (when
/// `expect`). Returns the bytes and whether `Expect: 100-continue` is in them (a header
/// edit may have removed it).
fn request_head(
    cfg: &Builder,
    hop: &Step<'_>,
    req: &Request,
    len: Option<Option<u64>>,
    expect: bool,
) -> (Vec<u8>, bool) {
    let current = hop.current;
    // Credentials, cookies and a custom Host given with -H stay with the host they were
    // given for.
    // (--location-trusted sends them everywhere.)
    // A change of scheme counts too (curl since 7.83): what was for https:// must not go
    // out in clear text, nor to another port's server.
    let cross_host = (current.endpoint != hop.original.endpoint || current.tls != hop.original.tls)
        && !cfg.location_trusted;
    // A proxy that forwards requests sees them (a tunnel's does not: it gets the CONNECT).
    let proxy = forwarding(cfg, current);
    let edits: Vec<&HeaderEdit> = cfg
        .headers
        .iter()
        .filter(|e| !(cross_host && request::is_host_bound(&e.name)))
        .chain(&req.headers)
        .chain(proxy.iter().flat_map(|_| &cfg.proxy_headers))
        .collect();
    let cookie = cookies(cfg, current);
    // Another host than the first has its own login, if one is known for it (`.netrc`):
    // curl looks the file up for each host, with --location-trusted too.
    let own_login = match (&cfg.host_login, &current.endpoint) {
        (Some(login), Endpoint::Tcp { host, .. }) if current.endpoint != hop.original.endpoint => {
            login(&host.to_string()).map(|(user, password)| crate::auth::basic(&user, &password))
        }
        _ => None,
    };
    let defaults = request::Defaults {
        proxy_authorization: proxy
            .and_then(|p| hop.proxy_authorization.or(p.authorization.as_deref())),
        proxy_connection: proxy.is_some(),
        accept_encoding: cfg.accept_encoding.as_deref(),
        te: cfg.transfer_codings,
        chunked: len == Some(None),
        authorization: hop
            .authorization
            .filter(|_| !cross_host)
            .or(own_login.as_deref())
            .or(cfg
                .authorization
                .as_deref()
                .or(req.authorization.as_deref())
                .filter(|_| !cross_host)),
        range: req.range.as_deref(),
        user_agent: cfg
            .user_agent
            .as_deref()
            .map(|a| (!a.is_empty()).then_some(a)),
        cookie: cookie.as_deref(),
        condition: req
            .time_condition
            .as_ref()
            .map(|(n, v)| (n.as_str(), v.as_str())),
        referer: hop.referer,
    };
    let mut headers = request::headers(current, defaults, &edits);
    let mut expect_sent = false;
    if let Some(len) = len {
        request::body_headers(
            &mut headers,
            len,
            req.content_type.as_deref(),
            expect,
            &edits,
        );
        expect_sent = expect && headers.iter().any(|(n, _)| n == "Expect");
    }
    let bytes = request::head(
        hop.method,
        &request_target(cfg, current),
        cfg.version,
        &headers,
    );
    (bytes, expect_sent)
}

/// One request (`send`: its head and body) and its response head, on a kept-alive
/// connection when there is one (sent again once on a new connection if the kept-alive one turns out closed
/// before answering: the server saw none of it, so even a POST is safe to repeat, as curl
/// does).
fn exchange(
    cfg: &Builder,
    pool: &Pool,
    current: &Target,
    send: &Send<'_>,
    total: Option<(Instant, std::time::Duration)>,
    trace: &mut Trace,
) -> Result<(Connection, Head, bool), Error> {
    // A tunnel leads to one origin: it is pooled under the origin's name (a host either
    // always goes through the proxy or never, so the two kinds never meet under one key).
    let key = match (&cfg.unix_socket, forwarding(cfg, current)) {
        (Some(path), _) => Endpoint::Unix(path.clone()),
        (None, Some(proxy)) => proxy.endpoint.clone(),
        (None, None) => connect_to(cfg, &current.endpoint)?,
    };
    let tls_name = tls_name(current)?;
    let mut may_reuse = true;
    loop {
        let pooled = if may_reuse {
            pool.take(&key, tls_name.as_deref())
        } else {
            None
        };
        let mut conn = match pooled {
            Some(mut conn) => {
                cfg.notify(Event::Reused { peer: &conn.peer });
                conn.suit_thread();
                conn
            }
            None => fresh(cfg, &key, current, total, trace)?,
        };
        match converse(cfg, &mut conn, send, total, trace) {
            Ok((head, withheld)) => return Ok((conn, head, withheld)),
            Err(e @ (Error::Send { .. } | Error::EmptyReply { .. } | Error::Receive { .. }))
                if conn.reused =>
            {
                cfg.notify(Event::Retry {
                    peer: &conn.peer,
                    reason: e.to_string(),
                });
                may_reuse = false;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A new connection to `key` for a request to `current`: through a proxy's tunnel when
/// one is wanted (`-p`, and every `https://` target behind a proxy), then for `https://`
/// the TLS handshake.
fn fresh(
    cfg: &Builder,
    key: &Endpoint,
    current: &Target,
    total: Option<(Instant, std::time::Duration)>,
    trace: &mut Trace,
) -> Result<Connection, Error> {
    let proxy = via_proxy(cfg, current);
    // A proxy whose name does not resolve is curl's exit 5, not 6.
    let proxy_error = |e| match (e, proxy) {
        (Error::Net(e @ shared::Error::Resolve { .. }), Some(_)) => Error::ProxyResolve(e),
        (e, _) => e,
    };
    let began = Instant::now();
    let mut conn = match proxy.filter(|p| p.tunnel || current.tls) {
        Some(p) => {
            let mut conn = open(cfg, &p.endpoint, total, trace).map_err(proxy_error)?;
            conn.set_total(total);
            if let Some(answer) = tunnel(cfg, &mut conn, p, current, None)? {
                // The 407's body is not read: the answer goes on a new connection, which
                // leaves nothing of the refusal behind.
                conn = open(cfg, &p.endpoint, total, trace).map_err(proxy_error)?;
                conn.set_total(total);
                tunnel(cfg, &mut conn, p, current, Some(&answer))?;
            }
            conn.key = key.clone();
            conn
        }
        None => open(cfg, key, total, trace).map_err(proxy_error)?,
    };
    if current.tls {
        secure(cfg, &mut conn, current, total, trace, began)?;
    }
    Ok(conn)
}

/// Sends `send` on `conn` and reads the response head, noting in this hop's trace which
/// connection it was and when each part happened. Also says whether the body was withheld
/// (the server answered before `100 Continue`).
fn converse(
    cfg: &Builder,
    conn: &mut Connection,
    send: &Send<'_>,
    total: Option<(Instant, std::time::Duration)>,
    trace: &mut Trace,
) -> Result<(Head, bool), Error> {
    let hop = trace.hops.last_mut().expect("run pushed the hop");
    hop.peer = Some(conn.peer.clone());
    hop.local = conn.local_addr();
    hop.reused = conn.reused;
    conn.set_total(total);
    cfg.notify(Event::RequestHead(&send.head[..send.head_len]));
    if send.head.len() > send.head_len {
        cfg.notify(Event::RequestBody(&send.head[send.head_len..]));
    }
    let start = trace.start;
    let mut withheld = false;
    let result = conn.write_all(&send.head, cfg.send_timeout).and_then(|()| {
        if let Some(body) = send.body {
            withheld = send.expect && answered_first(conn, cfg.expect_timeout)?;
            if !withheld {
                body.send(conn, cfg.send_timeout, cfg.upload_rate)?;
            }
        }
        hop.sent = Some(start.elapsed());
        if cfg.version == Version::Http09 {
            return Ok(Head::http09());
        }
        head::read_head(conn, cfg.head_timeout, &mut |h| {
            cfg.notify(Event::ResponseHead(h.raw()))
        })
    });
    hop.first_byte = conn
        .first_read()
        .map(|t| t.saturating_duration_since(start));
    let head = result?;
    hop.head = Some(start.elapsed());
    hop.status = Some(head.status());
    Ok((head, withheld))
}

/// The host a TLS connection to `current` is made for (`None`: plain HTTP); an error for
/// `https://` in a build without TLS.
fn tls_name(current: &Target) -> Result<Option<String>, Error> {
    #[cfg(feature = "tls")]
    return Ok(crate::tls::pool_name(current));
    #[cfg(not(feature = "tls"))]
    match current.tls {
        true => Err(Error::Net(shared::Error::UnsupportedScheme {
            scheme: "https (this build has no TLS: the client's `tls` feature)".into(),
        })),
        false => Ok(None),
    }
}

/// The TLS handshake on a new connection to `current`, under what is left of
/// `--connect-timeout` since `began` (curl counts the handshake in it) and `-m`.
#[cfg(feature = "tls")]
fn secure(
    cfg: &Builder,
    conn: &mut Connection,
    current: &Target,
    total: Option<(Instant, std::time::Duration)>,
    trace: &mut Trace,
    began: Instant,
) -> Result<(), Error> {
    conn.set_total(total);
    let limit = cfg.connect_timeout.saturating_sub(began.elapsed());
    let config = cfg.tls.config()?;
    let name = crate::tls::name_of(current)?;
    let start = Instant::now();
    conn.start_tls(config, name, limit)?;
    let at = |t: Instant| t.saturating_duration_since(trace.start);
    let host = crate::tls::pool_name(current).unwrap_or_default();
    let info = crate::tls::describe(
        conn.tls().expect("the handshake is done"),
        &cfg.tls.settings,
        host,
    );
    let hop = trace.hops.last_mut().expect("run pushed the hop");
    hop.tls = Some(crate::trace::TlsHop {
        start: at(start),
        end: at(Instant::now()),
        version: info.version.clone(),
        cipher: info.cipher.clone(),
        certs: info.certs,
    });
    conn.tls_name = crate::tls::pool_name(current);
    cfg.notify(Event::Tls(&info));
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn secure(
    _: &Builder,
    _: &mut Connection,
    _: &Target,
    _: Option<(Instant, std::time::Duration)>,
    _: &mut Trace,
    _: Instant,
) -> Result<(), Error> {
    unreachable!("tls_name refuses https:// without TLS")
}

/// Where to connect for `endpoint`: itself, or what the first `--connect-to` rule that
/// matches it says.
fn connect_to(cfg: &Builder, endpoint: &Endpoint) -> Result<Endpoint, Error> {
    let Endpoint::Tcp { host, port } = endpoint else {
        return Ok(endpoint.clone());
    };
    let name = host.to_string();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let rule = cfg.connect_to.iter().find(|r| {
        r.host.as_deref().is_none_or(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(bare)
        }) && r.port.is_none_or(|p| p == *port)
    });
    let Some(rule) = rule else {
        return Ok(endpoint.clone());
    };
    let to_host = rule.to_host.clone().unwrap_or(name);
    let to_port = rule.to_port.unwrap_or(*port);
    Ok(Target::parse(&format!("http://{to_host}:{to_port}/"))?.endpoint)
}

/// `-p`: asks the proxy on `conn` for a tunnel to `current`'s host and port (RFC 9110
/// §9.3.6), with curl's headers and `answer` (to an earlier 407) if given; anything but a
/// 2xx is curl's exit 56, except a first 407 that `--proxy-digest`/`--proxy-anyauth` can
/// answer: that answer is returned, for the caller to ask again with.
fn tunnel(
    cfg: &Builder,
    conn: &mut Connection,
    proxy: &crate::proxy::Proxy,
    current: &Target,
    answer: Option<&str>,
) -> Result<Option<String>, Error> {
    let authority = current.endpoint.to_string();
    let mut headers = vec![("Host".to_string(), format!(" {authority}"))];
    if let Some(auth) = answer.or(proxy.authorization.as_deref()) {
        headers.push(("Proxy-Authorization".into(), format!(" {auth}")));
    }
    if let Some(agent) = cfg
        .user_agent
        .as_deref()
        .map_or(Some(request::USER_AGENT), |a| (!a.is_empty()).then_some(a))
    {
        headers.push(("User-Agent".into(), format!(" {agent}")));
    }
    headers.push(("Proxy-Connection".into(), " Keep-Alive".into()));
    for edit in &cfg.proxy_headers {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&edit.name));
        if let Some(v) = &edit.value {
            headers.push((edit.name.clone(), format!(" {v}")));
        }
    }
    let version = if proxy.http10 {
        Version::Http10
    } else {
        Version::Http11
    };
    let bytes = request::head("CONNECT", &authority, version, &headers);
    cfg.notify(Event::RequestHead(&bytes));
    conn.write_all(&bytes, cfg.send_timeout)?;
    let head = head::read_head(conn, cfg.head_timeout, &mut |h| {
        cfg.notify(Event::ResponseHead(h.raw()))
    })?;
    if head.status() == 407
        && answer.is_none()
        && let Some(value) = proxy
            .challenge_login()
            .and_then(|l| l.answer(head.all("proxy-authenticate"), "CONNECT", &authority))
    {
        return Ok(Some(value));
    }
    if !(200..300).contains(&head.status()) {
        return Err(Error::Receive {
            peer: conn.peer.clone(),
            reason: format!(
                "the proxy refused the tunnel to {authority} (CONNECT answered {})",
                head.status()
            ),
        });
    }
    Ok(None)
}

/// After `Expect: 100-continue`: waits up to `wait` for the server. `false`: send
/// the body (a `100 Continue` came, and is consumed, or nothing came in time, as curl
/// does); `true`: the server answered first (its answer is left for the head reader, and
/// the body is not sent).
fn answered_first(conn: &mut Connection, wait: Duration) -> Result<bool, Error> {
    let until = Instant::now() + wait;
    loop {
        match head::parse_head(conn.buffered()) {
            Ok(Some((head, len))) if head.status() == 100 => {
                conn.consume(len);
                return Ok(false);
            }
            Ok(None) => {}
            // A final answer, or something the head reader will report.
            _ => return Ok(true),
        }
        match conn.fill(Phase::Head, wait, until) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(Error::Timeout { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// Opens a new connection to `key`. `--connect-timeout` covers resolving and connecting
/// together; `-m` may cut it shorter.
fn open(
    cfg: &Builder,
    key: &Endpoint,
    total: Option<(Instant, std::time::Duration)>,
    trace: &mut Trace,
) -> Result<Connection, Error> {
    let started = Instant::now();
    if let Some((deadline, max)) = total
        && started >= deadline
    {
        return Err(Error::Timeout {
            phase: format!("before connecting to {key}"),
            after: max,
        });
    }
    let limit = match total {
        Some((deadline, _)) => cfg
            .connect_timeout
            .min(deadline.saturating_duration_since(started)),
        None => cfg.connect_timeout,
    };
    let Endpoint::Unix(path) = key else {
        return open_tcp(cfg, key, started, limit, trace);
    };
    let hop = trace.hops.last_mut().expect("run pushed the hop");
    let stream = {
        let path = path.clone();
        shared::fiber::blocking(move || shared::connect_unix(&path, limit))
    };
    let peer = format!("unix:{}", path.display());
    hop.addrs.push(AddrTry {
        addr: peer.clone(),
        start: started.saturating_duration_since(trace.start),
        took: started.elapsed(),
        error: stream.as_ref().err().map(ToString::to_string),
    });
    let stream = stream?;
    cfg.notify(Event::Connected {
        peer: &peer,
        failed: &[],
        elapsed: started.elapsed(),
    });
    Ok(Connection::new(stream, peer, key.clone()))
}

/// `open` for a host and port (`key`, not a Unix socket): resolved, then connected to in
/// turn or raced (Happy Eyeballs), within `limit` from `started`; every address tried goes
/// into this hop's trace.
fn open_tcp(
    cfg: &Builder,
    key: &Endpoint,
    started: Instant,
    limit: Duration,
    trace: &mut Trace,
) -> Result<Connection, Error> {
    let Endpoint::Tcp { host, port } = key else {
        unreachable!("open hands only TCP endpoints over");
    };
    let hop = trace.hops.last_mut().expect("run pushed the hop");
    let at = |t: Instant| t.saturating_duration_since(trace.start);
    // In a fiber (-Z), what may block (getaddrinfo, connecting) runs on a thread of its
    // own while the other transfers go on (shared::fiber::blocking).
    let addrs = match cfg.resolver.resolve_now(host, *port) {
        Some(answer) => answer?,
        None => {
            let (resolver, host, port) = (cfg.resolver.clone(), host.clone(), *port);
            shared::fiber::blocking(move || resolver.resolve(&host, port, limit))?
        }
    };
    let connect_start = Instant::now();
    hop.resolve = Some((at(started), at(connect_start)));
    if let Host::Name(name) = host {
        cfg.notify(Event::Resolved {
            host: name,
            addrs: &addrs,
        });
    }
    let left = limit.saturating_sub(started.elapsed());
    let connected = {
        let (name, addrs, local, happy) = (
            key.to_string(),
            addrs.clone(),
            cfg.local.clone(),
            cfg.happy_eyeballs,
        );
        shared::fiber::blocking(move || match happy {
            Some(delay) => shared::connect_happy_with(&name, &addrs, left, delay, &local),
            None => shared::connect_with(&name, &addrs, left, &local),
        })
    };
    let tried = |a: &shared::Attempt| AddrTry {
        addr: a.addr.to_string(),
        start: at(connect_start) + a.started,
        took: a.elapsed,
        error: Some(a.reason.clone()),
    };
    let connected = match connected {
        Ok(c) => c,
        Err(e) => {
            if let shared::Error::Connect { attempts, .. } = &e {
                hop.addrs.extend(attempts.iter().map(tried));
            }
            return Err(e.into());
        }
    };
    hop.addrs.extend(connected.failed.iter().map(tried));
    hop.addrs.push(AddrTry {
        addr: connected.addr.to_string(),
        start: at(connect_start) + connected.started,
        took: connected.elapsed,
        error: None,
    });
    hop.addrs.sort_by_key(|a| a.start);
    let peer = connected.addr.to_string();
    cfg.notify(Event::Connected {
        peer: &peer,
        failed: &connected.failed,
        elapsed: connected.elapsed,
    });
    let mut conn = Connection::new(connected.stream, peer, key.clone());
    if cfg.haproxy_protocol {
        haproxy_line(cfg, &mut conn, connected.addr)?;
    }
    Ok(conn)
}

/// `--haproxy-protocol`: the PROXY protocol v1 line (HAProxy's proxy-protocol.txt §2.1)
/// naming this connection's source and destination, before anything else is sent.
fn haproxy_line(
    cfg: &Builder,
    conn: &mut Connection,
    peer: std::net::SocketAddr,
) -> Result<(), Error> {
    let line = match conn.local_addr() {
        Some(local) => {
            let family = if peer.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                local.ip(),
                peer.ip(),
                local.port(),
                peer.port()
            )
        }
        None => "PROXY UNKNOWN\r\n".to_string(),
    };
    conn.write_all(line.as_bytes(), cfg.send_timeout)
}
