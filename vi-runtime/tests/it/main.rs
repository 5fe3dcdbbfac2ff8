//! Integration tests of the runtime, one binary to save link time.

mod diagnostics;
mod models;
mod nuts;
