//! Supervision in simulation: strategies restart exactly the right children in the right
//! order with fresh state and new handles; two crashes in one tick restart a one-for-all
//! group once; restart types after a crash and after `Done`; a budget allows its restarts
//! and escalates on one more. (Escalation through nested groups to quarantine and revive, a
//! panic in `init` during a restart and a crash while a call is pending are in
//! `supervision_escalation.rs`; dynamic children in `supervision_dynamic.rs` and
//! `soundness.rs`; quarantine on threads in `supervision_threads.rs`.)

mod support;

use std::cell::RefCell;

use core::time::Duration;

use tina_runtime::{
    BootSpec, Ctx, Effect, Handle, Instant, Isolate, Restart, RestartBudget, SendErrorKind,
    ShardId, Simulation, Strategy,
};

/// What happened, in order: `Start(id)` when `init` ran, `Stop(id)` when a state was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Start(u8),
    Stop(u8),
}

std::thread_local! {
    static EVENTS: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

fn take_events() -> Vec<Event> {
    EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
}

/// A supervised child: logs its start and stop, counts messages, crashes or exits on demand,
/// and checks in with the driver from `init` (the check-in pattern).
struct Member {
    id: u8,
    handled: u32,
}

struct Poke;
struct Boom;
struct Quit;

messages!(Member => MemberMessage { Poke(Poke), Boom(Boom), Quit(Quit) });

/// `(id, panic in init on restarts, the driver to check in with)`.
type MemberArgs = (u8, bool, Handle<Driver>);

impl Isolate for Member {
    type Message = MemberMessage;
    type Args = MemberArgs;
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Member";

    fn init(args: &MemberArgs, ctx: &mut Ctx<Self>) -> Self {
        if args.1 && ctx.me().raw().generation() > 0 {
            panic!("init refuses to restart");
        }
        EVENTS.with(|events| events.borrow_mut().push(Event::Start(args.0)));
        let me = ctx.me();
        // The driver may not be started yet at boot; it learns boot handles from its args.
        let _ = ctx.send(&args.2, CheckIn(args.0, me));
        Member {
            id: args.0,
            handled: 0,
        }
    }

    fn handle(&mut self, message: MemberMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            MemberMessage::Poke(Poke) => {
                self.handled += 1;
                Effect::Receive
            }
            MemberMessage::Boom(Boom) => panic!("member {} told to crash", self.id),
            MemberMessage::Quit(Quit) => Effect::Done,
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        EVENTS.with(|events| events.borrow_mut().push(Event::Stop(self.id)));
    }
}

/// One scripted action of the driver, at a time in µs.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// Send `Boom` to the member's current incarnation.
    Crash(u8, u32),
    /// Send `Quit`.
    Quit(u8, u32),
    /// Send `Poke`.
    Poke(u8, u32),
}

/// Runs a script against the members' current incarnations, learnt from their check-ins.
struct Driver {
    script: [Option<Action>; 4],
    members: [Handle<Member>; 4],
    check_ins: u32,
    results: Vec<Result<(), SendErrorKind>>,
}

/// Runs script step `n`.
struct Fire(usize);
/// A member announcing its (new) handle.
struct CheckIn(u8, Handle<Member>);

messages!(Driver => DriverMessage { Fire(Fire), CheckIn(CheckIn) });

impl Isolate for Driver {
    type Message = DriverMessage;
    type Args = ([Option<Action>; 4], [Handle<Member>; 4]);
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Driver";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        for (index, action) in args.0.iter().enumerate() {
            let at = match action {
                Some(Action::Crash(_, at) | Action::Quit(_, at) | Action::Poke(_, at)) => *at,
                None => continue,
            };
            ctx.after(Duration::from_micros(u64::from(at)), Fire(index))
                .unwrap();
        }
        Driver {
            script: args.0,
            members: args.1,
            check_ins: 0,
            results: Vec::new(),
        }
    }

    fn handle(&mut self, message: DriverMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            DriverMessage::CheckIn(CheckIn(id, handle)) => {
                self.check_ins += 1;
                self.members[id as usize] = handle;
            }
            DriverMessage::Fire(Fire(index)) => {
                let result = match self.script[index].unwrap() {
                    Action::Crash(member, _) => ctx
                        .send(&self.members[member as usize], Boom)
                        .map_err(|e| e.kind()),
                    Action::Quit(member, _) => ctx
                        .send(&self.members[member as usize], Quit)
                        .map_err(|e| e.kind()),
                    Action::Poke(member, _) => ctx
                        .send(&self.members[member as usize], Poke)
                        .map_err(|e| e.kind()),
                };
                self.results.push(result);
            }
        }
        Effect::Receive
    }
}

/// Four members in one nested group with `strategy` and `budget`; the driver is a root.
fn group_of_four(
    strategy: Strategy,
    restart: Restart,
    budget: RestartBudget,
    script: [Option<Action>; 4],
) -> (Simulation, Handle<Driver>) {
    let mut spec = BootSpec::new(1);
    spec.print_crashes(false);
    spec.isolate::<Member>(8).isolate::<Driver>(1);
    let driver = spec.next_root::<Driver>(ShardId(0)).unwrap();
    let root = spec.supervisor(ShardId(0));
    let group = spec.group(root, strategy, budget);
    let members =
        [0u8, 1, 2, 3].map(|id| spec.child::<Member>(group, restart, (id, false, driver)));
    assert_eq!(spec.root::<Driver>(ShardId(0), (script, members)), driver);
    take_events();
    (Simulation::new(spec, 1).unwrap(), driver)
}

fn run(sim: &mut Simulation) {
    let report = sim.run(1_000_000);
    assert!(report.quiescent);
    sim.check_pools().unwrap();
}

fn script(actions: &[Action]) -> [Option<Action>; 4] {
    let mut script = [None; 4];
    for (slot, action) in script.iter_mut().zip(actions) {
        *slot = Some(*action);
    }
    script
}

use Event::{Start, Stop};

const BOOT: [Event; 4] = [Start(0), Start(1), Start(2), Start(3)];

fn after_boot(events: Vec<Event>) -> Vec<Event> {
    assert_eq!(events[..4], BOOT, "static children start in declared order");
    events[4..].to_vec()
}

#[test]
fn one_for_one_restarts_only_the_crashed_child() {
    let (mut sim, _) = group_of_four(
        Strategy::OneForOne,
        Restart::Permanent,
        RestartBudget::default(),
        script(&[Action::Crash(1, 10)]),
    );
    run(&mut sim);
    assert_eq!(after_boot(take_events()), [Stop(1), Start(1)]);
    assert_eq!(sim.totals().restarts, 1);
}

#[test]
fn one_for_all_restarts_every_child_in_order() {
    let (mut sim, _) = group_of_four(
        Strategy::OneForAll,
        Restart::Permanent,
        RestartBudget::default(),
        script(&[Action::Crash(1, 10)]),
    );
    run(&mut sim);
    assert_eq!(
        after_boot(take_events()),
        [
            Stop(1),
            Stop(3),
            Stop(2),
            Stop(0),
            Start(0),
            Start(1),
            Start(2),
            Start(3)
        ],
        "the crashed child goes first; the others stop last-started-first; all restart in order"
    );
    assert_eq!(sim.totals().restarts, 1, "one group restart, counted once");
}

#[test]
fn two_crashes_in_one_tick_restart_a_one_for_all_group_once() {
    // Both crash in the same dispatch run, so both exits wait for the supervisor together.
    // The first restarts the whole group, the second child with it; the second exit then
    // names a child that is already running again and is ignored (as Erlang ignores an exit
    // from a pid that is no longer a child) instead of restarting the group a second time.
    let (mut sim, _) = group_of_four(
        Strategy::OneForAll,
        Restart::Permanent,
        RestartBudget::default(),
        script(&[Action::Crash(1, 10), Action::Crash(2, 10)]),
    );
    run(&mut sim);
    assert_eq!(
        after_boot(take_events()),
        [
            Stop(1),
            Stop(2),
            Stop(3),
            Stop(0),
            Start(0),
            Start(1),
            Start(2),
            Start(3)
        ]
    );
    assert_eq!(
        sim.totals().restarts,
        1,
        "one group restart for both crashes"
    );
    assert_eq!(sim.totals().crashed, 2);
}

#[test]
fn rest_for_one_restarts_the_child_and_those_after_it() {
    let (mut sim, _) = group_of_four(
        Strategy::RestForOne,
        Restart::Permanent,
        RestartBudget::default(),
        script(&[Action::Crash(1, 10)]),
    );
    run(&mut sim);
    assert_eq!(
        after_boot(take_events()),
        [Stop(1), Stop(3), Stop(2), Start(1), Start(2), Start(3)]
    );
}

#[test]
fn restarted_children_have_fresh_state_and_new_handles() {
    let (mut sim, driver) = group_of_four(
        Strategy::OneForOne,
        Restart::Permanent,
        RestartBudget::default(),
        script(&[Action::Poke(1, 5), Action::Poke(1, 6), Action::Crash(1, 20)]),
    );
    sim.run_until(Instant::from_nanos(15_000));
    let before = sim.state(driver).unwrap().members[1];
    assert_eq!(sim.state(before).unwrap().handled, 2);
    run(&mut sim);
    assert!(
        sim.state(before).is_none(),
        "the old handle is stale after the restart"
    );
    let state = sim.state(driver).unwrap();
    // At boot the members start before the driver (declaration order), so their check-ins
    // find it not yet started; the driver knows their boot handles from its args. The
    // restarted member's check-in arrives.
    assert_eq!(state.check_ins, 1);
    let after = state.members[1];
    assert_ne!(after, before);
    assert_eq!(after.raw().slot(), before.raw().slot());
    assert_eq!(
        sim.state(after).unwrap().handled,
        0,
        "fresh state from init"
    );
    assert_eq!(sim.state(after).unwrap().id, 1, "same init args");
    take_events();
}

#[test]
fn restart_types_after_crash_and_after_done() {
    // (restart type, quit instead of crash, expected restart)
    let cases = [
        (Restart::Permanent, false, true),
        (Restart::Permanent, true, true),
        (Restart::Transient, false, true),
        (Restart::Transient, true, false),
        (Restart::Temporary, false, false),
        (Restart::Temporary, true, false),
    ];
    for (restart, quit, restarted) in cases {
        let action = if quit {
            Action::Quit(2, 10)
        } else {
            Action::Crash(2, 10)
        };
        let (mut sim, _) = group_of_four(
            Strategy::OneForOne,
            restart,
            RestartBudget::default(),
            script(&[action]),
        );
        run(&mut sim);
        let expected: &[Event] = if restarted {
            &[Stop(2), Start(2)]
        } else {
            &[Stop(2)]
        };
        assert_eq!(
            after_boot(take_events()),
            expected,
            "{restart:?}, quit: {quit}"
        );
        let counters = sim.totals();
        assert_eq!(counters.crashed, u64::from(!quit));
        assert_eq!(counters.exited, u64::from(quit));
        assert_eq!(counters.restarts, u64::from(restarted));
    }
}

#[test]
fn budget_allows_r_restarts_in_the_window_and_escalates_on_r_plus_one() {
    let budget = RestartBudget::new(2, Duration::from_millis(1));
    // Two crashes within 1 ms: both restarted.
    let (mut sim, _) = group_of_four(
        Strategy::OneForOne,
        Restart::Permanent,
        budget,
        script(&[Action::Crash(0, 10), Action::Crash(0, 20)]),
    );
    run(&mut sim);
    assert_eq!(sim.totals().restarts, 2);
    assert_eq!(sim.totals().escalations, 0);
    assert!(!sim.is_quarantined(ShardId(0)));

    // Three within 1 ms: the third escalates; the nested group's parent (the shard's root
    // group) restarts it once, fresh.
    let (mut sim, _) = group_of_four(
        Strategy::OneForOne,
        Restart::Permanent,
        budget,
        script(&[
            Action::Crash(0, 10),
            Action::Crash(0, 20),
            Action::Crash(0, 30),
        ]),
    );
    run(&mut sim);
    let counters = sim.totals();
    assert_eq!(counters.escalations, 1);
    assert_eq!(
        counters.restarts, 3,
        "two by the group, one of the group by the root"
    );
    let events = after_boot(take_events());
    assert_eq!(
        events[events.len() - 8..],
        [
            Stop(0),
            Stop(3),
            Stop(2),
            Stop(1),
            Start(0),
            Start(1),
            Start(2),
            Start(3)
        ],
        "the escalated group is torn down and rebuilt in order: {events:?}"
    );

    // Three crashes spread wider than the window: no escalation.
    let (mut sim, _) = group_of_four(
        Strategy::OneForOne,
        Restart::Permanent,
        budget,
        script(&[
            Action::Crash(0, 10),
            Action::Crash(0, 700),
            Action::Crash(0, 1_400),
            Action::Crash(0, 2_100),
        ]),
    );
    run(&mut sim);
    assert_eq!(sim.totals().restarts, 4);
    assert_eq!(sim.totals().escalations, 0);
}

test_data!(Boom, CheckIn, Driver, Fire, Member, Poke, Quit, Action);
