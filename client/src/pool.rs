//! The idle connections kept alive for the next request to the same endpoint.

use std::sync::{Arc, Mutex, PoisonError};

use shared::Endpoint;

use crate::connection::Connection;

/// The most idle connections kept; the oldest is closed to make room.
const MAX_IDLE: usize = 8;

/// Idle keep-alive connections, shared by a client and the bodies it hands out (a body read
/// to its end puts its connection back).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pool(Arc<Mutex<Vec<Connection>>>);

impl Pool {
    /// Takes an idle connection to `key` that is still usable, closing stale ones found on
    /// the way.
    pub(crate) fn take(&self, key: &Endpoint) -> Option<Connection> {
        // A panic elsewhere cannot leave the list half-changed: use it as it is.
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(i) = idle.iter().rposition(|c| &c.key == key) {
            let mut conn = idle.remove(i);
            if !conn.is_stale() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for a later request.
    pub(crate) fn put(&self, conn: Connection) {
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(conn);
    }
}
