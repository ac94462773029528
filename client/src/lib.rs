//! `fetch`: placeholder until the client lands.
