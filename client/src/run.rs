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
use crate::request::{self, HeaderEdit, Request, Version};
use crate::response::Response;
use crate::trace::{AddrTry, Hop, Trace};

/// The largest redirect body read (and dropped) to keep its connection; a longer one just
/// closes it.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Runs `req` on `target` to the final response (whose body is left to the caller),
/// recording each hop in `trace`.
pub(crate) fn run(
    cfg: &Builder,
    pool: &Pool,
    req: &Request,
    target: &Target,
    trace: &mut Trace,
) -> Result<Response, Error> {
    // `-m` counts from here and bounds everything below, redirects and body included.
    let total = cfg.max_time.map(|max| (Instant::now() + max, max));
    let mut method = req.method;
    let mut payload = req.body.clone();
    let mut referer = cfg.referer.clone();
    let mut current = target.clone();
    let mut history = Vec::new();
    let mut followed = 0;
    loop {
        trace.hops.push(Hop {
            url: current.to_string(),
            began: trace.now(),
            ..Hop::default()
        });
        let name = req
            .method_name
            .clone()
            .unwrap_or_else(|| method.to_string());
        let step = Step {
            method: &name,
            current: &current,
            original: target,
            referer: referer.as_deref(),
        };
        let len = payload.as_ref().map(Payload::len).transpose()?;
        // curl's rule, for HTTP/1.1 only: ask first before an upload or a large body.
        let expect = cfg.version == Version::Http11
            && payload
                .as_ref()
                .is_some_and(|p| p.expects_continue(len.flatten()));
        let (mut bytes, expect) = request_head(cfg, &step, req, len, expect);
        if let Some(hop) = trace.hops.last_mut() {
            hop.method = name.clone();
            hop.request_bytes = bytes.len() as u64;
        }
        let rest = match &payload {
            Some(Payload::Bytes(b)) if !expect => {
                // Head and body in one write: a small body goes out in the same packet.
                bytes.extend_from_slice(b);
                None
            }
            other => other.as_ref(),
        };
        let send = Send {
            head: &bytes,
            body: rest,
            expect,
        };
        let (conn, head, withheld) = exchange(cfg, pool, &current, &send, total, trace)?;
        if let Some(jar) = &cfg.cookie_jar {
            let mut jar = jar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for set in head.all("set-cookie") {
                jar.store(&host_of(&current), &current.path, set);
            }
        }
        let (framing, reusable) =
            body::framing(method, &head).map_err(|reason| Error::BadResponse {
                peer: conn.peer.clone(),
                reason,
            })?;
        // Only HTTP/1.1 requests ask for a persistent connection; one whose body was
        // withheld (the server answered before `100 Continue`) is left in an unknown state.
        let reusable = reusable && cfg.version == Version::Http11 && !withheld;
        let body = Body::new(conn, framing, reusable, pool.clone(), cfg.idle_timeout);
        let location = redirect::location(&head).map(<[u8]>::to_vec);
        if let (Some(max), Some(location)) = (cfg.redirects, location) {
            if followed >= max {
                return Err(Error::TooManyRedirects { max });
            }
            if let Some(by) = cfg.redirect_http_off {
                return Err(Error::HttpDisabled { by });
            }
            let next = redirect::resolve(&current, &location).map_err(|cause| Error::Redirect {
                location: String::from_utf8_lossy(&location).into_owned(),
                cause,
            })?;
            cfg.notify(Event::Redirect {
                status: head.status(),
                to: &next,
            });
            body.drain(DRAIN_LIMIT);
            trace.body_done();
            let next_method = redirect::method_after(head.status(), method, &cfg.keep_post);
            if next_method != method {
                payload = None;
            }
            method = next_method;
            if cfg.auto_referer {
                referer = Some(current.to_string());
            }
            history.push(head);
            current = next;
            followed += 1;
            continue;
        }
        let sent = match (&payload, withheld) {
            (Some(_), false) => len.flatten().unwrap_or(0),
            _ => 0,
        };
        return Ok(Response::new(head, current, history, body, sent));
    }
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
}

/// The proxy a request to `current` goes through: none with a Unix socket, or when
/// `no_proxy` lets the host go around it.
fn via_proxy<'a>(cfg: &'a Builder, current: &Target) -> Option<&'a crate::proxy::Proxy> {
    let proxy = cfg.proxy.as_ref().filter(|_| cfg.unix_socket.is_none())?;
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
        jar.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .header(&host_of(current), &current.path)
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
    head: &'a [u8],
    /// The body to send after the head, if it is not in `head`.
    body: Option<&'a Payload>,
    /// `Expect: 100-continue` was sent: wait for the go-ahead (a short while) first.
    expect: bool,
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
    let cross_host = current.endpoint != hop.original.endpoint;
    let edits: Vec<&HeaderEdit> = cfg
        .headers
        .iter()
        .filter(|e| !(cross_host && request::is_host_bound(&e.name)))
        .chain(&req.headers)
        .collect();
    let cookie = cookies(cfg, current);
    let proxy = via_proxy(cfg, current);
    let defaults = request::Defaults {
        proxy_authorization: proxy.and_then(|p| p.authorization.as_deref()),
        proxy_connection: proxy.is_some(),
        accept_encoding: cfg.accept_encoding.as_deref(),
        chunked: len == Some(None),
        authorization: cfg
            .authorization
            .as_deref()
            .or(req.authorization.as_deref())
            .filter(|_| !cross_host),
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
    // Through a proxy the request line names the whole URL (RFC 9112 §3.2.2).
    let request_target = match proxy {
        Some(_) => current.to_string(),
        None => current.path.clone(),
    };
    let bytes = request::head(hop.method, &request_target, cfg.version, &headers);
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
    let proxy = via_proxy(cfg, current);
    let key = match (&cfg.unix_socket, proxy) {
        (Some(path), _) => Endpoint::Unix(path.clone()),
        (None, Some(proxy)) => proxy.endpoint.clone(),
        (None, None) => current.endpoint.clone(),
    };
    let mut may_reuse = true;
    loop {
        let pooled = if may_reuse { pool.take(&key) } else { None };
        let mut conn = match pooled {
            Some(conn) => {
                cfg.notify(Event::Reused { peer: &conn.peer });
                conn
            }
            // A proxy whose name does not resolve is curl's exit 5, not 6.
            None => open(cfg, &key, total, trace).map_err(|e| match (e, proxy) {
                (Error::Net(e @ shared::Error::Resolve { .. }), Some(_)) => Error::ProxyResolve(e),
                (e, _) => e,
            })?,
        };
        let hop = trace.hops.last_mut().expect("run pushed the hop");
        hop.peer = Some(conn.peer.clone());
        hop.local = conn.local_addr();
        hop.reused = conn.reused;
        conn.set_total(total);
        cfg.notify(Event::RequestHead(send.head));
        let start = trace.start;
        let mut withheld = false;
        let result = conn.write_all(send.head, cfg.send_timeout).and_then(|()| {
            if let Some(body) = send.body {
                withheld = send.expect && answered_first(&mut conn, cfg.expect_timeout)?;
                if !withheld {
                    body.send(&mut conn, cfg.send_timeout)?;
                }
            }
            hop.sent = Some(start.elapsed());
            if cfg.version == Version::Http09 {
                return Ok(Head::http09());
            }
            head::read_head(&mut conn, cfg.head_timeout, &mut |h| {
                cfg.notify(Event::ResponseHead(h.raw()))
            })
        });
        hop.first_byte = conn
            .first_read()
            .map(|t| t.saturating_duration_since(start));
        match result {
            Ok(head) => {
                hop.head = Some(start.elapsed());
                hop.status = Some(head.status());
                return Ok((conn, head, withheld));
            }
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
    let hop = trace.hops.last_mut().expect("run pushed the hop");
    let at = |t: Instant| t.saturating_duration_since(trace.start);
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
    match key {
        Endpoint::Unix(path) => {
            let stream = shared::connect_unix(path, limit);
            let peer = format!("unix:{}", path.display());
            hop.addrs.push(AddrTry {
                addr: peer.clone(),
                start: at(started),
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
        Endpoint::Tcp { host, port } => {
            let addrs = cfg.resolver.resolve(host, *port, limit)?;
            let connect_start = Instant::now();
            hop.resolve = Some((at(started), at(connect_start)));
            if let Host::Name(name) = host {
                cfg.notify(Event::Resolved {
                    host: name,
                    addrs: &addrs,
                });
            }
            let left = limit.saturating_sub(started.elapsed());
            let connected = match cfg.happy_eyeballs {
                Some(delay) => shared::connect_happy(&key.to_string(), &addrs, left, delay),
                None => shared::connect(&key.to_string(), &addrs, left),
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
            Ok(Connection::new(connected.stream, peer, key.clone()))
        }
    }
}
