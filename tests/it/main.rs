//! Integration tests, one binary to save link time.

mod examples;
mod layout;
