use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let m0 ~ HalfNormal(1.0);
        let x ~ Pareto(m0, 2.0);
        y ~ Normal(x, 1.0);
    }
}

fn main() {}
