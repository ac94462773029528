//! End-to-end tests: the real binaries, on real sockets, against real peers. One test binary;
//! each module is one area.

mod fetch;
mod peers;
mod support;

mod serve;

mod hostile;

mod architecture;
