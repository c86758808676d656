//! The supervision tree of one shard, and the decisions it makes when isolates exit.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use crate::shard::Shard;
use crate::shard::core::{Exit, Status};
use crate::supervision::{OverloadPolicy, Restart, Strategy};

/// A child of a group, as the shard knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Child {
    /// An isolate slot (slot-table index) and how it restarts.
    Isolate { global: u32, restart: Restart },
    /// A nested group (local index).
    Group(u16),
}

/// One supervision group on one shard.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) parent: Option<u16>,
    pub(crate) strategy: Strategy,
    pub(crate) restarts_max: u32,
    pub(crate) window_nanos: u64,
    /// Static children in declaration order, then dynamic ones in spawn order.
    pub(crate) children: Vec<Child>,
    /// How many of `children` are static (declared in the spec).
    pub(crate) static_children: usize,
    /// Room for dynamically spawned children (`children` never exceeds static + room).
    pub(crate) dynamic_room: usize,
    /// Times of the most recent restarts (at most `restarts_max + 1` kept).
    pub(crate) recent: VecDeque<u64>,
    /// Each dynamic child's own budget (restarts, window), charged instead of the group's.
    pub(crate) child_budget: Option<(u32, u64)>,
}

impl Group {
    /// Records a restart at `now`; false when it would exceed the budget.
    fn charge(&mut self, now: u64) -> bool {
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_sub(oldest) >= self.window_nanos {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() as u64 >= u64::from(self.restarts_max) {
            return false;
        }
        // Capacity is restarts_max + 1 and the length stays below restarts_max: no growth.
        self.recent.push_back(now);
        true
    }
}

impl Shard {
    /// Handles every pending exit: restart, escalate or quarantine, by direct calls.
    pub(crate) fn supervise(&mut self) {
        while let Some(exit) = self.core.exits.pop_front() {
            if self.quarantined || self.shutdown_started {
                // Nothing restarts while quarantined or shutting down; the slot stays
                // reserved for its group (and a revive).
                continue;
            }
            self.handle_exit(exit);
        }
    }

    fn handle_exit(&mut self, exit: Exit) {
        // An exit is stale once its slot left the `Stopped` state it exited into: restarted
        // already (a sibling's restart under one-for-all or rest-for-one brought it back) or
        // released and perhaps reused by a new isolate. Like Erlang's exit signal from a pid
        // that is no longer a child, it is ignored: it must not restart the new incarnation.
        if self.core.slots[exit.global() as usize].status != Status::Stopped {
            return;
        }
        let Some(&membership) = self.core.membership.get(exit.global()) else {
            return;
        };
        let restart = match membership.restart {
            Restart::Permanent => true,
            Restart::Transient => exit.crashed(),
            Restart::Temporary => false,
        };
        let group = membership.group;
        if !restart {
            self.forget_dynamic(group, exit.global());
            return;
        }
        let Some(index) = self.core.groups[group as usize].children.iter().position(
            |child| matches!(child, Child::Isolate { global, .. } if *global == exit.global()),
        ) else {
            return;
        };
        let members = &self.core.groups[group as usize];
        if index >= members.static_children
            && let Some((restarts_max, window_nanos)) = members.child_budget
        {
            // A dynamic child with a budget of its own: charged there, not to the group.
            let now = self.core.now;
            let mut own = membership;
            if own.restarts == 0 || now.saturating_sub(own.window_start) >= window_nanos {
                own.window_start = now;
                own.restarts = 0;
            }
            if own.restarts >= restarts_max {
                self.core.counters.children_given_up += 1;
                self.forget_dynamic(group, exit.global());
                return;
            }
            own.restarts += 1;
            // Replaces the entry kept for this slot: no growth.
            let _ = self.core.membership.insert(exit.global(), own);
            self.restart_in_group(group, index, false);
            return;
        }
        self.restart_in_group(group, index, true);
    }

    /// Restarts child `index` of `group` (and the siblings its strategy names), or
    /// escalates when the group is over budget (when `charge`: a child with a budget of its
    /// own was charged there).
    fn restart_in_group(&mut self, group: u16, index: usize, charge: bool) {
        let now = self.core.now;
        if charge && !self.core.groups[group as usize].charge(now) {
            self.escalate(group);
            return;
        }
        self.core.counters.restarts += 1;
        if let Child::Isolate { global, .. } = self.core.groups[group as usize].children[index] {
            let (type_index, slot) = self.core.locate(global as usize);
            if let Some(record) = self.core.stats.types.get_mut(type_index as usize) {
                record.restarts += 1;
            }
            trace_event!(
                info,
                shard = self.core.shard.0,
                type_index,
                slot,
                group,
                "restarting after an exit"
            );
            #[cfg(not(feature = "tracing"))]
            let _ = slot;
        }
        let count = self.core.groups[group as usize].children.len();
        let (from, to) = match self.core.groups[group as usize].strategy {
            Strategy::OneForOne => (index, index + 1),
            Strategy::OneForAll => (0, count),
            Strategy::RestForOne => (index, count),
        };
        // Stop the affected siblings, last started first; then start them in order.
        for position in (from..to).rev() {
            let child = self.core.groups[group as usize].children[position];
            self.stop_child(child);
        }
        for position in from..to {
            let child = self.core.groups[group as usize].children[position];
            let is_the_exited_child = position == index;
            self.start_child(child, is_the_exited_child);
        }
        // Temporary dynamic siblings stopped by the strategy stay down for good: like a
        // temporary child's own exit, that ends their membership and frees their slots
        // (last first, so the positions still to visit do not move).
        let static_children = self.core.groups[group as usize].static_children;
        for position in (from.max(static_children)..to).rev() {
            if let Child::Isolate {
                global,
                restart: Restart::Temporary,
            } = self.core.groups[group as usize].children[position]
                && self.core.slots[global as usize].status == Status::Stopped
            {
                self.forget_dynamic(group, global);
            }
        }
    }

    /// Tears a child down for its group (a nested group: all of its children, last first).
    fn stop_child(&mut self, child: Child) {
        match child {
            Child::Isolate { global, .. } => {
                let (type_index, slot) = self.core.locate(global as usize);
                self.arenas[type_index as usize].stop(&mut self.core, slot);
            }
            Child::Group(group) => {
                for position in (0..self.core.groups[group as usize].children.len()).rev() {
                    let child = self.core.groups[group as usize].children[position];
                    self.stop_child(child);
                }
            }
        }
    }

    /// Starts a child: an isolate runs `init` with its kept args; a nested group starts
    /// fresh (budget reset) with all its children in order. When a strategy restarts
    /// siblings (`force` false), temporary siblings stay down; the exited child itself was
    /// already judged by its restart type, and a whole group (re)built from the spec — at
    /// boot, on revive, or after its escalation — starts every child (`force` true).
    fn start_child(&mut self, child: Child, force: bool) {
        match child {
            Child::Isolate { global, restart } => {
                if restart == Restart::Temporary && !force {
                    return;
                }
                let (type_index, slot) = self.core.locate(global as usize);
                if self.core.slots[global as usize].status != Status::Free {
                    self.arenas[type_index as usize].start(&mut self.core, slot);
                }
            }
            Child::Group(group) => self.start_group(group),
        }
    }

    /// Starts every child of `group` in declaration order, with a fresh budget.
    pub(crate) fn start_group(&mut self, group: u16) {
        self.core.groups[group as usize].recent.clear();
        for position in 0..self.core.groups[group as usize].children.len() {
            let child = self.core.groups[group as usize].children[position];
            self.start_child(child, true);
        }
    }

    /// Removes a dynamic child that will not restart from its group and frees its slot.
    fn forget_dynamic(&mut self, group: u16, global: u32) {
        let members = &mut self.core.groups[group as usize];
        let Some(position) = members.children.iter().position(
            |child| matches!(child, Child::Isolate { global: member, .. } if *member == global),
        ) else {
            return;
        };
        if position < members.static_children {
            return;
        }
        members.children.remove(position);
        let (type_index, slot) = self.core.locate(global as usize);
        self.arenas[type_index as usize].release(&mut self.core, slot);
    }

    /// Releases every dynamic child of `group` and its nested groups: a group rebuilt from
    /// the spec has only its declared children.
    fn release_dynamic(&mut self, group: u16) {
        let static_children = self.core.groups[group as usize].static_children;
        while self.core.groups[group as usize].children.len() > static_children {
            let child = self.core.groups[group as usize].children.pop();
            if let Some(Child::Isolate { global, .. }) = child {
                let (type_index, slot) = self.core.locate(global as usize);
                self.arenas[type_index as usize].release(&mut self.core, slot);
            }
        }
        for position in 0..static_children {
            if let Child::Group(nested) = self.core.groups[group as usize].children[position] {
                self.release_dynamic(nested);
            }
        }
    }

    /// A group over budget: tear all its children down and report it to its parent as one
    /// crashed child; the root group quarantines the shard (or aborts, by policy).
    fn escalate(&mut self, group: u16) {
        self.core.counters.escalations += 1;
        self.stop_child(Child::Group(group));
        self.release_dynamic(group);
        match self.core.groups[group as usize].parent {
            Some(parent) => {
                let index = self.core.groups[parent as usize]
                    .children
                    .iter()
                    .position(|child| *child == Child::Group(group))
                    .expect("a nested group is a child of its parent");
                self.restart_in_group(parent, index, true);
            }
            None => self.quarantine(),
        }
    }

    /// Tears every isolate of the shard down and stops dispatching; peers' sends get
    /// `ShardDown` until [`Shard::revive`].
    pub(crate) fn quarantine(&mut self) {
        if self.policy == OverloadPolicy::Abort {
            self.core.crash_log.print_abort(self.core.shard);
            std::process::abort();
        }
        self.core.crash_log.print_quarantine(self.core.shard);
        self.quarantined = true;
        if let Some(io) = self.core.io.as_mut() {
            // Its listeners refuse (accept and close at once) until it is revived.
            io.refusing = true;
        }
        self.core.counters.quarantines += 1;
        trace_event!(
            error,
            shard = self.core.shard.0,
            "shard quarantined: its root group went over its restart budget"
        );
        self.core.record_health(true);
        if !self.core.groups.is_empty() {
            self.release_dynamic(0);
        }
        self.core.signals[self.core.shard.index()]
            .down
            .store(true, Ordering::Release);
        for global in 0..self.core.slots.len() {
            let (type_index, slot) = self.core.locate(global);
            if self.core.group_of(global).is_none() {
                if self.core.slots[global].status.is_running() {
                    self.arenas[type_index as usize].release(&mut self.core, slot);
                }
            } else {
                self.arenas[type_index as usize].stop(&mut self.core, slot);
            }
        }
        self.core.exits.clear();
    }

    /// Brings a quarantined shard back: rebuilds its supervision tree from the boot spec
    /// (every static child restarted in declared order with its init args).
    pub(crate) fn revive(&mut self) {
        if !self.quarantined {
            return;
        }
        self.quarantined = false;
        if let Some(io) = self.core.io.as_mut() {
            io.refusing = false;
        }
        self.core.counters.revives += 1;
        self.core.record_health(false);
        self.core.signals[self.core.shard.index()]
            .down
            .store(false, Ordering::Release);
        for group in 0..self.core.groups.len() {
            self.core.groups[group].recent.clear();
        }
        if !self.core.groups.is_empty() {
            self.start_group(0);
        }
    }
}
