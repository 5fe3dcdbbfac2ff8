//! Integration tests of the runtime, one binary to save link time.

mod ad;
mod dist;
mod lecture;
mod models;
