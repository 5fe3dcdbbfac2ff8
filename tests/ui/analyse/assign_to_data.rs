use vi::prelude::*;

model! {
    fn m(y: &[f64], scale: f64) {
        let mu ~ Normal(0.0, 1.0);
        scale = 2.0;
        y ~ Normal(mu, scale);
    }
}

fn main() {}
