//! The README's main demo runs and shows what it promises: echo round trips under load with
//! no byte wrong, a chaos client crashing and restarted; with a tight budget, shard 1
//! quarantined while shard 0 keeps serving.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tcp_echo"))
        .args(args)
        .output()
        .expect("the example starts");
    assert!(output.status.success(), "exit status {:?}", output.status);
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The value column of the table row `| label | value |`.
fn cell<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|line| line.strip_prefix(&format!("| {label} | ")))
        .and_then(|rest| rest.strip_suffix(" |"))
        .unwrap_or_else(|| panic!("no {label:?} row in:\n{out}"))
}

fn number(out: &str, label: &str) -> u64 {
    cell(out, label)
        .parse()
        .unwrap_or_else(|_| panic!("{label:?} is not a number in:\n{out}"))
}

#[test]
fn echoes_under_load_while_the_chaos_client_crashes_and_restarts() {
    let out = run(&["--seconds", "1.5", "--connections", "16", "--quiet"]);
    assert!(number(&out, "round trips (measured)") > 1000, "{out}");
    assert_eq!(
        cell(&out, "generator errors (resets, EOFs, mismatches)"),
        "0 / 0 / 0",
        "{out}"
    );
    assert_eq!(
        cell(&out, "generator connections (opened / failed)"),
        "16 / 0"
    );
    let crashes = number(&out, "crashes");
    assert!(crashes >= 2, "the chaos client crashed: {out}");
    // The last crash may come after the last restart was due.
    assert!(number(&out, "restarts") + 1 >= crashes, "{out}");
    assert_eq!(number(&out, "quarantines"), 0);
}

#[test]
fn tight_budget_quarantines_shard_1_while_shard_0_keeps_serving() {
    let out = run(&[
        "--seconds",
        "1.5",
        "--connections",
        "16",
        "--tight-budget",
        "--quiet",
    ]);
    assert!(out.contains("shard 1: Quarantined"), "{out}");
    assert_eq!(number(&out, "quarantines"), 1, "{out}");
    // Shard 0's connections kept their round trips.
    assert!(number(&out, "round trips (measured)") > 500, "{out}");
}
