//! Every compile-time rejection of `#[isolate]` and the derives, and the passing cases.
//!
//! `fail/<category>/<case>.rs` must fail to compile with exactly the errors in the `.stderr`
//! next to it; `pass/*.rs` must compile and run. Regenerate the snapshots after an intended
//! change with `TRYBUILD=overwrite cargo test -p tina-ui-tests`, then read every `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*/*.rs");
    cases.pass("pass/*.rs");
}
