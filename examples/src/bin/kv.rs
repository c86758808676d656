//! PLACEHOLDER: replaced by the real server at merge.
//!
//! Stands in for the Redis-compatible `kv` server only so that `tests/kv_differential.rs`
//! compiles (`env!("CARGO_BIN_EXE_kv")` needs this bin target). It serves nothing.

// PLACEHOLDER: replaced by the real server at merge

fn main() {
    eprintln!("kv: PLACEHOLDER binary, the real server is not merged yet");
    std::process::exit(2);
}
