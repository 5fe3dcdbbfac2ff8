use vi::prelude::*;

model! {
    fn pull(prev: f64, mu: f64) -> f64 {
        let dev = prev - mu;
        mu + 0.5 * dev
    }

    fn m(y: &[f64], regime: &[usize]) {
        let mu ~ Normal(0.0, 1.0);
        // A `match` on a latent: refused like an `if` on one.
        let a = match mu > 0.0 {
            true => pull(y[0], mu),
            false => mu,
        };
        // No arm takes the values the others do not.
        let b = match regime[1] {
            0 => mu,
            1 => pull(y[0], mu),
        };
        // A pattern that is not a comparison.
        let c = match (regime[0], regime[1]) {
            (0, _) => mu,
            _ => pull(y[1], mu),
        };
        // Without a user function, a `match` on a latent's path is refused at its value.
        let d = match regime[0] {
            0 => mu,
            _ => 2.0 * mu,
        };
        target += a + b + c + d;
    }
}

fn main() {}
