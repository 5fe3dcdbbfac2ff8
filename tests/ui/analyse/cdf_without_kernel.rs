use vi::prelude::*;

model! {
    fn m(y: &[f64], k: &[i64]) {
        let a ~ Gamma(2.0, 1.0);
        target += Beta(a, 2.0).lcdf(0.5);
        target += Poisson(a).lpdf(k);
        target += Normal(a, 1.0).lpmf(y);
    }
}

fn main() {}
