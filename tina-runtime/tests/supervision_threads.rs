//! Supervision on real threads: a crashing isolate exhausts its shard's budget and the shard
//! is quarantined while the other keeps dispatching; SIGUSR2 revives it.

mod support;

use core::time::Duration;

use tina_runtime::{
    BootSpec, Ctx, Effect, Handle, Isolate, Restart, RestartBudget, ShardId, System,
};

/// Crashes on `Boom`, counts `Poke`s; checks in from `init`.
struct Fragile;

struct Boom;
struct Poke;

messages!(Fragile => FragileMessage { Boom(Boom), Poke(Poke) });

impl Isolate for Fragile {
    type Message = FragileMessage;
    type Args = Handle<Prodder>;
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Fragile";

    fn init(prodder: &Handle<Prodder>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        let _ = ctx.send(prodder, CheckIn(me));
        Fragile
    }

    fn handle(&mut self, message: FragileMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            FragileMessage::Boom(Boom) => Effect::Crash("boom"),
            FragileMessage::Poke(Poke) => Effect::Receive,
        }
    }
}

/// Bombs each new incarnation of the fragile isolate when it checks in (twice), and pokes
/// the current one every 200 µs.
struct Prodder {
    target: Handle<Fragile>,
    booms: u32,
}

struct Tick;
struct CheckIn(Handle<Fragile>);

messages!(Prodder => ProdderMessage { Tick(Tick), CheckIn(CheckIn) });

impl Isolate for Prodder {
    type Message = ProdderMessage;
    type Args = Handle<Fragile>;
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Prodder";

    fn init(target: &Handle<Fragile>, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(200), Tick).unwrap();
        Prodder {
            target: *target,
            booms: 0,
        }
    }

    fn handle(&mut self, message: ProdderMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            ProdderMessage::CheckIn(CheckIn(handle)) => {
                self.target = handle;
                if self.booms < 2 {
                    self.booms += 1;
                    // Cross-shard: accepted into the ring (staleness is judged on arrival).
                    ctx.send(&self.target, Boom).unwrap();
                }
            }
            ProdderMessage::Tick(Tick) => {
                // Refused with ShardDown at once while shard 1 is quarantined.
                let _ = ctx.send(&self.target, Poke);
                ctx.after(Duration::from_micros(200), Tick).unwrap();
            }
        }
        Effect::Receive
    }
}

#[test]
fn quarantine_on_threads_and_sigusr2_revives() {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(false).pin_threads(false);
    spec.isolate::<Fragile>(1).isolate::<Prodder>(1);
    let prodder = spec.next_root::<Prodder>(ShardId(0)).unwrap();
    let root = spec.supervisor(ShardId(1));
    spec.budget(root, RestartBudget::new(1, Duration::from_secs(60)));
    let fragile = spec.child::<Fragile>(root, Restart::Permanent, prodder);
    assert_eq!(spec.root::<Prodder>(ShardId(0), fragile), prodder);
    let system = System::start(spec).unwrap();
    system.shutdown_on_signals().unwrap();

    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.quarantines == 1),
        "{:?}",
        system.totals()
    );
    let down = system.counters(ShardId(1));
    assert_eq!(
        down.crashed, 2,
        "one restart allowed, the second crash quarantines"
    );
    assert_eq!(down.live_isolates, 0);
    // Shard 0 keeps working and is told ShardDown.
    let before = system.counters(ShardId(0)).dispatched;
    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.refused_shard_down
            >= 3)
    );
    assert!(system.wait_until(
        Duration::from_secs(10),
        |_| system.counters(ShardId(0)).dispatched > before + 3
    ));

    let status = std::process::Command::new("kill")
        .args(["-USR2", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(system.wait_until(Duration::from_secs(10), |totals| totals.revives == 1));
    assert!(
        system.wait_until(Duration::from_secs(10), |_| {
            let shard = system.counters(ShardId(1));
            shard.live_isolates == 1 && shard.dispatched > down.dispatched + 3
        }),
        "the revived shard serves pokes again: {:?}",
        system.counters(ShardId(1))
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(summary.drained);
    assert_eq!(summary.crash_reports.len(), 2);
    assert!(
        summary
            .crash_reports
            .iter()
            .all(|report| report.reason.as_str() == "boom")
    );
}

test_data!(Boom, CheckIn, Fragile, Poke, Prodder, Tick);
