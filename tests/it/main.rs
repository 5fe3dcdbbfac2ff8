//! Integration tests, one binary to save link time.

mod data_checks;
mod draws_output;
mod engines;
mod examples;
mod helpers;
mod layout;
mod loop_lengths;
mod macro_constructs;
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
mod macro_vocab_latents;
mod minibatch;
mod nuts_default;
mod suff_stats;
mod threads;
mod vi_realistic;
