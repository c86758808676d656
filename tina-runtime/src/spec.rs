//! The boot spec: every capacity of the system, stated up front and validated at boot.
//!
//! ```
//! use tina_runtime::{BootSpec, ShardId};
//! # use tina_runtime::{Bounded, Ctx, Effect, Isolate, Message};
//! # struct Idle;
//! # enum Never {}
//! # // SAFETY: a unit struct and an empty enum own nothing.
//! # unsafe impl Bounded for Idle {}
//! # // SAFETY: as above.
//! # unsafe impl Bounded for Never {}
//! # impl Message for Never { fn tag(&self) -> u16 { match *self {} } }
//! # impl Isolate for Idle {
//! #     type Message = Never; type Args = (); const MAILBOX: usize = 8; const NAME: &'static str = "Idle";
//! #     fn init(_: &(), _: &mut Ctx<Self>) -> Self { Idle }
//! #     fn handle(&mut self, message: Never, _: &mut Ctx<Self>) -> Effect { match message {} }
//! # }
//! let mut spec = BootSpec::new(2);
//! spec.isolate::<Idle>(16);
//! let idle = spec.root::<Idle>(ShardId(1), ());
//! assert_eq!(idle.shard(), ShardId(1));
//! let report = spec.validate().unwrap();
//! assert!(report.bytes_per_shard > 0);
//!
//! let mut bad = BootSpec::new(0);
//! bad.ring_capacity(1000);
//! let errors = bad.validate().unwrap_err();
//! assert!(errors.to_string().contains("shards"));
//! assert!(errors.to_string().contains("power of two"));
//! ```

use core::any::TypeId;
use core::fmt;
use core::mem::size_of;

use crate::envelope::{Envelope, Payload, fits_payload};
use crate::handle::{Handle, RawHandle, SHARDS_MAX, SLOTS_PER_TYPE_MAX, ShardId, TYPES_MAX};
use crate::isolate::{Isolate, MAILBOX_MAX};
use crate::shard::arena::{Arena, ErasedArena};
use crate::shard::core::SlotMeta;
use crate::supervision::{GroupId, OverloadPolicy, Restart, RestartBudget, Strategy};

/// Builds one type's arena for one shard.
pub(crate) type ArenaFactory =
    fn(slots: usize, supervised: usize) -> Result<Box<dyn ErasedArena>, crate::memory::Refused>;

/// The most socket entries one shard may have.
pub const SOCKETS_MAX: usize = 1 << 20;

/// The largest transfer-buffer block.
pub const BUFFER_BLOCK_MAX: usize = 1 << 24;

/// One registered isolate type.
#[derive(Clone)]
pub(crate) struct TypeEntry {
    pub(crate) type_id: TypeId,
    pub(crate) name: &'static str,
    pub(crate) mailbox: usize,
    pub(crate) slots: usize,
    pub(crate) state_bytes: usize,
    /// What the arena keeps per supervised slot: the init args, keyed by slot.
    pub(crate) kept_args_bytes: usize,
    pub(crate) make_arena: ArenaFactory,
    /// `Isolate::HANDLES_UNDELIVERED`.
    pub(crate) handles_undelivered: bool,
}

/// Makes the init envelope for a root isolate (once per boot, and again on revive).
pub(crate) type RootFactory = Box<dyn Fn() -> Payload + Send>;

/// One static child isolate, started at boot in declaration order.
pub(crate) struct RootEntry {
    pub(crate) handle: RawHandle,
    pub(crate) make_args: RootFactory,
    pub(crate) restart: Restart,
}

/// One supervision group, as declared.
#[derive(Clone, Debug)]
pub(crate) struct GroupSpec {
    pub(crate) shard: ShardId,
    pub(crate) parent: Option<GroupId>,
    pub(crate) strategy: Strategy,
    pub(crate) budget: RestartBudget,
    /// Children in declaration order.
    pub(crate) children: Vec<ChildSpec>,
    /// Room for children spawned at run time with `Ctx::spawn_child`.
    pub(crate) dynamic_room: usize,
    /// Each dynamic child's own restart budget (charged instead of the group's), if set.
    pub(crate) child_budget: Option<RestartBudget>,
}

/// A declared child: an isolate (index into the roots) or a nested group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildSpec {
    Isolate(usize),
    Group(GroupId),
}

/// The whole system's capacities and its root isolates.
pub struct BootSpec {
    pub(crate) shards: usize,
    pub(crate) types: Vec<TypeEntry>,
    pub(crate) roots: Vec<RootEntry>,
    pub(crate) pool_slots: usize,
    pub(crate) control_reserve: usize,
    pub(crate) ring_capacity: usize,
    pub(crate) ingress_capacity: usize,
    pub(crate) external_calls: usize,
    /// Transfer-buffer size classes per shard: (block size, blocks), in the order declared.
    pub(crate) buffer_classes: Vec<(usize, usize)>,
    /// A cap on the whole system's boot reservation, if set.
    pub(crate) memory_limit: Option<u64>,
    pub(crate) timer_slots: usize,
    pub(crate) dispatch_budget: usize,
    pub(crate) spin_before_sleep: u32,
    /// Whether an idle spin tick yields the core ([`BootSpec::spin_by_yielding`]).
    pub(crate) spin_yields: bool,
    /// Nanoseconds before a timer's deadline within which an idle shard spins instead of
    /// sleeping (0: never).
    pub(crate) timer_spin_nanos: u64,
    pub(crate) pin_threads: bool,
    /// Shards whose threads run at the OS's lowest priority ([`BootSpec::background`]).
    pub(crate) background: Vec<ShardId>,
    /// The scheduler time slice shard threads ask for, in nanoseconds (0: the OS's
    /// default; [`BootSpec::scheduler_slice`]).
    pub(crate) slice_nanos: u64,
    pub(crate) groups: Vec<GroupSpec>,
    pub(crate) overload_policy: OverloadPolicy,
    pub(crate) print_crashes: bool,
    /// Socket entries per shard for `Ctx::connect` / `Ctx::listen` and adopted sockets
    /// (declared listeners add their own bound on the shards that serve them).
    pub(crate) sockets: usize,
    /// The block size of the class reads land in (`None`: the largest).
    pub(crate) read_block: Option<usize>,
    /// Declared TCP listeners.
    pub(crate) listeners: Vec<crate::io::Listen>,
    /// User counters and histograms (see [`BootSpec::counter`]), in declaration order.
    pub(crate) user_counters: Vec<crate::stats::MetricInfo>,
    pub(crate) user_histograms: Vec<crate::stats::MetricInfo>,
    /// Mistakes found while building (a root of an unregistered type, …), reported by
    /// `validate`.
    pub(crate) early_errors: Vec<SpecError>,
}

impl fmt::Debug for BootSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BootSpec")
            .field("shards", &self.shards)
            .field(
                "types",
                &self
                    .types
                    .iter()
                    .map(|entry| entry.name)
                    .collect::<Vec<_>>(),
            )
            .field("roots", &self.roots.len())
            .field("pool_slots", &self.pool_slots)
            .field("control_reserve", &self.control_reserve)
            .field("ring_capacity", &self.ring_capacity)
            .field("timer_slots", &self.timer_slots)
            .field("dispatch_budget", &self.dispatch_budget)
            .finish()
    }
}

impl BootSpec {
    /// A spec for `shards` shards with default capacities: 4096 envelopes and a control
    /// reserve of 256 per shard, rings of 1024 envelopes, 1024 timers per shard, a dispatch
    /// budget of 256 per type per tick, threads pinned to cores.
    ///
    /// Nothing is checked here: every value is checked at once by [`BootSpec::validate`],
    /// which `System::start` and `Simulation::new` run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    /// # #[derive(Bounded)]
    /// # struct Hello;
    /// # #[isolate(mailbox = 8)]
    /// # struct Greeter {
    /// #     greeted: u32,
    /// # }
    /// # #[isolate]
    /// # impl Greeter {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Greeter { greeted: 0 }
    /// #     }
    /// #     fn hello(&mut self, _hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         self.greeted += 1;
    /// #         Effect::Receive
    /// #     }
    /// # }
    ///
    /// let mut spec = BootSpec::new(2);
    /// spec.pool_slots(1024).timer_slots(64);
    /// assert_eq!(spec.shards(), 2);
    /// // Not bootable yet: no isolate type is registered.
    /// assert!(spec.validate().is_err());
    ///
    /// spec.isolate::<Greeter>(16);
    /// let report = spec.validate().expect("a valid spec");
    /// assert!(report.pool_bytes > 0);
    /// ```
    pub fn new(shards: usize) -> Self {
        Self {
            shards,
            types: Vec::new(),
            roots: Vec::new(),
            pool_slots: 4096,
            control_reserve: 256,
            ring_capacity: 1024,
            ingress_capacity: 256,
            external_calls: 64,
            buffer_classes: Vec::new(),
            memory_limit: None,
            timer_slots: 1024,
            dispatch_budget: 256,
            spin_before_sleep: 1000,
            spin_yields: false,
            timer_spin_nanos: 0,
            pin_threads: true,
            background: Vec::new(),
            slice_nanos: 0,
            groups: Vec::new(),
            overload_policy: OverloadPolicy::Quarantine,
            print_crashes: true,
            sockets: 0,
            read_block: None,
            listeners: Vec::new(),
            user_counters: Vec::new(),
            user_histograms: Vec::new(),
            early_errors: Vec::new(),
        }
    }

    /// Registers isolate type `I` with `slots` slots on every shard.
    ///
    /// A message or init-args type that does not fit an envelope's payload fails to compile.
    pub fn isolate<I: Isolate>(&mut self, slots: usize) -> &mut Self {
        const {
            assert!(
                fits_payload::<I::Message>(),
                "the isolate's message enum does not fit an envelope's 64-byte payload"
            );
            assert!(
                fits_payload::<I::Args>(),
                "the isolate's init args do not fit an envelope's 64-byte payload"
            );
        }
        if self
            .types
            .iter()
            .any(|entry| entry.type_id == TypeId::of::<I>())
        {
            self.early_errors
                .push(SpecError::DuplicateType { name: I::NAME });
            return self;
        }
        self.types.push(TypeEntry {
            type_id: TypeId::of::<I>(),
            name: I::NAME,
            mailbox: I::MAILBOX,
            slots,
            // What the arena keeps: the state per slot, the args per supervised slot.
            state_bytes: size_of::<I>(),
            kept_args_bytes: size_of::<(u32, I::Args)>(),
            make_arena: |slots, supervised| {
                Ok(Box::new(Arena::<I>::try_new(slots, supervised)?) as Box<dyn ErasedArena>)
            },
            handles_undelivered: I::HANDLES_UNDELIVERED,
        });
        self
    }

    /// Adds a root isolate of type `I` on `shard`, started at boot with `args`, and returns
    /// its handle: a [`Restart::Transient`] child of the shard's root supervision group
    /// (restarted after a crash, not after `Done`). Register `I` with [`BootSpec::isolate`]
    /// first. Static children start in the order they were declared.
    ///
    /// Mistakes are not reported here but by [`BootSpec::validate`] (and so at boot): a
    /// type not registered ([`SpecError::RootOfUnregisteredType`]), a shard the spec does
    /// not have ([`SpecError::RootOnMissingShard`]), more roots of `I` on a shard than it
    /// has slots ([`SpecError::TooManyRoots`]). The handle returned then names no isolate.
    ///
    /// # Panics
    ///
    /// With debug assertions on, when `I` was registered after [`TYPES_MAX`] other types
    /// (a release build leaves it to `validate`, which reports
    /// [`SpecError::TooManyTypes`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Hello;
    ///
    /// #[isolate(mailbox = 8)]
    /// struct Greeter {
    ///     greeted: u32,
    /// }
    ///
    /// #[isolate]
    /// impl Greeter {
    ///     fn init(greeted: &u32, _ctx: &mut Ctx<Self>) -> Self {
    ///         Greeter { greeted: *greeted }
    ///     }
    ///
    ///     fn hello(&mut self, _hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
    ///         self.greeted += 1;
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Greeter>(4);
    /// let first = spec.root::<Greeter>(ShardId(1), 0);
    /// let second = spec.root::<Greeter>(ShardId(1), 10);
    /// assert_eq!(first.shard(), ShardId(1));
    ///
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.send(&first, Hello).unwrap();
    /// sim.run(1_000);
    /// assert_eq!(sim.state(first).unwrap().greeted, 1);
    /// assert_eq!(sim.state(second).unwrap().greeted, 10);
    /// ```
    ///
    /// A root on a shard the spec does not have is refused at boot:
    ///
    /// ```
    /// # use tina::prelude::*;
    /// # #[isolate(mailbox = 8)]
    /// # struct Greeter;
    /// # #[isolate]
    /// # impl Greeter {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Greeter
    /// #     }
    /// #     fn hello(&mut self, _hello: u8, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         Effect::Receive
    /// #     }
    /// # }
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Greeter>(4);
    /// let _nowhere = spec.root::<Greeter>(ShardId(7), ());
    /// let errors = Simulation::new(spec, 1).unwrap_err();
    /// assert!(matches!(errors.0[..], [tina::SpecError::RootOnMissingShard { .. }]));
    /// ```
    pub fn root<I: Isolate>(&mut self, shard: ShardId, args: I::Args) -> Handle<I> {
        let group = self.supervisor(shard);
        self.child::<I>(group, Restart::Transient, args)
    }

    /// The root supervision group of `shard` (one-for-one, [`RestartBudget::default`]),
    /// created on first use. Change it with [`BootSpec::strategy`] and [`BootSpec::budget`].
    pub fn supervisor(&mut self, shard: ShardId) -> GroupId {
        if let Some(index) = self
            .groups
            .iter()
            .position(|group| group.shard == shard && group.parent.is_none())
        {
            return GroupId(index as u32);
        }
        self.groups.push(GroupSpec {
            shard,
            parent: None,
            strategy: Strategy::OneForOne,
            budget: RestartBudget::default(),
            children: Vec::new(),
            dynamic_room: 0,
            child_budget: None,
        });
        GroupId(self.groups.len() as u32 - 1)
    }

    /// Declares a group nested in `parent` (on the parent's shard) and returns it. It is a
    /// child of `parent` in declaration order: if it goes over budget, `parent` sees it as one
    /// crashed child.
    pub fn group(&mut self, parent: GroupId, strategy: Strategy, budget: RestartBudget) -> GroupId {
        let shard = self
            .groups
            .get(parent.0 as usize)
            .map_or(ShardId(0), |group| group.shard);
        if parent.0 as usize >= self.groups.len() {
            self.early_errors.push(SpecError::UnknownGroup);
        }
        self.groups.push(GroupSpec {
            shard,
            parent: Some(parent),
            strategy,
            budget,
            children: Vec::new(),
            dynamic_room: 0,
            child_budget: None,
        });
        let id = GroupId(self.groups.len() as u32 - 1);
        if let Some(group) = self.groups.get_mut(parent.0 as usize) {
            group.children.push(ChildSpec::Group(id));
        }
        id
    }

    /// Sets a group's strategy.
    pub fn strategy(&mut self, group: GroupId, strategy: Strategy) -> &mut Self {
        match self.groups.get_mut(group.0 as usize) {
            Some(spec) => spec.strategy = strategy,
            None => self.early_errors.push(SpecError::UnknownGroup),
        }
        self
    }

    /// Sets a group's restart budget.
    pub fn budget(&mut self, group: GroupId, budget: RestartBudget) -> &mut Self {
        match self.groups.get_mut(group.0 as usize) {
            Some(spec) => spec.budget = budget,
            None => self.early_errors.push(SpecError::UnknownGroup),
        }
        self
    }

    /// Gives `group` room for `room` children spawned at run time by its members with
    /// [`Ctx::spawn_child`](crate::Ctx::spawn_child) (default 0). Dynamic children restart by
    /// their own restart type; a group rebuilt from the spec (after escalation or a revive)
    /// starts with its declared children only.
    pub fn dynamic_children(&mut self, group: GroupId, room: usize) -> &mut Self {
        match self.groups.get_mut(group.0 as usize) {
            Some(spec) => spec.dynamic_room = room,
            None => self.early_errors.push(SpecError::UnknownGroup),
        }
        self
    }

    /// Gives each dynamic child of `group` a restart budget of its own. By default (as in
    /// OTP) every restart of a dynamic child is charged to the group's budget, so one child
    /// that keeps crashing — say, its `init` always fails — takes the group over budget and
    /// escalates, up to a quarantine of the whole shard. With a per-child budget, a dynamic
    /// child's restarts are charged to its own budget instead (counted in fixed windows of
    /// `budget.window` from its first restart); one crash past it and the group gives the
    /// child up: it is released (slot freed, removed from the group, counted as
    /// `children_given_up`) and its siblings and the group carry on. Static children are
    /// always charged to the group.
    pub fn dynamic_child_budget(&mut self, group: GroupId, budget: RestartBudget) -> &mut Self {
        match self.groups.get_mut(group.0 as usize) {
            Some(spec) => spec.child_budget = Some(budget),
            None => self.early_errors.push(SpecError::UnknownGroup),
        }
        self
    }

    /// What a shard's root group does when it goes over budget (default: quarantine).
    pub fn overload_policy(&mut self, policy: OverloadPolicy) -> &mut Self {
        self.overload_policy = policy;
        self
    }

    /// Whether crash output is printed to stderr (default true): crash reports (at most 10
    /// lines a second per shard, then a notice of how many were not printed) and the line
    /// announcing a quarantine. `false` silences all of it; reports are kept in the bounded
    /// per-shard crash log either way.
    pub fn print_crashes(&mut self, print: bool) -> &mut Self {
        self.print_crashes = print;
        self
    }

    /// Adds a static child of type `I` to `group`, started at boot (in declaration order)
    /// with `args`, restarted according to `restart`; returns its first handle.
    ///
    /// A static child owns its slot for the life of the system: when it ends for good
    /// (`Done` as a transient or temporary child, or a temporary child's crash) the slot
    /// stays reserved for it — its group restarts it when the group is rebuilt (escalation,
    /// revive) — and is never handed to `Ctx::spawn`. Register the type with more slots
    /// than it has static children to leave room for spawns.
    ///
    /// Mistakes are reported by [`BootSpec::validate`], as for [`BootSpec::root`] (and
    /// [`SpecError::UnknownGroup`] for a `group` this spec did not declare).
    ///
    /// # Panics
    ///
    /// As [`BootSpec::root`].
    pub fn child<I: Isolate>(
        &mut self,
        group: GroupId,
        restart: Restart,
        args: I::Args,
    ) -> Handle<I> {
        let shard = match self.groups.get(group.0 as usize) {
            Some(spec) => spec.shard,
            None => {
                self.early_errors.push(SpecError::UnknownGroup);
                ShardId(0)
            }
        };
        let Some(type_index) = self.type_index::<I>() else {
            self.early_errors
                .push(SpecError::RootOfUnregisteredType { name: I::NAME });
            return Handle::from_raw(RawHandle::from_bits(u64::MAX));
        };
        let taken = self.roots_of(shard, type_index);
        let handle = RawHandle::new(
            ShardId(shard.0.min(SHARDS_MAX as u16 - 1)),
            type_index,
            taken.min(SLOTS_PER_TYPE_MAX - 1) as u32,
            0,
        );
        if shard.index() >= self.shards.max(1) || shard.index() >= SHARDS_MAX {
            self.early_errors.push(SpecError::RootOnMissingShard {
                name: I::NAME,
                shard,
                shards: self.shards,
            });
        }
        self.roots.push(RootEntry {
            handle,
            make_args: Box::new(move || Payload::new(args.clone())),
            restart,
        });
        let index = self.roots.len() - 1;
        if let Some(spec) = self.groups.get_mut(group.0 as usize) {
            spec.children.push(ChildSpec::Isolate(index));
        }
        Handle::from_raw(handle)
    }

    /// The handle the next [`BootSpec::root`] of type `I` on `shard` will get — for wiring
    /// roots that refer to each other in a cycle. `None` if `I` is not registered.
    pub fn next_root<I: Isolate>(&self, shard: ShardId) -> Option<Handle<I>> {
        let type_index = self.type_index::<I>()?;
        let taken = self.roots_of(shard, type_index);
        if shard.index() >= SHARDS_MAX || taken >= SLOTS_PER_TYPE_MAX {
            return None;
        }
        Some(Handle::from_raw(RawHandle::new(
            shard,
            type_index,
            taken as u32,
            0,
        )))
    }

    /// Ordinary envelope slots per shard: every user message waiting in a mailbox holds
    /// one (default 4096). Timer messages, replies and spawns come from the reserved
    /// region instead ([`BootSpec::control_reserve`]).
    pub fn pool_slots(&mut self, slots: usize) -> &mut Self {
        self.pool_slots = slots;
        self
    }

    /// Envelope slots per shard reserved for control traffic — replies, spawns, timer
    /// messages — that user traffic can never take (default 256). The reserved region holds
    /// `control_reserve + timer_slots` envelopes, shared by all control traffic: a pending
    /// timer holds one, so timers alone can never exhaust it, but a burst of replies or
    /// spawns can make [`Ctx::after`](crate::Ctx::after) fail with
    /// [`TimerError::PoolExhausted`](crate::TimerError::PoolExhausted) until it drains.
    pub fn control_reserve(&mut self, slots: usize) -> &mut Self {
        self.control_reserve = slots;
        self
    }

    /// Envelopes per ring; one ring per ordered pair of shards (a power of two; default 1024).
    pub fn ring_capacity(&mut self, capacity: usize) -> &mut Self {
        self.ring_capacity = capacity;
        self
    }

    /// Envelopes in each shard's ingress queue, the way in for threads outside the system
    /// ([`System::send`](crate::System::send), [`System::call`](crate::System::call)); a
    /// power of two, default 256. A push into a full queue is refused at once.
    pub fn ingress_capacity(&mut self, capacity: usize) -> &mut Self {
        self.ingress_capacity = capacity;
        self
    }

    /// Calls from outside the system that may wait at once, for the whole system
    /// (default 64): each waiting caller holds one slot until its reply or timeout.
    pub fn external_calls(&mut self, slots: usize) -> &mut Self {
        self.external_calls = slots;
        self
    }

    /// Adds a size class of transfer buffers: every shard gets its own pool of `blocks`
    /// blocks of `block_size` bytes, allocated (and zeroed) at boot. [`Ctx::buffer`]
    /// takes from the smallest class that fits. None by default; each class's block size
    /// must be distinct.
    ///
    /// [`Ctx::buffer`]: crate::Ctx::buffer
    pub fn buffer_class(&mut self, block_size: usize, blocks: usize) -> &mut Self {
        self.buffer_classes.push((block_size, blocks));
        self
    }

    /// Gives every shard a reactor with `count` socket entries for the sockets its isolates
    /// open with [`Ctx::connect`](crate::Ctx::connect) or [`Ctx::listen`](crate::Ctx::listen)
    /// or adopt (declared listeners add their own connections on top, on the shards that
    /// serve them). Reads land in blocks of the largest buffer class, so a spec with
    /// sockets needs one ([`BootSpec::buffer_class`]). Boot raises the process's open-file
    /// limit to what the sockets need, or refuses the spec with the numbers.
    pub fn sockets(&mut self, count: usize) -> &mut Self {
        self.sockets = count;
        self
    }

    /// The socket entries per shard set with [`BootSpec::sockets`] (0 by default).
    pub fn sockets_per_shard(&self) -> usize {
        self.sockets
    }

    /// The buffer classes declared so far: `(block_size, blocks)`, in declaration order.
    pub fn buffer_classes(&self) -> &[(usize, usize)] {
        &self.buffer_classes
    }

    /// Reads land in blocks of the class with this block size (default: the largest class),
    /// so a spec can keep a few large blocks for big values without making every read take
    /// one. Must be one of the declared classes.
    pub fn read_block(&mut self, block_size: usize) -> &mut Self {
        self.read_block = Some(block_size);
        self
    }

    /// Declares a TCP listener (see [`Listen`](crate::Listen)); returns its index, for
    /// [`System::listener_addr`](crate::System::listener_addr). Its connection type must be
    /// registered with [`BootSpec::isolate`]; each connection takes one of its slots.
    pub fn listen(&mut self, listener: crate::io::Listen) -> usize {
        self.listeners.push(listener);
        self.listeners.len() - 1
    }

    /// Socket entries `shard` needs: its own sockets, each listener it serves and that
    /// listener's connections.
    pub(crate) fn socket_entries(&self, shard: ShardId) -> usize {
        let mut entries = self.sockets;
        for listener in &self.listeners {
            if listener.serves(shard) {
                let slots = self
                    .types
                    .iter()
                    .find(|entry| entry.type_id == listener.type_id)
                    .map_or(0, |entry| entry.slots);
                entries += 1 + listener.bound(slots);
            }
        }
        entries
    }

    /// Caps what the whole system may reserve at boot, in bytes: a spec that needs more is
    /// refused by `System::start` and `Simulation::new` (with the numbers). Without a cap,
    /// boot still checks the reservation against the address-space limit (`RLIMIT_AS`) and
    /// the memory the OS reports available.
    pub fn memory_limit(&mut self, bytes: u64) -> &mut Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Declares a user counter: one per shard, bumped by isolates with
    /// [`Ctx::count`](crate::Ctx::count), published with the shard's statistics and
    /// exposed as the Prometheus counter `name` (so end it in `_total`). At most
    /// [`USER_COUNTERS_MAX`](crate::stats::USER_COUNTERS_MAX); a name that is not a valid
    /// Prometheus metric name, or is declared twice, is refused by `validate`.
    pub fn counter(&mut self, name: &str, help: &str) -> crate::stats::CounterId {
        let id = crate::stats::CounterId(self.user_counters.len() as u16);
        self.declare_metric(name, help, false);
        id
    }

    /// Declares a user histogram of `u64` values (a fixed-bucket
    /// [`Histogram`](crate::stats::Histogram), one per shard), recorded into by isolates
    /// with [`Ctx::observe`](crate::Ctx::observe) and exposed as the Prometheus histogram
    /// `name`. At most [`USER_HISTOGRAMS_MAX`](crate::stats::USER_HISTOGRAMS_MAX); names as
    /// for [`BootSpec::counter`].
    pub fn histogram(&mut self, name: &str, help: &str) -> crate::stats::HistogramId {
        let id = crate::stats::HistogramId(self.user_histograms.len() as u16);
        self.declare_metric(name, help, true);
        id
    }

    fn declare_metric(&mut self, name: &str, help: &str, histogram: bool) {
        let taken = self
            .user_counters
            .iter()
            .chain(&self.user_histograms)
            .any(|metric| metric.name == name);
        let (count, max) = if histogram {
            (
                self.user_histograms.len(),
                crate::stats::USER_HISTOGRAMS_MAX,
            )
        } else {
            (self.user_counters.len(), crate::stats::USER_COUNTERS_MAX)
        };
        if !crate::stats::valid_metric_name(name) || name.starts_with("tina_") {
            self.early_errors.push(SpecError::MetricName {
                name: name.to_string(),
            });
        } else if taken {
            self.early_errors.push(SpecError::MetricDeclaredTwice {
                name: name.to_string(),
            });
        } else if count == max {
            self.early_errors
                .push(SpecError::TooManyMetrics { histogram, max });
        }
        let metric = crate::stats::MetricInfo {
            name: name.to_string(),
            help: help.lines().next().unwrap_or("").to_string(),
        };
        if histogram {
            self.user_histograms.push(metric);
        } else {
            self.user_counters.push(metric);
        }
    }

    /// Pending timers per shard, call timeouts included (default 1024).
    pub fn timer_slots(&mut self, slots: usize) -> &mut Self {
        self.timer_slots = slots;
        self
    }

    /// Dispatches per isolate type per tick, so a busy type cannot starve another
    /// (default 256). The budget is per tick, however many dispatch passes the tick makes.
    pub fn dispatch_budget(&mut self, budget: usize) -> &mut Self {
        self.dispatch_budget = budget;
        self
    }

    /// Idle ticks a shard spins before it parks its thread (default 1000).
    pub fn spin_before_sleep(&mut self, ticks: u32) -> &mut Self {
        self.spin_before_sleep = ticks;
        self
    }

    /// Whether each idle tick of the spin before sleeping ([`spin_before_sleep`]) yields
    /// the thread's core to any other thread waiting for it (`sched_yield`) instead of
    /// busy-waiting (default false).
    ///
    /// A shard that sleeps costs whoever wakes it a system call and costs itself a
    /// wake-up; a shard that busy-spins takes its core from every other thread that wants
    /// it. Where shards share cores with other busy threads (a client on the same machine,
    /// more threads than cores) and shards talk to each other a lot, yielding gets the
    /// best of both: the shard keeps looking for work without a wake-up, and the core goes
    /// to the others whenever they can run. Each yielding tick is a system call, so on
    /// cores of its own a shard spins more slowly this way than with the busy-wait; and, as
    /// with any spin, the core is busy (not asleep) until the spin ends.
    ///
    /// [`spin_before_sleep`]: BootSpec::spin_before_sleep
    pub fn spin_by_yielding(&mut self, yields: bool) -> &mut Self {
        self.spin_yields = yields;
        self
    }

    /// How long before a timer's deadline an idle shard stops sleeping and spins, so the
    /// timer fires within a tick of its deadline instead of within the OS's wake-up
    /// latency (default zero: never spin for a timer).
    ///
    /// An idle shard parks its thread until its next deadline; how late the OS wakes it is
    /// the OS's affair: tens of microseconds on a quiet machine, up to milliseconds on a
    /// busy or virtualised one (see the timer figures in `BENCHMARKS.md`). With a window
    /// `w`, the shard sleeps until `w` before the deadline and spins — ticking, so messages
    /// arriving meanwhile are handled at once — for the rest. The price is up to `w` of CPU
    /// per timer that fires on an idle shard (call timeouts and socket deadlines included),
    /// so a window of 1 ms with a timer every 10 ms costs up to 10% of a core; a shard with
    /// no deadline within `w` never spins for this. Set it near the wake-up latency
    /// you measure, for the shards whose timers must be precise.
    pub fn timer_spin(&mut self, window: std::time::Duration) -> &mut Self {
        self.timer_spin_nanos = crate::clock::nanos_of(window);
        self
    }

    /// Whether shard threads are pinned to cores (default true). With fewer cores than
    /// shards, shard `i` is pinned to core `i % cores`; with no core list available, threads
    /// run unpinned. The cores are those the thread calling [`System::start`] may run on
    /// (its affinity mask, which `taskset` sets for the whole process): boot a system from
    /// a thread pinned to one core and every shard is pinned to that core.
    ///
    /// [`System::start`]: crate::System::start
    pub fn pin_threads(&mut self, pin: bool) -> &mut Self {
        self.pin_threads = pin;
        self
    }

    /// Runs shard `shard`'s thread at the operating system's lowest priority (Linux's
    /// `SCHED_IDLE`): a shard for work that may wait, such as a long computation, so that
    /// on a machine with fewer cores than busy threads the OS gives a core to the other
    /// shards (and to everything else in the process) first.
    ///
    /// On a machine with a core to spare for every shard nothing changes. Where cores are
    /// short, the background shard runs only when nothing else wants the core: its
    /// messages, replies and timers wait meanwhile (a busy machine can starve it), while
    /// the shards that serve sockets keep their latency. Isolating heavy work on a shard of
    /// its own keeps it out of the other shards' ticks; this keeps it off their cores too.
    /// Best effort, as pinning is: an OS that refuses leaves the thread at its default
    /// priority, and systems other than Linux keep it. A shard the spec does not have is
    /// refused ([`SpecError::BackgroundOnMissingShard`]).
    pub fn background(&mut self, shard: ShardId) -> &mut Self {
        if !self.background.contains(&shard) {
            self.background.push(shard);
        }
        self
    }

    /// Asks the OS to run the shard threads (all but the [`background`] ones) with a
    /// scheduler time slice of `slice` instead of its default (Linux 6.12 and later: the
    /// EEVDF scheduler's per-thread slice, `sched_setattr`).
    ///
    /// A thread with a shorter slice gets an earlier deadline, so when a shard wakes on a
    /// core another thread is using, it runs sooner, and it gives the core back sooner
    /// when it runs long. This matters where shards share cores with other busy threads;
    /// with a core per shard it changes nothing. The kernel allows 100 µs to 100 ms; a
    /// slice outside that range is refused ([`SpecError::SchedulerSlice`]). Best effort:
    /// an older kernel, or another OS, keeps its default. Zero (the default) leaves the
    /// OS's slice.
    ///
    /// [`background`]: BootSpec::background
    pub fn scheduler_slice(&mut self, slice: std::time::Duration) -> &mut Self {
        self.slice_nanos = crate::clock::nanos_of(slice);
        self
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// How many static children of type `type_index` are declared on `shard`: the slot the
    /// next one gets.
    fn roots_of(&self, shard: ShardId, type_index: u16) -> usize {
        self.roots
            .iter()
            .filter(|root| root.handle.shard() == shard && root.handle.type_index() == type_index)
            .count()
    }

    pub(crate) fn type_index<I: Isolate>(&self) -> Option<u16> {
        self.types
            .iter()
            .position(|entry| entry.type_id == TypeId::of::<I>())
            .map(|index| index as u16)
    }

    /// Checks every value and reports all mistakes at once, each saying what to change; on
    /// success, reports the memory each shard reserves at boot.
    ///
    /// `System::start` and `Simulation::new` run it, then check the whole reservation
    /// against [`BootSpec::memory_limit`] and what the OS allows
    /// ([`SpecError::MemoryCeiling`]); `System::start` also checks the open-file limit for
    /// the sockets ([`SpecError::FileLimit`]). Neither of those is checked here.
    ///
    /// # Errors
    ///
    /// [`SpecErrors`], holding every [`SpecError`] found, in this order: the mistakes
    /// recorded while the spec was built (a type registered twice; a root or child of an
    /// unregistered type or on a missing shard; a group this spec did not declare, given
    /// to `child`, `group`, `strategy`, `budget`, `dynamic_children` or
    /// `dynamic_child_budget`; a metric name that is invalid, taken or one too many), then
    /// a check of each value — the shard count
    /// (0, or above [`SHARDS_MAX`]); the types (none, or above [`TYPES_MAX`]), their slots
    /// (0, or above [`SLOTS_PER_TYPE_MAX`]) and mailbox bounds; roots per shard against
    /// slots; the envelope pool, control reserve and their sum; ring and ingress
    /// capacities (powers of two up to 2^20); external call slots; buffer classes; timer
    /// slots; the dispatch budget; each group's restart budget; each listener's type and
    /// shards; sockets without a buffer class, a read block that is not a class, too many
    /// sockets; too many groups.
    ///
    /// Capacities too large to add up are reported, not overflowed: the pool's sum as
    /// [`SpecError::PoolTooLarge`], buffer classes by a reservation that saturates at
    /// `usize::MAX` bytes, which boot refuses as over the memory ceiling.
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// let mut spec = BootSpec::new(0);
    /// spec.ring_capacity(1000);
    /// let errors = spec.validate().unwrap_err();
    /// // No shards, no isolate type, a ring capacity that is not a power of two.
    /// assert_eq!(errors.0.len(), 3);
    /// assert!(errors.to_string().contains("power of two"));
    /// ```
    pub fn validate(&self) -> Result<MemoryReport, SpecErrors> {
        let mut errors = self.early_errors.clone();
        if self.shards == 0 {
            errors.push(SpecError::NoShards);
        } else if self.shards > SHARDS_MAX {
            errors.push(SpecError::TooManyShards {
                shards: self.shards,
            });
        }
        if self.types.is_empty() {
            errors.push(SpecError::NoIsolateTypes);
        } else if self.types.len() > TYPES_MAX {
            errors.push(SpecError::TooManyTypes {
                types: self.types.len(),
            });
        }
        for entry in &self.types {
            if entry.slots == 0 || entry.slots > SLOTS_PER_TYPE_MAX {
                errors.push(SpecError::SlotCount {
                    name: entry.name,
                    slots: entry.slots,
                });
            }
            if entry.mailbox == 0 || entry.mailbox > MAILBOX_MAX {
                errors.push(SpecError::MailboxBound {
                    name: entry.name,
                    mailbox: entry.mailbox,
                });
            }
        }
        for (type_index, entry) in self.types.iter().enumerate() {
            for shard in 0..self.shards {
                let roots = self.roots_of(ShardId(shard as u16), type_index as u16);
                if roots > entry.slots {
                    errors.push(SpecError::TooManyRoots {
                        name: entry.name,
                        shard: ShardId(shard as u16),
                        roots,
                        slots: entry.slots,
                    });
                }
            }
        }
        if self.pool_slots == 0 {
            errors.push(SpecError::PoolSlots);
        }
        if self.control_reserve == 0 {
            errors.push(SpecError::ControlReserve);
        }
        let pool_total = self
            .pool_slots
            .saturating_add(self.control_reserve)
            .saturating_add(self.timer_slots);
        if pool_total > tina_mailbox::SLOTS_MAX {
            errors.push(SpecError::PoolTooLarge { slots: pool_total });
        }
        if !self.ring_capacity.is_power_of_two() || self.ring_capacity > (1 << 20) {
            errors.push(SpecError::RingCapacity {
                capacity: self.ring_capacity,
            });
        }
        if !self.ingress_capacity.is_power_of_two() || self.ingress_capacity > (1 << 20) {
            errors.push(SpecError::IngressCapacity {
                capacity: self.ingress_capacity,
            });
        }
        if self.external_calls > 1 << 16 {
            errors.push(SpecError::ExternalCalls {
                slots: self.external_calls,
            });
        }
        for (index, &(block_size, blocks)) in self.buffer_classes.iter().enumerate() {
            let duplicate = self.buffer_classes[..index]
                .iter()
                .any(|&(earlier, _)| earlier == block_size);
            if block_size == 0 || block_size > BUFFER_BLOCK_MAX || blocks == 0 || duplicate {
                errors.push(SpecError::BufferClass { block_size, blocks });
            }
        }
        if self.timer_slots == 0 || self.timer_slots > (1 << 24) {
            errors.push(SpecError::TimerSlots {
                slots: self.timer_slots,
            });
        }
        if self.dispatch_budget == 0 {
            errors.push(SpecError::DispatchBudget);
        }
        if self.timer_spin_nanos > TIMER_SPIN_MAX_NANOS {
            errors.push(SpecError::TimerSpin {
                nanos: self.timer_spin_nanos,
            });
        }
        if self.slice_nanos != 0 && !(SLICE_MIN_NANOS..=SLICE_MAX_NANOS).contains(&self.slice_nanos)
        {
            errors.push(SpecError::SchedulerSlice {
                nanos: self.slice_nanos,
            });
        }
        for &shard in &self.background {
            if shard.index() >= self.shards {
                errors.push(SpecError::BackgroundOnMissingShard {
                    shard,
                    shards: self.shards,
                });
            }
        }
        for group in &self.groups {
            if group.budget.window.is_zero() {
                errors.push(SpecError::BudgetWindow);
            }
            if group.budget.restarts > 1 << 16 {
                errors.push(SpecError::BudgetRestarts {
                    restarts: group.budget.restarts,
                });
            }
        }
        for listener in &self.listeners {
            if !self
                .types
                .iter()
                .any(|entry| entry.type_id == listener.type_id)
            {
                errors.push(SpecError::ListenerTypeNotRegistered {
                    name: listener.type_name,
                    addr: listener.addr,
                });
            }
            if let Some(shards) = &listener.shards
                && (shards.is_empty() || shards.iter().any(|shard| shard.index() >= self.shards))
            {
                errors.push(SpecError::ListenerShards {
                    addr: listener.addr,
                    shards: self.shards,
                });
            }
        }
        let sockets_anywhere =
            (0..self.shards).any(|shard| self.socket_entries(ShardId(shard as u16)) > 0);
        if sockets_anywhere && self.buffer_classes.is_empty() {
            errors.push(SpecError::SocketsWithoutBuffers);
        }
        if let Some(block) = self.read_block
            && !self.buffer_classes.iter().any(|&(size, _)| size == block)
        {
            errors.push(SpecError::ReadBlockNotAClass { block });
        }
        if (0..self.shards).any(|shard| self.socket_entries(ShardId(shard as u16)) > SOCKETS_MAX) {
            errors.push(SpecError::TooManySockets {
                sockets: (0..self.shards)
                    .map(|shard| self.socket_entries(ShardId(shard as u16)))
                    .max()
                    .unwrap_or(0),
            });
        }
        if self.groups.len() > u16::MAX as usize - 1 {
            errors.push(SpecError::TooManyGroups {
                groups: self.groups.len(),
            });
        }
        if errors.is_empty() {
            Ok(self.memory_report())
        } else {
            Err(SpecErrors(errors))
        }
    }

    /// [`BootSpec::validate`], then the memory ceiling: the whole reservation (every shard's
    /// [`MemoryReport::bytes_per_shard`]) against the spec's cap, `RLIMIT_AS` and the memory
    /// available. What `System::start` and `Simulation::new` run.
    pub(crate) fn validate_for_boot(&self) -> Result<MemoryReport, SpecErrors> {
        let report = self.validate()?;
        let needed = (report.bytes_per_shard as u64).saturating_mul(self.shards as u64);
        if let Some(ceiling) = crate::memory::ceiling(self.memory_limit, self.shards as u64)
            && needed > ceiling.bytes
        {
            let per_shard = (report.bytes_per_shard as u64).max(1);
            return Err(SpecErrors(vec![SpecError::MemoryCeiling {
                needed,
                available: ceiling.bytes,
                source: ceiling.source,
                shards_that_fit: ceiling.bytes / per_shard,
            }]));
        }
        Ok(report)
    }

    /// How many isolates on `shard` can be supervised at once: every static child of its
    /// groups plus every group's room for dynamic children. Membership, kept init args and
    /// pending exits are kept for these only.
    pub(crate) fn supervised_capacity(&self, shard: ShardId) -> usize {
        // A room larger than the shard's slots could never be filled.
        let slots: usize = self.types.iter().map(|entry| entry.slots).sum();
        let declared: usize = self
            .groups
            .iter()
            .filter(|group| group.shard == shard)
            .map(|group| {
                let isolates = group
                    .children
                    .iter()
                    .filter(|child| matches!(child, ChildSpec::Isolate(_)))
                    .count();
                isolates.saturating_add(group.dynamic_room.min(slots))
            })
            .fold(0, usize::saturating_add);
        declared.min(slots)
    }

    /// Room in each shard's table of outstanding calls: one call per isolate at most, and one
    /// per timer slot (every call has a timeout).
    pub(crate) fn call_capacity(&self) -> usize {
        let slots: usize = self.types.iter().map(|entry| entry.slots).sum();
        slots.min(self.timer_slots)
    }

    fn memory_report(&self) -> MemoryReport {
        // A pool slot is the envelope rounded up to whole cache lines.
        let envelope_slot = size_of::<Option<Envelope>>().next_multiple_of(64);
        let pool = (self.pool_slots + self.control_reserve + self.timer_slots) * envelope_slot;
        // From every other shard: a data ring and a bounce ring of the same size; and the
        // ingress queue.
        let rings = (2 * self.shards.saturating_sub(1) * self.ring_capacity
            + self.ingress_capacity)
            * size_of::<Envelope>();
        let slots_total: usize = self.types.iter().map(|entry| entry.slots).sum();
        // Per slot, besides the arena: its bookkeeping (which also links the free list) and
        // one u32 each in the ready queue, the yield list and the timer owner table.
        let per_slot = size_of::<SlotMeta>() + 3 * size_of::<u32>();
        // Per supervised slot (the largest bound of any shard): its membership, keyed by
        // slot, and a place in the exit queue.
        let supervised = (0..self.shards)
            .map(|shard| self.supervised_capacity(ShardId(shard as u16)))
            .max()
            .unwrap_or(0);
        let per_supervised = size_of::<(u32, crate::shard::core::Membership)>()
            + size_of::<crate::shard::core::Exit>();
        let slots = slots_total * per_slot + supervised * per_supervised;
        let states: usize = self
            .types
            .iter()
            .map(|entry| {
                // The states, one presence bit each, and the kept args.
                entry.slots * entry.state_bytes
                    + entry.slots.div_ceil(64) * size_of::<u64>()
                    + entry.slots.min(supervised) * entry.kept_args_bytes
            })
            .sum();
        let timers = self.timer_slots * crate::timer::Timers::BYTES_PER_SLOT
            + self.call_capacity() * crate::shard::calls::Calls::BYTES_PER_ENTRY;
        let buffers: usize = self
            .buffer_classes
            .iter()
            .map(|&(block_size, blocks)| {
                block_size
                    .saturating_mul(blocks)
                    .saturating_add(blocks.div_ceil(64) * 8)
            })
            .fold(0, usize::saturating_add);
        let sockets = (0..self.shards)
            .map(|shard| self.socket_entries(ShardId(shard as u16)))
            .max()
            .unwrap_or(0)
            * crate::io::BYTES_PER_SOCKET;
        MemoryReport {
            // Every other term is bounded by `validate`'s caps; the buffer blocks are not,
            // so the sum saturates (and the memory ceiling at boot refuses it).
            bytes_per_shard: [pool, rings, slots, states, timers, buffers, sockets]
                .into_iter()
                .fold(0, usize::saturating_add),
            socket_bytes: sockets,
            buffer_bytes: buffers,
            pool_bytes: pool,
            ring_bytes: rings,
            slot_bytes: slots,
            state_bytes: states,
            timer_bytes: timers,
        }
    }
}

/// Memory each shard reserves at boot, by purpose (approximate to the cache line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryReport {
    /// Everything below, summed.
    pub bytes_per_shard: usize,
    /// The envelope pool (ordinary, control reserve and timer reserve).
    pub pool_bytes: usize,
    /// Inbound rings from every other shard (data and bounces) and the ingress queue.
    pub ring_bytes: usize,
    /// Per-slot bookkeeping (generations, mailbox heads, the call index), plus supervision
    /// membership and exit-queue room for the slots that can be supervised.
    pub slot_bytes: usize,
    /// Isolate states, and the init args kept for the slots that can be supervised.
    pub state_bytes: usize,
    /// The timer queue and the table of outstanding calls (as many entries as timer slots,
    /// or isolate slots where those are fewer).
    pub timer_bytes: usize,
    /// Transfer buffers: every class's blocks and free bitmap.
    pub buffer_bytes: usize,
    /// The reactor's socket table (the kernel's own socket memory is not counted).
    pub socket_bytes: usize,
}

/// The longest [`BootSpec::timer_spin`] window a spec may ask for (10 ms): beyond it the
/// window is no longer about the OS's wake-up latency but a busy wait.
const TIMER_SPIN_MAX_NANOS: u64 = 10_000_000;
/// The shortest scheduler slice Linux accepts ([`BootSpec::scheduler_slice`]): 100 µs.
const SLICE_MIN_NANOS: u64 = 100_000;
/// The longest: 100 ms.
const SLICE_MAX_NANOS: u64 = 100_000_000;

/// One mistake in a boot spec; its text says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// `shards` is zero.
    NoShards,
    /// More shards than handles can address.
    TooManyShards {
        /// What was asked.
        shards: usize,
    },
    /// No isolate type registered.
    NoIsolateTypes,
    /// More types than handles can address.
    TooManyTypes {
        /// What was asked.
        types: usize,
    },
    /// A type registered twice.
    DuplicateType {
        /// The type.
        name: &'static str,
    },
    /// A slot count of zero or above the maximum.
    SlotCount {
        /// The type.
        name: &'static str,
        /// What was asked.
        slots: usize,
    },
    /// A mailbox bound of zero or above the maximum.
    MailboxBound {
        /// The type.
        name: &'static str,
        /// The declared bound.
        mailbox: usize,
    },
    /// A root of a type never registered.
    RootOfUnregisteredType {
        /// The type.
        name: &'static str,
    },
    /// A root placed on a shard that does not exist.
    RootOnMissingShard {
        /// The type.
        name: &'static str,
        /// Where it was placed.
        shard: ShardId,
        /// How many shards there are.
        shards: usize,
    },
    /// More roots of a type on a shard than it has slots.
    TooManyRoots {
        /// The type.
        name: &'static str,
        /// The shard.
        shard: ShardId,
        /// Roots placed there.
        roots: usize,
        /// Slots available.
        slots: usize,
    },
    /// No ordinary envelope slots.
    PoolSlots,
    /// No control reserve.
    ControlReserve,
    /// The pool would exceed the largest possible.
    PoolTooLarge {
        /// Slots asked in total.
        slots: usize,
    },
    /// A ring capacity that is not a power of two in range.
    RingCapacity {
        /// What was asked.
        capacity: usize,
    },
    /// An ingress capacity that is not a power of two in range.
    IngressCapacity {
        /// What was asked.
        capacity: usize,
    },
    /// More external call slots than the maximum.
    ExternalCalls {
        /// What was asked.
        slots: usize,
    },
    /// A transfer-buffer class with no blocks, a block size of zero or above the maximum,
    /// or the same block size as another class.
    BufferClass {
        /// The block size asked.
        block_size: usize,
        /// The blocks asked.
        blocks: usize,
    },
    /// The whole system's boot reservation exceeds what the process can get.
    MemoryCeiling {
        /// Bytes the spec reserves, all shards together.
        needed: u64,
        /// Bytes available under the tightest bound.
        available: u64,
        /// Which bound.
        source: &'static str,
        /// How many shards of this spec would fit.
        shards_that_fit: u64,
    },
    /// A timer slot count of zero or above the maximum.
    TimerSlots {
        /// What was asked.
        slots: usize,
    },
    /// A dispatch budget of zero.
    DispatchBudget,
    /// Boot asked the allocator for memory and was refused (the spec's reservation passed
    /// the memory ceiling, but the allocator could not give it): nothing was started.
    OutOfMemory {
        /// The shard being built.
        shard: ShardId,
        /// What was being allocated, and the settings that size it.
        what: &'static str,
        /// The bytes asked for.
        bytes: usize,
    },
    /// A timer spin window above 10 ms ([`BootSpec::timer_spin`]).
    TimerSpin {
        /// What was asked, in nanoseconds.
        nanos: u64,
    },
    /// A scheduler slice outside 100 µs to 100 ms ([`BootSpec::scheduler_slice`]).
    SchedulerSlice {
        /// What was asked, in nanoseconds.
        nanos: u64,
    },
    /// [`BootSpec::background`] named a shard that does not exist.
    BackgroundOnMissingShard {
        /// The shard named.
        shard: ShardId,
        /// How many shards there are.
        shards: usize,
    },
    /// A group id that this spec did not create.
    UnknownGroup,
    /// A restart budget with a zero window.
    BudgetWindow,
    /// A restart budget allowing more restarts per window than supported.
    BudgetRestarts {
        /// What was asked.
        restarts: u32,
    },
    /// More supervision groups than supported.
    TooManyGroups {
        /// How many were declared.
        groups: usize,
    },
    /// A listener spawns a connection type never registered with `BootSpec::isolate`.
    ListenerTypeNotRegistered {
        /// The connection type.
        name: &'static str,
        /// The listener's address.
        addr: std::net::SocketAddr,
    },
    /// A listener names no shard, or a shard that does not exist.
    ListenerShards {
        /// The listener's address.
        addr: std::net::SocketAddr,
        /// How many shards there are.
        shards: usize,
    },
    /// Sockets (or listeners) without a buffer class for their reads.
    SocketsWithoutBuffers,
    /// [`BootSpec::read_block`] names a block size no buffer class has.
    ReadBlockNotAClass {
        /// The block size named.
        block: usize,
    },
    /// A user metric's name is not a valid Prometheus metric name, or starts with `tina_`
    /// (the runtime's own prefix).
    MetricName {
        /// The name given.
        name: String,
    },
    /// Two user metrics share a name.
    MetricDeclaredTwice {
        /// The name.
        name: String,
    },
    /// More user counters (or histograms) than supported.
    TooManyMetrics {
        /// Histograms (true) or counters.
        histogram: bool,
        /// The most there may be.
        max: usize,
    },
    /// More socket entries on a shard than supported.
    TooManySockets {
        /// The most any shard would need.
        sockets: usize,
    },
    /// The process cannot open as many files as the spec's sockets need.
    FileLimit {
        /// Descriptors the spec needs.
        needed: u64,
        /// The hard limit (`RLIMIT_NOFILE`).
        hard_limit: u64,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::NoShards => write!(
                formatter,
                "shards is 0: a system needs at least one shard; pass 1 or more to BootSpec::new"
            ),
            SpecError::TooManyShards { shards } => write!(
                formatter,
                "shards is {shards}: at most {SHARDS_MAX} shards are supported; run fewer shards"
            ),
            SpecError::NoIsolateTypes => write!(
                formatter,
                "no isolate type registered: call spec.isolate::<YourIsolate>(slots) for every isolate type"
            ),
            SpecError::TooManyTypes { types } => write!(
                formatter,
                "{types} isolate types registered: at most {TYPES_MAX} are supported"
            ),
            SpecError::DuplicateType { name } => write!(
                formatter,
                "isolate type `{name}` is registered twice: register each type once"
            ),
            SpecError::SlotCount { name, slots } => write!(
                formatter,
                "isolate type `{name}` has {slots} slots per shard: give it between 1 and {SLOTS_PER_TYPE_MAX}"
            ),
            SpecError::MailboxBound { name, mailbox } => write!(
                formatter,
                "isolate type `{name}` declares a mailbox of {mailbox}: the bound must be between 1 and {MAILBOX_MAX}"
            ),
            SpecError::RootOfUnregisteredType { name } => write!(
                formatter,
                "root of type `{name}` added before the type was registered: call spec.isolate::<{name}>(slots) before spec.root::<{name}>(..)"
            ),
            SpecError::RootOnMissingShard {
                name,
                shard,
                shards,
            } => write!(
                formatter,
                "root of type `{name}` placed on {shard}, but the system has {shards} shards: place it on a shard below {shards}"
            ),
            SpecError::TooManyRoots {
                name,
                shard,
                roots,
                slots,
            } => write!(
                formatter,
                "{roots} roots of type `{name}` on {shard} but only {slots} slots: raise its slots or place fewer roots there"
            ),
            SpecError::PoolSlots => write!(
                formatter,
                "pool_slots is 0: give each shard at least one ordinary envelope slot"
            ),
            SpecError::ControlReserve => write!(
                formatter,
                "control_reserve is 0: replies and spawns need at least one reserved envelope slot"
            ),
            SpecError::PoolTooLarge { slots } => write!(
                formatter,
                "the envelope pool would hold {slots} slots: keep pool_slots + control_reserve + timer_slots under {}",
                tina_mailbox::SLOTS_MAX
            ),
            SpecError::RingCapacity { capacity } => write!(
                formatter,
                "ring_capacity is {capacity}: it must be a power of two between 1 and {}",
                1 << 20
            ),
            SpecError::IngressCapacity { capacity } => write!(
                formatter,
                "ingress_capacity is {capacity}: it must be a power of two between 1 and {}",
                1 << 20
            ),
            SpecError::ExternalCalls { slots } => write!(
                formatter,
                "external_calls is {slots}: allow at most {} calls from outside the system at once",
                1 << 16
            ),
            SpecError::BufferClass { block_size, blocks } => write!(
                formatter,
                "buffer_class({block_size}, {blocks}): give each class at least one block and a \
                 block size between 1 and {BUFFER_BLOCK_MAX} bytes, different from every other class"
            ),
            SpecError::ListenerTypeNotRegistered { name, addr } => write!(
                formatter,
                "the listener at {addr} spawns {name}, which is not registered: add \
                 spec.isolate::<{name}>(connections) before declaring the listener"
            ),
            SpecError::ListenerShards { addr, shards } => write!(
                formatter,
                "the listener at {addr} names no shard or a shard beyond the {shards} there \
                 are: list shards below {shards} in Listen::on_shards, or leave it out for all"
            ),
            SpecError::SocketsWithoutBuffers => write!(
                formatter,
                "sockets need buffers to read into, and the spec has no buffer class: add \
                 spec.buffer_class(block_size, blocks), e.g. spec.buffer_class(16 * 1024, 1024)"
            ),
            SpecError::ReadBlockNotAClass { block } => write!(
                formatter,
                "reads are to land in {block}-byte blocks, but no buffer class has that block \
                 size: declare spec.buffer_class({block}, blocks) or name one of the declared \
                 sizes in spec.read_block"
            ),
            SpecError::MetricName { name } => write!(
                formatter,
                "the metric name {name:?} is not a Prometheus metric name: use letters, digits, \
                 '_' and ':', not starting with a digit, and not starting with \"tina_\" (the \
                 runtime's own metrics)"
            ),
            SpecError::MetricDeclaredTwice { name } => write!(
                formatter,
                "the metric {name:?} is declared twice: give each counter and histogram its \
                 own name"
            ),
            SpecError::TooManyMetrics { histogram, max } => write!(
                formatter,
                "more than {max} user {} declared: merge some, or use labels in a value you \
                 record instead",
                if *histogram { "histograms" } else { "counters" }
            ),
            SpecError::TooManySockets { sockets } => write!(
                formatter,
                "a shard would need {sockets} socket entries, above the maximum of \
                 {SOCKETS_MAX}: lower BootSpec::sockets or the listeners' max_connections"
            ),
            SpecError::FileLimit { needed, hard_limit } => write!(
                formatter,
                "the spec's sockets need {needed} open files but the process may open at most \
                 {hard_limit} (RLIMIT_NOFILE hard limit): raise the limit (ulimit -Hn, \
                 LimitNOFILE=) or lower BootSpec::sockets and the listeners' max_connections"
            ),
            SpecError::MemoryCeiling {
                needed,
                available,
                source,
                shards_that_fit,
            } => write!(
                formatter,
                "the spec reserves {needed} bytes at boot but only {available} are available \
                 ({source}): shrink the per-shard capacities (pool_slots, ring_capacity, \
                 timer_slots, isolate slots, buffer classes) or run at most {shards_that_fit} \
                 shards of this size"
            ),
            SpecError::TimerSlots { slots } => write!(
                formatter,
                "timer_slots is {slots}: give each shard between 1 and {} timer slots (calls need one each)",
                1 << 24
            ),
            SpecError::DispatchBudget => write!(
                formatter,
                "dispatch_budget is 0: each type needs at least one dispatch per tick"
            ),
            SpecError::OutOfMemory { shard, what, bytes } => write!(
                formatter,
                "booting {shard}: the allocator refused {bytes} bytes for {what}; lower those \
                 settings (or give the process more memory): nothing was started"
            ),
            SpecError::TimerSpin { nanos } => write!(
                formatter,
                "timer_spin is {} µs: a spin window is for the OS's wake-up latency, at most \
                 {} µs; use a smaller window (or none)",
                nanos / 1_000,
                TIMER_SPIN_MAX_NANOS / 1_000
            ),
            SpecError::SchedulerSlice { nanos } => write!(
                formatter,
                "scheduler_slice is {} µs: Linux takes a slice of {} µs to {} µs; choose one \
                 in that range (or zero for the OS's default)",
                nanos / 1_000,
                SLICE_MIN_NANOS / 1_000,
                SLICE_MAX_NANOS / 1_000
            ),
            SpecError::BackgroundOnMissingShard { shard, shards } => write!(
                formatter,
                "background(ShardId({})) names a shard this spec does not have: it has {} \
                 shard(s), numbered 0 to {}; name one of them or add shards",
                shard.0,
                shards,
                shards.saturating_sub(1)
            ),
            SpecError::UnknownGroup => write!(
                formatter,
                "a group id was used that this spec did not create: use the GroupId returned by spec.supervisor(..) or spec.group(..) of the same spec"
            ),
            SpecError::BudgetWindow => write!(
                formatter,
                "a restart budget has a zero window: give it a window of at least 1 ns (e.g. RestartBudget::new(3, Duration::from_secs(5)))"
            ),
            SpecError::BudgetRestarts { restarts } => write!(
                formatter,
                "a restart budget allows {restarts} restarts per window: at most 65536 are supported"
            ),
            SpecError::TooManyGroups { groups } => write!(
                formatter,
                "{groups} supervision groups declared: at most 65534 are supported"
            ),
        }
    }
}

/// Every mistake found in a boot spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "invalid boot spec ({} problem{}):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(formatter, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}
