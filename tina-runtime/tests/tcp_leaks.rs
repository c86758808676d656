//! A crash closes the connection's socket and frees its buffers (issue 14): open
//! descriptors and pool counters are the same before and after 1,000 crashing connections.
//! Alone in its binary: `/proc/self/fd` counts the whole process, and tests in one binary
//! run in parallel.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tina::prelude::*;

/// Crashes on its first read, holding the bytes it got and a queued write.
#[isolate(mailbox = 4)]
struct Fragile {
    socket: Socket,
    kept: Option<Buffer>,
}

#[isolate]
impl Fragile {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.read(*socket);
        Fragile {
            socket: *socket,
            kept: None,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { data, .. } => {
                self.kept = Some(data);
                let _ = ctx.write_bytes(self.socket, b"last words that may never leave");
                if self.kept.as_ref().is_some_and(|data| data[0] == b'p') {
                    panic!("told to panic");
                }
                Effect::Crash("told to crash")
            }
            _ => Effect::Done,
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_thousand_crashing_connections_leak_no_descriptor_and_no_buffer() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Fragile>(32)
        .buffer_class(4096, 64)
        .print_crashes(false)
        .pin_threads(false);
    let listener = spec.listen(Listen::tcp::<Fragile>("127.0.0.1:0".parse().unwrap()));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    let buffers_before = system.buffer_stats(ShardId(0));
    let fds_before = open_fds();
    for round in 0..1000 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Every tenth crashes by panic, the others with Effect::Crash.
        let first = if round % 10 == 0 { b'p' } else { b'c' };
        stream.write_all(&[first, 1, 2, 3]).unwrap();
        let mut sink = [0u8; 64];
        loop {
            match stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    // The server side closes in teardown; give the shard a moment to finish the last one.
    let started = Instant::now();
    loop {
        let totals = system.totals();
        if totals.crashed == 1000 && totals.io_closed_in_teardown == 1000 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{totals:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(open_fds(), fds_before, "descriptors leaked");
    let buffers_after = system.buffer_stats(ShardId(0));
    assert_eq!(buffers_after, buffers_before, "buffers leaked");
    assert_eq!(buffers_after[0].taken, 0);
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.crashed, 1000);
    assert_eq!(summary.total.connections_accepted, 1000);
}
