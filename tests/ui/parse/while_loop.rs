use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        while true {
            y ~ Normal(mu, 1.0);
        }
    }
}

fn main() {}
