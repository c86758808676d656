//! Graceful shutdown under load: every isolate's hook runs, the system drains before its
//! deadline and every thread is joined; an isolate that refuses to leave is torn down at the
//! deadline.

mod support;

use std::time::{Duration, Instant};

use tina_runtime::{BootSpec, Ctx, Effect, Handle, Isolate, ShardId, System};

/// Bounces a ball with its partner forever (until shutdown).
struct Bouncer {
    partner: Option<Handle<Bouncer>>,
    stubborn: bool,
}

struct Ball;
struct Partner(Handle<Bouncer>);

messages!(Bouncer => BouncerMessage { Ball(Ball), Partner(Partner) });

impl Isolate for Bouncer {
    type Message = BouncerMessage;
    type Args = bool;
    const MAILBOX: usize = 64;
    const NAME: &'static str = "Bouncer";

    fn init(stubborn: &bool, _ctx: &mut Ctx<Self>) -> Self {
        Bouncer {
            partner: None,
            stubborn: *stubborn,
        }
    }

    fn handle(&mut self, message: BouncerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            BouncerMessage::Partner(Partner(partner)) => {
                self.partner = Some(partner);
                for _ in 0..16 {
                    let _ = ctx.send(&partner, Ball);
                }
            }
            BouncerMessage::Ball(Ball) => {
                if let Some(partner) = self.partner {
                    // The partner may already have left during shutdown: that is fine.
                    let _ = ctx.send(&partner, Ball);
                }
            }
        }
        Effect::Receive
    }

    fn shutdown(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        if self.stubborn {
            Effect::Receive
        } else {
            Effect::Done
        }
    }
}

/// Introduces bouncers to each other across shards.
struct Matchmaker;

messages!(Matchmaker => MatchmakerMessage {});

impl Isolate for Matchmaker {
    type Message = MatchmakerMessage;
    type Args = [Handle<Bouncer>; 4];
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Matchmaker";

    fn init(bouncers: &[Handle<Bouncer>; 4], ctx: &mut Ctx<Self>) -> Self {
        for pair in bouncers.chunks(2) {
            ctx.send(&pair[0], Partner(pair[1])).unwrap();
            ctx.send(&pair[1], Partner(pair[0])).unwrap();
        }
        Matchmaker
    }

    fn handle(&mut self, message: MatchmakerMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {}
    }
}

fn spec(stubborn: bool) -> BootSpec {
    let mut spec = support::small_spec(2);
    spec.isolate::<Bouncer>(4).isolate::<Matchmaker>(1);
    let bouncers = [
        spec.root::<Bouncer>(ShardId(0), stubborn),
        spec.root::<Bouncer>(ShardId(1), stubborn),
        spec.root::<Bouncer>(ShardId(0), stubborn),
        spec.root::<Bouncer>(ShardId(0), stubborn),
    ];
    spec.root::<Matchmaker>(ShardId(1), bouncers);
    spec
}

#[test]
fn shutdown_under_load_drains_before_the_deadline() {
    let system = System::start(spec(false)).unwrap();
    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.dispatched
            > 100_000)
    );
    let started = Instant::now();
    let summary = system.shutdown(Duration::from_secs(5));
    let took = started.elapsed();
    assert!(summary.drained, "{summary:?}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert_eq!(
        summary.shards.len(),
        2,
        "every shard thread was joined and reported"
    );
    // Four bouncers and the matchmaker's hooks ran and they exited.
    assert_eq!(summary.total.exited, 5);
    assert_eq!(summary.total.live_isolates, 0);
}

#[test]
fn stubborn_isolates_are_torn_down_at_the_deadline() {
    let system = System::start(spec(true)).unwrap();
    assert!(system.wait_until(Duration::from_secs(10), |totals| totals.dispatched > 10_000));
    let started = Instant::now();
    let summary = system.shutdown(Duration::from_millis(300));
    let took = started.elapsed();
    assert!(!summary.drained);
    assert!(
        took >= Duration::from_millis(300),
        "waited for the deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "but not much longer: {took:?}"
    );
    assert_eq!(
        summary.total.exited, 1,
        "only the matchmaker left by itself"
    );
    assert_eq!(summary.total.live_isolates, 0, "the rest were torn down");
}

#[test]
fn sigterm_is_seen_by_wait_for_signal_and_shutdown_follows() {
    let system = System::start(spec(false)).unwrap();
    system.shutdown_on_signals().unwrap();
    assert!(
        !system.wait_for_signal(Duration::from_millis(20)),
        "no signal yet"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(
        system.wait_for_signal(Duration::from_secs(5)),
        "SIGTERM was caught, not fatal"
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(summary.drained);
}

test_data!(Ball, Bouncer, Matchmaker, Partner);
