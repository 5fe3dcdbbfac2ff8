use vi::prelude::*;

model! {
    fn m(y: &[f64], k: &[i64], e: &DVector<f64>) {
        let a ~ Gamma(2.0, 1.0);
        target += CategoricalLogit(e * a).lcdf(1.0);
        target += Poisson(a).lpdf(k);
        target += Normal(a, 1.0).lpmf(y);
    }
}

fn main() {}
