//! Integration tests, one binary to save link time.

mod examples;
mod layout;
mod macro_models;
mod macro_simulate;
mod macro_validation;
mod support;
