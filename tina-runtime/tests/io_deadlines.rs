//! A socket wait whose deadline cannot be armed is never silent: when every timer slot is
//! pending, a write-progress deadline is not armed and `io_deadlines_unarmed` counts it;
//! `read_within` and `connect` refuse with `IoError::PoolExhausted`. With room, the same
//! scenario ends in `TimedOut { wait: Wait::Write }`. On the simulated network, from a seed.

use std::time::Duration;

use tina::Wait;
use tina::prelude::*;

/// Asks the hog to take every free timer slot (or, in the control run, none).
#[derive(Bounded)]
struct Fill(Handle<Client>);

/// The hog has done so.
#[derive(Bounded)]
struct Filled;

/// What the pusher did, reported to the client (the test reads it there).
#[derive(Bounded)]
struct Report {
    queued: usize,
    timed_out: bool,
}

/// A timer that never fires within the test.
#[derive(Bounded)]
struct Tick;

/// Takes timer slots on request, then reports how many it took.
#[isolate(mailbox = 4)]
struct Hog {
    fill: bool,
    taken: u32,
}

#[isolate]
impl Hog {
    fn init(fill: &bool, _ctx: &mut Ctx<Self>) -> Self {
        Hog {
            fill: *fill,
            taken: 0,
        }
    }

    fn fill(&mut self, Fill(client): Fill, ctx: &mut Ctx<Self>) -> Effect {
        while self.fill && ctx.after(Duration::from_secs(3600), Tick).is_ok() {
            self.taken += 1;
        }
        let _ = ctx.send(&client, Filled);
        Effect::Receive
    }

    fn tick(&mut self, _tick: Tick, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

/// Connects, has the hog fill the timers, then sends one byte and never reads.
#[isolate(mailbox = 4)]
struct Client {
    hog: Handle<Hog>,
    socket: Option<Socket>,
    /// What `read_within` said once the timers were full.
    read_within: Option<Result<(), IoError>>,
    /// The pusher's last report.
    queued: usize,
    timed_out: bool,
}

#[isolate]
impl Client {
    fn init(hog: &Handle<Hog>, ctx: &mut Ctx<Self>) -> Self {
        let server = ctx.listener_addr(0).expect("the listener");
        let socket = ctx.connect(server, Duration::from_secs(1)).ok();
        Client {
            hog: *hog,
            socket,
            read_within: None,
            queued: 0,
            timed_out: false,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        if let IoEvent::Connected { .. } = event {
            let _ = ctx.send(&self.hog, Fill(ctx.me()));
        }
        Effect::Receive
    }

    fn filled(&mut self, _filled: Filled, ctx: &mut Ctx<Self>) -> Effect {
        if let Some(socket) = self.socket {
            self.read_within = Some(ctx.read_within(socket, Duration::from_secs(1)));
            if let Ok(byte) = ctx.buffer_from(b"!") {
                let _ = ctx.write(socket, byte);
            }
        }
        Effect::Receive
    }

    fn report(&mut self, report: Report, _ctx: &mut Ctx<Self>) -> Effect {
        self.queued = report.queued;
        self.timed_out = report.timed_out;
        Effect::Receive
    }
}

/// On the client's byte, writes far more than the simulated window takes (64 KiB), with a
/// write-progress deadline of 50 ms.
#[isolate(mailbox = 4)]
struct Pusher {
    socket: Socket,
    queued: usize,
    timed_out: bool,
}

#[isolate]
impl Pusher {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.set_write_timeout(*socket, Duration::from_millis(50));
        let _ = ctx.read(*socket);
        Pusher {
            socket: *socket,
            queued: 0,
            timed_out: false,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { .. } => {
                for _ in 0..4 {
                    let Ok(mut block) = ctx.buffer(64 * 1024) else {
                        break;
                    };
                    let len = block.capacity();
                    block.spare_mut()[..len].fill(b'x');
                    block.set_len(len);
                    if ctx.write(self.socket, block).is_err() {
                        break;
                    }
                    self.queued += len;
                }
            }
            IoEvent::TimedOut {
                wait: Wait::Write, ..
            } => self.timed_out = true,
            _ => return Effect::Receive,
        }
        if let Some(client) = ctx.boot_handle::<Client>(ShardId(0), 0) {
            let _ = ctx.send(
                &client,
                Report {
                    queued: self.queued,
                    timed_out: self.timed_out,
                },
            );
        }
        Effect::Receive
    }
}

struct Outcome {
    unarmed: u64,
    queued: usize,
    timed_out: bool,
    taken: u32,
    read_within: Option<Result<(), IoError>>,
}

fn run(fill: bool, seed: u64) -> Outcome {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Hog>(1)
        .isolate::<Client>(1)
        .isolate::<Pusher>(2)
        .timer_slots(16)
        .buffer_class(64 * 1024, 16)
        .sockets(2)
        .print_crashes(false);
    spec.listen(Listen::tcp::<Pusher>("127.0.0.1:7000".parse().unwrap()));
    let hog = spec.root::<Hog>(ShardId(0), fill);
    let client = spec.root::<Client>(ShardId(0), hog);
    let mut sim = Simulation::new(spec, seed).expect("a valid spec");
    // Past the write deadline of 50 ms; the hog's timers stay pending for an hour.
    sim.run_until(Instant::from_nanos(2_000_000_000));
    let client = sim.state(client).expect("the client is alive");
    Outcome {
        unarmed: sim.totals().io_deadlines_unarmed,
        queued: client.queued,
        timed_out: client.timed_out,
        taken: sim.state(hog).expect("the hog").taken,
        read_within: client.read_within,
    }
}

#[test]
fn with_every_timer_taken_the_write_deadline_is_counted_as_unarmed() {
    for seed in 0..4 {
        let full = run(true, seed);
        assert!(full.taken > 0, "seed {seed}: the hog took the free slots");
        assert!(full.queued > 64 * 1024, "seed {seed}: more than the window");
        assert!(
            full.unarmed >= 1,
            "seed {seed}: the unarmed deadline is counted"
        );
        assert!(!full.timed_out, "seed {seed}: no deadline, no timeout");
        assert_eq!(
            full.read_within,
            Some(Err(IoError::PoolExhausted)),
            "seed {seed}: read_within refuses without a timer slot"
        );
    }
}

#[test]
fn with_room_the_same_write_times_out() {
    for seed in 0..4 {
        let room = run(false, seed);
        assert_eq!(room.taken, 0);
        assert!(room.queued > 64 * 1024, "seed {seed}: more than the window");
        assert_eq!(room.unarmed, 0, "seed {seed}");
        assert!(
            room.timed_out,
            "seed {seed}: the write-progress deadline fired"
        );
        assert_eq!(room.read_within, Some(Ok(())), "seed {seed}");
    }
}
