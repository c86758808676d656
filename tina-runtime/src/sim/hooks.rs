//! What a simulated shard carries beyond production: crash injection, the event log the
//! determinism oracle compares, and the checks made at every dispatch.
//!
//! A production shard has none of this (`Core::sim` is `None`); every hook is behind that
//! one branch, taken only when tracing (simulation) is on.

use super::faults::{FaultCounts, Ratio};
use super::rng::Rng;
use crate::clock::Instant;
use crate::handle::ShardId;

/// One dispatch as the event log keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// The shard it ran on.
    pub shard: ShardId,
    /// The isolate type's index in the spec (its name: [`Simulation::type_name`](crate::Simulation::type_name)).
    pub type_index: u16,
    /// The isolate's slot.
    pub slot: u32,
    /// What was dispatched: a message tag (below `1 << 16`), or init (`1 << 16`), resume
    /// (`2 << 16`), shutdown (`3 << 16`), a fault (`4 << 16`), a bounce (`5 << 16`).
    pub tag: u64,
    /// Simulated time.
    pub at: Instant,
}

impl TraceEvent {
    /// The dispatch kind in words.
    pub fn what(&self) -> String {
        match self.tag >> 16 {
            0 => format!("message tag {}", self.tag),
            1 => "init".to_string(),
            2 => "resume".to_string(),
            3 => "shutdown".to_string(),
            4 => "fault".to_string(),
            5 => "bounce".to_string(),
            _ => format!("input {:#x}", self.tag),
        }
    }
}

/// Per shard: the simulation's hooks.
pub(crate) struct ShardHooks {
    crash: Ratio,
    init_failure: Ratio,
    rng: Rng,
    /// Per type index: whether injected crashes may hit it.
    targets: Vec<bool>,
    pub(crate) counts: FaultCounts,
    /// Dispatches recorded since the simulator last took them (`None`: not recording).
    pub(crate) events: Option<Vec<TraceEvent>>,
    /// The first invariant broken at a dispatch.
    pub(crate) violation: Option<String>,
}

impl ShardHooks {
    pub(crate) fn new(crash: Ratio, init_failure: Ratio, rng: Rng, targets: Vec<bool>) -> Self {
        ShardHooks {
            crash,
            init_failure,
            rng,
            targets,
            counts: FaultCounts::default(),
            events: None,
            violation: None,
        }
    }

    /// Whether the handler call (or `init`) about to run on an isolate of `type_index`
    /// crashes instead.
    #[inline]
    pub(crate) fn crash_now(&mut self, type_index: u16, init: bool) -> bool {
        if !self
            .targets
            .get(type_index as usize)
            .copied()
            .unwrap_or(false)
        {
            return false;
        }
        if init {
            let hit = self.init_failure.hit(&mut self.rng);
            self.counts.init_failures += u64::from(hit);
            hit
        } else {
            let hit = self.crash.hit(&mut self.rng);
            self.counts.crashes += u64::from(hit);
            hit
        }
    }
}

/// The panic payload of an injected crash (its text becomes the crash reason).
pub(crate) const INJECTED: &str = "injected by the simulation (Faults::crash)";
/// The panic payload of an injected init failure.
pub(crate) const INJECTED_INIT: &str = "injected by the simulation (Faults::init_failure)";

/// Raises an injected crash inside the trap boundary, without the panic hook (nothing is
/// printed; the crash report says it was injected).
pub(crate) fn raise(init: bool) -> ! {
    std::panic::resume_unwind(Box::new(if init { INJECTED_INIT } else { INJECTED }))
}
