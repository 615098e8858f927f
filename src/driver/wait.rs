//! Deadlines on the monotonic clock: wait for a pollable or for the deadline, whichever
//! comes first. Timeouts must live in the guest: a host cannot interrupt a guest that is
//! blocked on the network.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{poll, Pollable};

/// An instant on the monotonic clock after which a wait gives up.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(monotonic_clock::Instant);

impl Deadline {
    /// The instant `timeout_ns` nanoseconds from now.
    pub fn after(timeout_ns: u64) -> Deadline {
        Deadline(monotonic_clock::now().saturating_add(timeout_ns))
    }

    /// The instant `at` on the monotonic clock (ns).
    pub fn at(at: u64) -> Deadline {
        Deadline(at)
    }

    /// Blocks until `ready` fires (true) or the deadline passes first (false).
    pub fn wait(&self, ready: &Pollable) -> bool {
        let timer = monotonic_clock::subscribe_instant(self.0);
        poll(&[ready, &timer]).contains(&0)
    }
}
