//! The idle connections kept alive for the next request to the same endpoint.

use std::sync::{Arc, Mutex, PoisonError};

use shared::Endpoint;

use crate::connection::Connection;

/// The most idle connections kept over all endpoints; the oldest is closed to make room.
const MAX_IDLE_TOTAL: usize = 64;

/// Idle keep-alive connections, shared by a client and the bodies it hands out (a body read
/// to its end puts its connection back). Several threads may take and put at once (parallel
/// transfers); each endpoint keeps at most `per_endpoint` idle connections.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    idle: Arc<Mutex<Vec<Connection>>>,
    per_endpoint: usize,
}

impl Pool {
    /// An empty pool keeping at most `per_endpoint` idle connections per endpoint.
    pub(crate) fn new(per_endpoint: usize) -> Pool {
        Pool {
            idle: Arc::default(),
            per_endpoint,
        }
    }

    /// Takes an idle connection to `key` that is still usable (the most recently used one),
    /// closing stale ones found on the way. `tls`: the host a TLS connection was made for
    /// (`None`: plain), which must match too.
    pub(crate) fn take(&self, key: &Endpoint, tls: Option<&str>) -> Option<Connection> {
        loop {
            // Taken out under the lock, probed outside it: the probe is a system call, and
            // with -Z's threads all taking and putting back, holding the lock through it
            // had them queue on it (futex waits in most of a run's transfers).
            let mut conn = {
                // A panic elsewhere cannot leave the list half-changed: use it as it is.
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                let i = idle
                    .iter()
                    .rposition(|c| &c.key == key && c.tls_name.as_deref() == tls)?;
                idle.remove(i)
            };
            if !conn.is_stale() {
                conn.reused = true;
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for a later request, closing the oldest idle connection to the same
    /// endpoint (or to any, past the overall cap) to make room.
    pub(crate) fn put(&self, conn: Connection) {
        if self.per_endpoint == 0 {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let same = |c: &Connection| c.key == conn.key && c.tls_name == conn.tls_name;
        // Closed after the lock is let go (closing is a system call or more).
        let mut evicted = Vec::new();
        if idle.iter().filter(|c| same(c)).count() >= self.per_endpoint
            && let Some(oldest) = idle.iter().position(same)
        {
            evicted.push(idle.remove(oldest));
        }
        if idle.len() >= MAX_IDLE_TOTAL {
            evicted.push(idle.remove(0));
        }
        idle.push(conn);
        drop(idle);
        drop(evicted);
    }
}
