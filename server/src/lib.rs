//! `serve`: placeholder until the server lands.
