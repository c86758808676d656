//! Supervision: let it crash, restart, escalate, quarantine, revive.
//!
//! Supervision groups are data in the [`BootSpec`](crate::BootSpec), not code. Every shard
//! has a root group ([`BootSpec::supervisor`](crate::BootSpec::supervisor)); groups nest.
//! A group has a [`Strategy`], a [`RestartBudget`] and ordered children, each an isolate with
//! a [`Restart`] type or a nested group.
//!
//! When an isolate crashes (a panic in `init` or a handler, or [`Effect::Crash`]) or exits
//! ([`Effect::Done`]), it is torn down at once: its mailbox and control queue are drained
//! back into the pool, its timers and pending call cancelled, its generation bumped so every
//! old handle is stale. Its group then decides, by direct calls inside the scheduler — no
//! message, no pool slot, so it works while the data plane is saturated:
//!
//! * whether the child restarts at all (its [`Restart`] type);
//! * which siblings restart with it (the [`Strategy`]);
//! * whether the group is over its budget: then every child of the group is torn down and the
//!   group is reported to its parent as one crashed child; the root group over budget
//!   quarantines the shard ([`OverloadPolicy::Quarantine`]) or aborts the process
//!   ([`OverloadPolicy::Abort`]).
//!
//! A restarted isolate runs `init` again with the same init args and gets a new handle. To
//! announce it — the check-in pattern — send `ctx.me()` from `init` to whoever needs it
//! (a dispatcher, a registry): `init` runs on every start and restart.
//!
//! Every crash is recorded as a [`CrashReport`] (type, handle, shard, reason, message tag) in
//! a bounded per-shard log and printed, rate-limited, to stderr; a crash storm cannot grow
//! memory.

pub mod crash;
pub(crate) mod tree;

use core::fmt;
use core::time::Duration;

pub use crash::CrashReport;

/// Which siblings restart when a child restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// Every child of the group: the others are torn down (last started first) and all are
    /// restarted in declared order.
    OneForAll,
    /// The child and every child declared after it.
    RestForOne,
}

/// Whether a child is restarted when it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always: after a crash and after `Done`.
    Permanent,
    /// Only after a crash; `Done` ends it for good.
    Transient,
    /// Never.
    Temporary,
}

/// At most `restarts` restarts within any `window` of runtime time; one more escalates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RestartBudget {
    /// Restarts allowed within the window.
    pub restarts: u32,
    /// The sliding window, measured on the runtime clock.
    pub window: Duration,
}

impl RestartBudget {
    /// `restarts` within `window`.
    pub const fn new(restarts: u32, window: Duration) -> Self {
        Self { restarts, window }
    }
}

impl Default for RestartBudget {
    /// Three restarts within five seconds, as Erlang/OTP's default intensity and period
    /// (1 in 5 s) made a little more forgiving.
    fn default() -> Self {
        Self {
            restarts: 3,
            window: Duration::from_secs(5),
        }
    }
}

/// What the root group of a shard does when it goes over budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OverloadPolicy {
    /// Quarantine the shard: every isolate torn down, dispatch stops, peers' sends get
    /// `ShardDown`; it can be revived. Other shards keep serving.
    #[default]
    Quarantine,
    /// Abort the whole process, for deployments where partial service is worse than a
    /// restart by the external supervisor.
    Abort,
}

/// A supervision group in a boot spec.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId(pub(crate) u32);

impl fmt::Debug for GroupId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "GroupId({})", self.0)
    }
}
