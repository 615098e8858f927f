//! The byte stream under the session: TCP through wasi:sockets, with every wait bounded
//! by the client's timeout.

pub mod tcp;
mod wait;
