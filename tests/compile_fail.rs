//! Compile-fail cases of `model!`: each mistake is reported under the user's token, in the
//! model's words. The `.stderr` files were made with rustc 1.95 stable; other compilers word
//! their own errors differently, so the test runs on that toolchain only (as clap does).

#[rustversion::attr(not(stable(1.95)), ignore)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
