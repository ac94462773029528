//! `LengthReader`: a body of exactly `Content-Length` bytes.

use std::time::Duration;

use crate::connection::Connection;
use crate::error::Error;

/// Reads exactly the declared number of bytes; a close before that is an error, never a
/// short success.
#[derive(Debug)]
pub(crate) struct LengthReader {
    want: u64,
    got: u64,
}

impl LengthReader {
    /// A reader for a body of `want` bytes.
    pub(crate) fn new(want: u64) -> LengthReader {
        LengthReader { want, got: 0 }
    }

    /// Reads the next bytes into `out`; 0 once all `want` bytes have arrived.
    pub(crate) fn read(
        &mut self,
        conn: &mut Connection,
        out: &mut [u8],
        idle: Duration,
    ) -> Result<usize, Error> {
        let left = self.want - self.got;
        if left == 0 {
            return Ok(0);
        }
        let max = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = conn.read(&mut out[..max], idle)?;
        if n == 0 && max > 0 {
            return Err(Error::Partial {
                got: self.got,
                want: self.want,
            });
        }
        self.got += n as u64;
        Ok(n)
    }
}
