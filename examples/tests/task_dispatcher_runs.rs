//! The README's demo runs and shows what it promises: crashes, restarts with check-ins,
//! stale sends, and a summary; with a tight budget, a quarantine and a revive.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_task_dispatcher"))
        .args(args)
        .output()
        .expect("the example starts");
    assert!(output.status.success(), "exit status {:?}", output.status);
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn crashes_restart_and_check_in() {
    let out = run(&["--seconds", "0.5", "--interval-micros", "1000"]);
    for expected in [
        "FAIL worker",
        "RECOVER worker",
        "STALE job",
        "summary:",
        "drained cleanly  true",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let crashes: u64 = value(&out, "  crashes");
    let restarts: u64 = value(&out, "  restarts");
    assert!(crashes > 0);
    assert_eq!(crashes, restarts, "every crash was restarted:\n{out}");
}

#[test]
fn tight_budget_quarantines_a_shard_and_revive_brings_it_back() {
    let out = run(&[
        "--seconds",
        "0.6",
        "--interval-micros",
        "1000",
        "--tight-budget",
        "--revive-after",
        "0.3",
    ]);
    for expected in ["SHARD DOWN job", "REVIVE shard 1", "summary:"] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(value::<u64>(&out, "  quarantines") >= 1);
    assert_eq!(value::<u64>(&out, "  revives"), 1);
    // Shard 0 kept working throughout.
    assert!(out.contains("shard 0:"));
}

fn value<T: std::str::FromStr>(out: &str, label: &str) -> T {
    out.lines()
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
}

#[test]
fn abort_policy_ends_the_process_instead_of_quarantining() {
    use std::os::unix::process::ExitStatusExt;

    let output = Command::new(env!("CARGO_BIN_EXE_task_dispatcher"))
        .args([
            "--seconds",
            "5",
            "--interval-micros",
            "1000",
            "--tight-budget",
            "--abort-on-overload",
        ])
        .output()
        .expect("the example starts");
    assert_eq!(
        output.status.signal(),
        Some(6),
        "SIGABRT expected, got {:?}",
        output.status
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("aborting the process by policy"),
        "{stderr}"
    );
}
