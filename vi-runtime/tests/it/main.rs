//! Integration tests of the runtime, one binary to save link time.

mod laplace;
mod models;
mod psis;
mod vi;
