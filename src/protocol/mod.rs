//! The SMTP protocol without I/O: reply parsing, command encoding, EHLO features,
//! message data encoding and address quoting. Everything here is unit-tested natively.

pub mod address;
pub mod command;
pub mod data;
pub mod ehlo;
pub mod headers;
pub mod reply;
