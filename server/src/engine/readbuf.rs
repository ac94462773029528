//! The connection's request buffer: bytes read but not yet consumed, in memory that is
//! zeroed once when it grows, never again per read.

use std::io;

/// The first allocation: most request heads fit.
const START: usize = 4 * 1024;

/// A capped, growable read buffer.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    // Initialised memory; only `..len` holds data.
    data: Vec<u8>,
    len: usize,
}

impl ReadBuf {
    /// The bytes read and not yet consumed.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// True when it holds memory (even with nothing buffered).
    pub(crate) fn allocated(&self) -> bool {
        !self.data.is_empty()
    }

    /// True when nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills free space (growing, doubling, up to `cap` bytes in all) by one call of `read`,
    /// which gets the free space and returns how many bytes it wrote. Fails when the buffer
    /// already holds `cap` bytes.
    pub(crate) fn fill(
        &mut self,
        cap: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.len == self.data.len() {
            if self.len >= cap {
                return Err(io::Error::other("request buffer full"));
            }
            let grown = (self.data.len() * 2).clamp(START, cap);
            self.data.resize(grown, 0);
        }
        let n = read(&mut self.data[self.len..])?;
        self.len += n;
        Ok(n)
    }

    /// Drops the first `n` bytes (a request that has been answered), keeping what follows
    /// (a pipelined request).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.data.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Frees the memory when nothing is buffered (an idle connection holds none).
    pub(crate) fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.data = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_grows_consumes_and_caps() {
        let mut b = ReadBuf::default();
        assert!(b.is_empty());
        let n = b
            .fill(10_000, |space| {
                assert_eq!(space.len(), START);
                space[..3].copy_from_slice(b"abc");
                Ok(3)
            })
            .unwrap();
        assert_eq!((n, b.bytes()), (3, &b"abc"[..]));
        b.consume(1);
        assert_eq!(b.bytes(), b"bc");
        // Fill to the end of the first allocation, then it doubles, then it stops at the cap.
        b.fill(10_000, |space| Ok(space.len())).unwrap();
        assert_eq!(b.bytes().len(), START);
        b.fill(10_000, |space| {
            assert_eq!(space.len(), START);
            Ok(space.len())
        })
        .unwrap();
        b.fill(10_000, |space| {
            assert_eq!(space.len(), 10_000 - 2 * START);
            Ok(space.len())
        })
        .unwrap();
        assert!(b.fill(10_000, |_| Ok(0)).is_err());
        b.consume(usize::MAX);
        b.release_if_empty();
        assert!(b.is_empty() && b.data.is_empty());
    }
}
