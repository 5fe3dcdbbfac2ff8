use vi::prelude::*;

model! {
    fn step(x: f64, at: f64) -> f64 {
        let d = x - at;
        d.floor() + if d > 0.0 { 1.0 } else { 0.0 }
    }

    fn m(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        y ~ Normal(step(mu, 2.0), 1.0);
        y ~ Normal(step(mu), 1.0);
    }
}

fn main() {}
