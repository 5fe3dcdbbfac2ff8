use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        for i in 0..y.len() {
            let z ~ Normal(0.0, 1.0);
            y[i] ~ Normal(z, 1.0);
        }
    }
}

fn main() {}
