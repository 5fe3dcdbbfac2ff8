use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let n ~ HalfNormal(3.0);
        for i in 0..n {
            y[i] ~ Normal(0.0, 1.0);
        }
    }
}

fn main() {}
