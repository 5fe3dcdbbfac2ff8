//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod csv;
mod data;
mod diagnostics;
mod dist;
mod fast_rules;
mod guard;
mod laplace;
mod laplace_hard;
mod layout_constrain;
mod lecture;
mod matrix_rules;
mod matrix_vocab3;
mod models;
mod multivariate;
mod nuts;
mod nuts_adapt;
mod psis;
mod simd;
mod special;
mod stats;
mod transforms;
mod vi;
mod vi_deterministic;
mod wishart;
