//! [`Client`]: one set of settings ([`Builder`]) and the pool of kept-alive connections.

use std::sync::Arc;

use shared::Target;

use crate::builder::Builder;
use crate::error::Error;
use crate::pool::Pool;
use crate::request::{Method, Request};
use crate::response::Response;
use crate::run;
use crate::trace::Trace;

// `build` lives here, beside what it builds, so that the settings (`builder.rs`) need not
// know the client and `run.rs` can read them without a cycle.
impl Builder {
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
        let req = Request::new(method);
        run::run(&self.config, &self.pool, &req, target, &mut Trace::new())
    }

    /// Sends `req` (a method, perhaps a body and header edits, which follow redirects) for
    /// `target`, recording when each phase happened in `trace` (which keeps what it got to
    /// when the request fails).
    pub fn send(
        &self,
        req: &Request,
        target: &Target,
        trace: &mut Trace,
    ) -> Result<Response, Error> {
        run::run(&self.config, &self.pool, req, target, trace)
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
}
