//! The load generator allocates nothing per round trip: a run three times as long, with
//! thousands more round trips, allocates no more than a short one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tina_examples::loadgen::{self, Config, Pacing};

/// Counts every allocation of the process.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees hold unchanged; counting touches only an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which `System` needs.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A blocking echo server on its own threads; the connection threads echo through a buffer
/// on their stack, so they allocate nothing per message either.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut buffer = [0u8; 4096];
                while let Ok(count @ 1..) = stream.read(&mut buffer) {
                    if stream.write_all(&buffer[..count]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// Round trips and allocations of one closed-loop run lasting `duration`.
fn measure(address: SocketAddr, duration: Duration) -> (u64, u64) {
    let config = Config {
        connections: 4,
        threads: 1,
        duration,
        warm_up: Duration::ZERO,
        pacing: Pacing::Closed,
        ..Config::new(address)
    };
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let report = loadgen::run(&config).expect("run");
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(report.is_clean(), "{report}");
    (report.round_trips, allocations)
}

#[test]
fn a_round_trip_allocates_nothing() {
    let address = echo_server();
    // Warms up the server's threads and the allocator's caches.
    measure(address, Duration::from_millis(50));
    let (short_trips, short_allocations) = measure(address, Duration::from_millis(100));
    let (long_trips, long_allocations) = measure(address, Duration::from_millis(300));
    assert!(
        long_trips > short_trips + 1_000,
        "too few round trips to tell: {short_trips} then {long_trips}"
    );
    // Setting up a run allocates the same each time (threads, poll, buffers, histogram),
    // give or take what the server's four new connection threads take.
    assert!(
        long_allocations <= short_allocations + 16,
        "{short_allocations} allocations for {short_trips} round trips, \
         {long_allocations} for {long_trips}"
    );
}
