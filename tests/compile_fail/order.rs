//! Compile-time checks of the pipeline order (section 2 of the design).
//!
//! `ui/order`: every wrongly ordered pair of the six stages, and a stage given twice, must fail
//! with the order message; the `.stderr` files pin the message. `ui/pass`: the orders the
//! contract allows must compile. Regenerate snapshots with `TRYBUILD=overwrite`.

#[test]
fn pipeline_order_is_checked_at_compile_time() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/order/*.rs");
    cases.pass("ui/pass/*.rs");
}
