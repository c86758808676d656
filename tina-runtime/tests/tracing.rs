//! With the `tracing` feature, a `tracing-subscriber` user sees a span per dispatch (shard,
//! type, slot, message tag) and events for refusals, crashes and restarts — no code of
//! theirs changed. Run with `cargo test -p tina-runtime --features tracing --test tracing`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tina::prelude::*;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Bounded)]
struct Work(u32);

#[derive(Bounded)]
struct Boom;

#[isolate(mailbox = 2)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn work(&mut self, work: Work, _ctx: &mut Ctx<Self>) -> Effect {
        assert!(work.0 < 2, "the third message was refused");
        Effect::Receive
    }

    fn boom(&mut self, _boom: Boom, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("told to crash")
    }
}

/// Sends three messages to a sink with a mailbox of two (one refused), then a crash order.
#[isolate(mailbox = 2)]
struct Driver;

#[isolate]
impl Driver {
    fn init(sink: &Handle<Sink>, ctx: &mut Ctx<Self>) -> Self {
        for value in 0..3 {
            let _ = ctx.send(sink, Work(value));
        }
        Driver
    }
}

/// Collects what the fmt layer writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn a_subscriber_sees_dispatch_spans_and_lifecycle_events() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut spec = BootSpec::new(1);
        spec.print_crashes(false);
        spec.isolate::<Sink>(1).isolate::<Driver>(1);
        let sink = spec.root::<Sink>(ShardId(0), ());
        spec.root::<Driver>(ShardId(0), sink);
        let mut sim = Simulation::new(spec, 1).unwrap();
        sim.run(100);
        sim.send(&sink, Boom).unwrap();
        sim.run(100);
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let has = |needle: &str| {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    };
    // Inits, then the two accepted messages, each in a span of its own.
    has("dispatch{shard=0 type=\"Sink\" slot=0 input=\"init\"}");
    has("dispatch{shard=0 type=\"Sink\" slot=0 tag=0 batched=1}");
    has("send refused");
    has("reason=MailboxFull");
    has("isolate crashed");
    has("type=\"Sink\"");
    has("restarting after an exit");
    let spans = text.matches("dispatch{").count();
    assert!(spans >= 5, "{spans} dispatch spans in:\n{text}");
}
