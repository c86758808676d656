//! Compiles and runs every Rust block of the Tina book.
//!
//! The book itself is the Markdown next to this file: the chapters in `book/src/`, listed
//! in `book/src/SUMMARY.md` and rendered with `mdbook build book` (into `book/book/`, which
//! git ignores). `mdbook test` cannot link the workspace crates reliably, so this
//! unpublished crate does the testing instead: every chapter, and the workspace
//! `README.md`, is attached with `#[doc = include_str!(…)]` as the documentation of an
//! empty module that exists only under `cfg(doctest)`. Rustdoc then treats each Rust block
//! as a doctest compiled against the workspace's `tina`, so `cargo test -p tina-book` (and
//! `cargo test --workspace`) compiles every block and runs the runnable ones.
//!
//! How the blocks are fenced:
//!
//! * `rust`: compiled and run. A full example has a `fn main` that runs a small
//!   `Simulation` (or `System`) and asserts on real state (`sim.state(handle)`) or
//!   counters (`sim.totals()`). Lines starting with `# ` are compiled but hidden in the
//!   book, for boilerplate repeated from an earlier block.
//! * `rust,compile_fail` (with the error code where the error has one): must *not*
//!   compile — the designs Tina rejects. The expected message is shown in a `text` block
//!   after it, copied from the `ui-tests/fail/` snapshot that pins it.
//! * `rust,no_run`: compiled only, for a `main` that waits for a signal.
//! * `rust,ignore`: only for blocks whose whole content is an mdBook
//!   `{{#include path:anchor}}` of a real source file (the examples), which cargo compiles
//!   on its own; the include names an `// ANCHOR:` in that file, never line numbers.
//!
//! Doctests deny warnings (dead code aside: examples define more than they use), so a
//! block that silently drops a `#[must_use]` send result fails. The unit tests below check
//! that every chapter in `SUMMARY.md` is included here and that every `{{#include}}`
//! names an existing file and anchor, so a broken book fails `cargo test` even where
//! mdBook is not installed.
#![doc(test(attr(deny(warnings), allow(dead_code))))]
#![forbid(unsafe_code)]

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

#[cfg(doctest)]
#[doc = include_str!("ch01-why-tina.md")]
mod chapter_01 {}

#[cfg(doctest)]
#[doc = include_str!("ch02-getting-started.md")]
mod chapter_02 {}

#[cfg(doctest)]
#[doc = include_str!("ch03-isolates-and-effects.md")]
mod chapter_03 {}

#[cfg(doctest)]
#[doc = include_str!("ch04-messages-and-backpressure.md")]
mod chapter_04 {}

#[cfg(doctest)]
#[doc = include_str!("ch05-calls-replies-timers.md")]
mod chapter_05 {}

#[cfg(doctest)]
#[doc = include_str!("ch06-shards-and-placement.md")]
mod chapter_06 {}

#[cfg(doctest)]
#[doc = include_str!("ch07-supervision.md")]
mod chapter_07 {}

#[cfg(doctest)]
#[doc = include_str!("ch08-serving-tcp.md")]
mod chapter_08 {}

#[cfg(doctest)]
#[doc = include_str!("ch09-kv-case-study.md")]
mod chapter_09 {}

#[cfg(doctest)]
#[doc = include_str!("ch10-deterministic-simulation.md")]
mod chapter_10 {}

#[cfg(doctest)]
#[doc = include_str!("ch11-sizing-the-boot-spec.md")]
mod chapter_11 {}

#[cfg(doctest)]
#[doc = include_str!("ch12-what-the-compiler-rejects.md")]
mod chapter_12 {}

#[cfg(doctest)]
#[doc = include_str!("ch13-running-in-production.md")]
mod chapter_13 {}

#[cfg(doctest)]
#[doc = include_str!("ch14-seeing-inside.md")]
mod chapter_14 {}

#[cfg(doctest)]
#[doc = include_str!("ch15-coming-from-elsewhere.md")]
mod chapter_15 {}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    fn book_source() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// The chapter files `SUMMARY.md` links to, in order.
    fn chapters() -> Vec<String> {
        let summary = read(&book_source().join("SUMMARY.md"));
        summary
            .lines()
            .filter_map(|line| line.split_once("](")?.1.split_once(')'))
            .map(|(file, _)| file.to_owned())
            .collect()
    }

    #[test]
    fn every_chapter_is_compiled() {
        let lib = read(&book_source().join("lib.rs"));
        let chapters = chapters();
        assert!(chapters.len() >= 9, "SUMMARY.md parsed: {chapters:?}");
        let included_chapters = lib.matches("#[doc = include_str!(\"ch").count();
        assert_eq!(
            included_chapters,
            chapters.len(),
            "lib.rs includes a chapter SUMMARY.md does not list"
        );
        for chapter in &chapters {
            assert!(
                book_source().join(chapter).is_file(),
                "{chapter} is missing"
            );
            let included = format!("#[doc = include_str!(\"{chapter}\")]");
            assert!(
                lib.contains(&included),
                "{chapter} is not included in lib.rs"
            );
        }
    }

    #[test]
    fn every_include_resolves() {
        let mut includes = 0;
        for chapter in chapters() {
            let text = read(&book_source().join(&chapter));
            for directive in text.split("{{#include ").skip(1) {
                let target = directive.split_once("}}").expect("a closed directive").0;
                let (path, anchor) = match target.rsplit_once(':') {
                    Some((path, anchor)) => (path, Some(anchor)),
                    None => (target, None),
                };
                let file = read(&book_source().join(path));
                if let Some(anchor) = anchor {
                    assert!(
                        anchor.parse::<usize>().is_err(),
                        "{chapter}: include {target} by line number; use an anchor"
                    );
                    for marker in [
                        format!("ANCHOR: {anchor}\n"),
                        format!("ANCHOR_END: {anchor}\n"),
                    ] {
                        assert!(
                            file.contains(&marker),
                            "{chapter}: {path} has no `{marker}`"
                        );
                    }
                }
                includes += 1;
            }
        }
        assert!(
            includes >= 6,
            "the includes of the task dispatcher are found"
        );
    }
}
