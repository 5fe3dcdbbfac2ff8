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
mod lecture;
mod models;
mod nuts;
mod nuts_adapt;
mod psis;
mod special;
mod vi;
mod vi_deterministic;
