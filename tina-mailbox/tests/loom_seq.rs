//! loom model tests of [`SeqCell`]: a reader racing the writer never accepts a torn copy.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release --test loom_seq`.
//! Each write stores the same value into every word, so a copy is consistent exactly when
//! all its words are equal; the models fail if either fence in `SeqCell` is removed.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tina_mailbox::SeqCell;

/// One writer publishes two versions while a reader copies: every copy the reader accepts
/// is one whole version (0, 1 or 2), never a mix.
#[test]
fn a_reader_never_accepts_a_torn_copy() {
    loom::model(|| {
        let cell = Arc::new(SeqCell::new(2));
        let writer = {
            let cell = cell.clone();
            thread::spawn(move || {
                for version in 1..=2u64 {
                    cell.write(|words| {
                        words.set(0, version);
                        words.set(1, version);
                    });
                }
            })
        };
        let mut copy = [0u64; 2];
        cell.read(&mut copy);
        assert_eq!(copy[0], copy[1], "a torn copy: {copy:?}");
        assert!(copy[0] <= 2);
        writer.join().unwrap();
        cell.read(&mut copy);
        assert_eq!(copy, [2, 2], "after the writer is joined, the last version");
        assert_eq!(cell.version(), 2);
    });
}

/// A reader copying twice while the writer publishes twice: both copies are whole, and the
/// second is never older than the first.
#[test]
fn versions_seen_by_a_reader_never_go_back() {
    loom::model(|| {
        let cell = Arc::new(SeqCell::new(2));
        let writer = {
            let cell = cell.clone();
            thread::spawn(move || {
                for version in 1..=2u64 {
                    cell.write(|words| {
                        words.set(0, version);
                        words.set(1, version);
                    });
                }
            })
        };
        let mut first = [0u64; 2];
        let mut second = [0u64; 2];
        cell.read(&mut first);
        cell.read(&mut second);
        assert_eq!(first[0], first[1], "a torn copy: {first:?}");
        assert_eq!(second[0], second[1], "a torn copy: {second:?}");
        assert!(second[0] >= first[0], "{first:?} then {second:?}");
        writer.join().unwrap();
    });
}
