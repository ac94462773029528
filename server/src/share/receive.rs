//! An upload's body coming off its connection (`--upload`), as fast as the client sends it.
//! The connection loop (`engine/conn.rs`) hands over what it has buffered and a way to read
//! more (a [`Source`]); [`Receiving::take`] feeds what has come to the [`Intake`] and says
//! whether the body is whole, failed, or waits for more. A client that pauses leaves its
//! connection waiting for readable in the readiness set, holding no worker, until the
//! progress deadline.
//!
//! Nothing here knows the socket, the readiness set or the answer: the connection reads,
//! `respond/uploads.rs` answers.

use std::io;
use std::time::{Duration, Instant};

use crate::share::intake::{Failure, Intake};
use crate::share::upload::Outcome;

/// The largest read of an upload with a known length (into the worker's spare buffer).
const READ: usize = 256 * 1024;

/// Where an upload's bytes come from: the connection's buffer first, then its socket. Every
/// read is non-blocking.
pub(crate) trait Source {
    /// Bytes read already and not yet consumed.
    fn buffered(&self) -> &[u8];
    /// Drops the first `n` buffered bytes (the body's).
    fn consume(&mut self, n: usize);
    /// One read into the connection's buffer.
    fn fill(&mut self) -> io::Result<usize>;
    /// One read straight into `into`, bypassing the connection's buffer.
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize>;
}

/// An upload admitted, its body on the way.
#[derive(Debug)]
pub(crate) struct Receiving {
    intake: Intake,
    /// Given up (408) when no byte of the body arrives by then.
    deadline: Instant,
}

/// What taking in what has come amounted to.
#[derive(Debug)]
pub(crate) enum Progress {
    /// The body is whole (`Ok`) or failed: answer it, after [`Receiving::finish`].
    Done(Result<(), Failure>),
    /// The connection has no more for now: wait for readable until this instant.
    Wait(Instant),
    /// The client went away, or its socket failed: the upload is dropped, leaving nothing.
    Gone,
}

impl Receiving {
    /// The body of an admitted upload, going into `intake`; a client may pause for up to
    /// `patience` between bytes.
    pub(crate) fn new(intake: Intake, patience: Duration) -> Receiving {
        Receiving {
            intake,
            deadline: Instant::now() + patience,
        }
    }

    /// Takes what has come of the body, reading until `from` has no more. `spare` is the
    /// worker's output buffer, idle while a body comes in.
    pub(crate) fn take(
        &mut self,
        from: &mut impl Source,
        spare: &mut Vec<u8>,
        patience: Duration,
    ) -> Progress {
        loop {
            let buffered = from.buffered();
            if !buffered.is_empty() {
                match self.intake.feed(buffered) {
                    Ok(n) => {
                        from.consume(n);
                        self.deadline = Instant::now() + patience;
                    }
                    Err(failure) => return Progress::Done(Err(failure)),
                }
            }
            if self.intake.is_complete() {
                return Progress::Done(Ok(()));
            }
            // With a known length, read straight into the spare buffer, in large reads,
            // never past the body's end (so the next request's bytes stay in the socket):
            // fewer system calls per byte, and the memory is the worker's, not the
            // connection's. A chunked body goes through the connection's buffer.
            let got = match self.intake.remaining() {
                Some(left) if from.buffered().is_empty() => {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(READ);
                    spare.clear();
                    spare.resize(want, 0);
                    let read = from.read(spare);
                    let fed = match read {
                        Ok(n) if n > 0 => Some(self.intake.feed(&spare[..n])),
                        _ => None,
                    };
                    spare.clear();
                    match fed {
                        Some(Ok(_)) => self.deadline = Instant::now() + patience,
                        Some(Err(failure)) => return Progress::Done(Err(failure)),
                        None => {}
                    }
                    read
                }
                _ => from.fill(),
            };
            match got {
                // The client went away mid-body.
                Ok(0) => return Progress::Gone,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Progress::Wait(self.deadline);
                }
                Err(_) => return Progress::Gone,
            }
        }
    }

    /// Names the file(s) of a whole body: what each became, or why none did.
    pub(crate) fn finish(self) -> Result<Vec<(String, Outcome)>, Failure> {
        self.intake.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::share::intake::{Dechunk, Framing};
    use crate::share::upload::Upload;
    use crate::testdir;

    /// A connection whose socket yields these reads in turn, then `WouldBlock`, or its end
    /// once `closed`.
    #[derive(Default)]
    struct Script {
        buf: Vec<u8>,
        reads: VecDeque<&'static [u8]>,
        closed: bool,
    }

    impl Script {
        fn next(&mut self) -> io::Result<&'static [u8]> {
            match self.reads.pop_front() {
                Some(bytes) => Ok(bytes),
                None if self.closed => Ok(b""),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl Source for Script {
        fn buffered(&self) -> &[u8] {
            &self.buf
        }
        fn consume(&mut self, n: usize) {
            self.buf.drain(..n);
        }
        fn fill(&mut self) -> io::Result<usize> {
            let bytes = self.next()?;
            self.buf.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
            let bytes = self.next()?;
            into[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        }
    }

    const PATIENCE: Duration = Duration::from_secs(10);

    fn put(t: &testdir::TestDir, name: &str, framing: Framing) -> Receiving {
        let up = Upload::begin(&t.root, name.as_bytes(), false).unwrap();
        Receiving::new(Intake::put(framing, up, None), PATIENCE)
    }

    #[test]
    fn a_body_in_pieces_waits_between_them_then_is_whole() {
        let t = testdir::new();
        let mut rx = put(&t, "f.txt", Framing::Length(7));
        let mut from = Script {
            buf: b"abc".to_vec(),
            ..Script::default()
        };
        let mut spare = Vec::new();
        let before = Instant::now();
        let Progress::Wait(deadline) = rx.take(&mut from, &mut spare, PATIENCE) else {
            panic!("waits for the rest");
        };
        assert!(deadline >= before + PATIENCE);
        // The rest is read straight past the connection's buffer, and no further.
        from.reads = VecDeque::from([&b"defg"[..]]);
        assert!(matches!(
            rx.take(&mut from, &mut spare, PATIENCE),
            Progress::Done(Ok(()))
        ));
        assert_eq!(rx.finish().unwrap(), [(String::new(), Outcome::Created)]);
        assert_eq!(std::fs::read(t.root.join("f.txt")).unwrap(), b"abcdefg");
    }

    #[test]
    fn the_next_request_after_the_body_stays_buffered() {
        let t = testdir::new();
        let mut rx = put(&t, "f.txt", Framing::Length(3));
        let mut from = Script {
            buf: b"abcGET / HTTP/1.1\r\n".to_vec(),
            ..Script::default()
        };
        assert!(matches!(
            rx.take(&mut from, &mut Vec::new(), PATIENCE),
            Progress::Done(Ok(()))
        ));
        assert_eq!(from.buf, b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn a_chunked_body_comes_through_the_connections_buffer() {
        let t = testdir::new();
        let mut rx = put(&t, "f.txt", Framing::Chunked(Dechunk::default()));
        let mut from = Script {
            reads: VecDeque::from([&b"3\r\nabc\r\n"[..], &b"0\r\n\r\n"[..]]),
            ..Script::default()
        };
        assert!(matches!(
            rx.take(&mut from, &mut Vec::new(), PATIENCE),
            Progress::Done(Ok(()))
        ));
        rx.finish().unwrap();
        assert_eq!(std::fs::read(t.root.join("f.txt")).unwrap(), b"abc");
    }

    #[test]
    fn a_client_gone_mid_body_leaves_nothing() {
        let t = testdir::new();
        let mut rx = put(&t, "f.txt", Framing::Length(7));
        let mut from = Script {
            buf: b"ab".to_vec(),
            closed: true,
            ..Script::default()
        };
        assert!(matches!(
            rx.take(&mut from, &mut Vec::new(), PATIENCE),
            Progress::Gone
        ));
        drop(rx);
        assert!(!t.root.join("f.txt").exists());
    }
}
