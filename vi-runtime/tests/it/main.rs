//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod lecture;
mod models;
