//! Inference engines and their one result type.

mod advi;
pub mod convergence;
pub mod csv;
mod dadvi;
mod derived;
pub mod diagnostics;
pub mod guard;
pub mod init;
pub mod laplace;
mod lbfgs;
pub(crate) mod minibatch;
mod mode;
pub mod nuts;
pub mod posterior;
pub mod predictive;
pub mod psis;
pub mod summary;
pub mod vi;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random number generator every engine uses: portable and reproducible, so the same
/// seed gives the same draws on every machine.
pub type Rng = Xoshiro256PlusPlus;

/// The generator for stream `stream` (a chain, a worker) of seed `seed`: streams are
/// independent of each other and of how many threads run them.
pub fn rng_for(seed: u64, stream: u64) -> Rng {
    let mut r = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..stream {
        r.long_jump();
    }
    r
}
