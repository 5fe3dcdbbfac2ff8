use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let x ~ Pareto(1.0, 2.0);
        y ~ Normal(x, 1.0);
    }
}

fn main() {}
