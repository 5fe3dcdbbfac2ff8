//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod diagnostics;
mod dist;
mod lecture;
mod models;
mod nuts;
