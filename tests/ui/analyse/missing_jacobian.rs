// The missing-Jacobian warning, made an error here so that trybuild shows it.
#![deny(deprecated)]

use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let sigma ~ Flat;
        let h ~ Normal(0.0, 1.0).iid(y.len());
        sigma.exp() ~ HalfNormal(1.0);
        h[0] - h[1] ~ Normal(0.0, 0.1);
        y ~ Normal(h, sigma.exp());
    }
}

fn main() {}
