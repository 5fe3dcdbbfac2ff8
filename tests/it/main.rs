//! Integration tests, one binary to save link time.

// The shared helpers were `support.rs` (a name that clashed with a distribution's `Support`);
// test files written before the rename, on branches not yet merged, still say
// `crate::support`. Remove once none does.
#[allow(unused_imports)]
use helpers as support;

mod engines;
mod examples;
mod helpers;
mod layout;
mod macro_coverage;
mod macro_data;
mod macro_hoist;
mod macro_inplace;
mod macro_models;
mod macro_scalar;
mod macro_simulate;
mod macro_validation;
mod macro_vectorise;
mod macro_vocab_fns;
mod nuts_default;
mod vi_realistic;
