//! The TCP socket options that neither socket2 nor rustix has a setter for.

use std::io;
use std::os::fd::AsRawFd;

use socket2::Socket;

/// Sets the `IPPROTO_TCP` option `name` to the int `value`.
#[allow(unsafe_code)] // One setsockopt with a plain int; no safe wrapper exists.
pub(crate) fn set_tcp_int(
    socket: &Socket,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the descriptor is borrowed from a live socket for the call's duration, and
    // `value` outlives it with the size passed; the kernel copies it before returning.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
