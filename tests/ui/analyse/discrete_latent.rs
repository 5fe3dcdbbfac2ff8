use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let k ~ Poisson(3.0);
        y ~ Normal(k, 1.0);
    }
}

fn main() {}
