//! `Client`: the settings every request shares (timeouts, redirects, headers, resolution),
//! and the pool of kept-alive connections.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shared::{Attempt, Resolver, Target};

use crate::error::Error;
use crate::pool::Pool;
use crate::request::{HeaderEdit, Method, Version};
use crate::response::Response;
use crate::run;
use crate::trace::Trace;

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
/// Default number of idle kept-alive connections kept per endpoint: 4.
pub const DEFAULT_MAX_IDLE_PER_ENDPOINT: usize = 4;

/// Something that happened during a request, for `-v` and other observers.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A name was resolved.
    Resolved {
        /// The name.
        host: &'a str,
        /// Its addresses, in the order they will be tried.
        addrs: &'a [SocketAddr],
    },
    /// A new connection is open.
    Connected {
        /// The peer: `127.0.0.1:8080` or `unix:/run/app.sock`.
        peer: &'a str,
        /// Addresses tried before it, with the reason each failed.
        failed: &'a [Attempt],
        /// How long the successful attempt took.
        elapsed: Duration,
    },
    /// A kept-alive connection is used again.
    Reused {
        /// The peer.
        peer: &'a str,
    },
    /// A kept-alive connection turned out closed; the request is sent again on a new one.
    Retry {
        /// The peer.
        peer: &'a str,
        /// What happened on the old connection.
        reason: String,
    },
    /// The request head, as sent.
    RequestHead(&'a [u8]),
    /// A response head (interim or final), as received.
    ResponseHead(&'a [u8]),
    /// A redirect is being followed.
    Redirect {
        /// Its status.
        status: u16,
        /// Where it leads.
        to: &'a Target,
    },
}

/// A function told about each [`Event`].
pub type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Settings for a [`Client`]; start from [`Client::builder`].
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
}

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

    /// The client.
    pub fn build(self) -> Client {
        let pool = Pool::new(self.max_idle_per_endpoint);
        Client {
            config: Arc::new(self),
            pool,
        }
    }
}

/// An HTTP/1.x client: one set of settings and a pool of kept-alive connections, so
/// requests to the same endpoint reuse one connection.
///
/// ```no_run
/// use std::io::Read;
/// let client = client::Client::builder().redirects(Some(10)).build();
/// let mut response = client.get("example.com/notes.txt")?;
/// let mut text = String::new();
/// response.read_to_string(&mut text).map_err(|e| client::Error::from_io(e, "example.com"))?;
/// # Ok::<(), client::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) config: Arc<Builder>,
    pub(crate) pool: Pool,
}

impl Default for Client {
    fn default() -> Client {
        Client::builder().build()
    }
}

impl Client {
    /// Settings to start from: the defaults above, no redirects followed.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// GET the page named by `target` (anything [`Target::parse`] accepts).
    pub fn get(&self, target: &str) -> Result<Response, Error> {
        self.request(Method::Get, &Target::parse(target)?)
    }

    /// HEAD: the head of the page named by `target`, never a body.
    pub fn head(&self, target: &str) -> Result<Response, Error> {
        self.request(Method::Head, &Target::parse(target)?)
    }

    /// Sends `method` for `target`, following redirects if set to, and returns the final
    /// response once its head has arrived. Its body is read through the response.
    pub fn request(&self, method: Method, target: &Target) -> Result<Response, Error> {
        run::run(self, method, target, &[], &mut Trace::new())
    }

    /// [`Client::request`] with `extra` header edits on every request (`Range`, say; they
    /// follow redirects), recording when each phase happened in `trace` (which keeps what
    /// it got to when the request fails).
    pub fn send(
        &self,
        method: Method,
        target: &Target,
        extra: &[HeaderEdit],
        trace: &mut Trace,
    ) -> Result<Response, Error> {
        run::run(self, method, target, extra, trace)
    }

    pub(crate) fn notify(&self, event: Event<'_>) {
        if let Some(f) = &self.config.observer {
            f(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_responses_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send::<Response>();
    }

    #[test]
    fn defaults() {
        let b = Client::builder();
        assert_eq!(b.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(b.max_time, None);
        assert_eq!(b.redirects, None, "redirects are followed only when asked");
        assert_eq!(b.version, Version::Http11);
    }
}
