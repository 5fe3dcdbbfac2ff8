//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod diagnostics;
mod lecture;
mod models;
mod nuts;
