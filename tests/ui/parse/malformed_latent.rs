use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let ~ Normal(0.0, 1.0);
        y ~ Normal(0.0, 1.0);
    }
}

fn main() {}
