use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        y ~ Normal(mu, 1.0);
        let mu ~ Normal(0.0, 1.0);
    }
}

fn main() {}
