//! Data sets embedded for the tests (tests never read /work/shared at run time).

pub mod diamonds;
pub mod kilpisjarvi;
