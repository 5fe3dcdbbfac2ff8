//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod diagnostics;
mod dist;
mod fast_rules;
mod laplace;
mod lecture;
mod matrix_rules;
mod models;
mod multivariate;
mod nuts;
mod psis;
mod special;
mod transforms;
mod vi;
