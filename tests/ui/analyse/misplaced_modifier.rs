use vi::prelude::*;

model! {
    fn m(y: &[f64], alpha: &[f64]) {
        let c ~ Normal(0.0, 5.0).ordered();
        let p ~ Beta(2.0, 2.0).lower(0.1);
        let theta ~ Dirichlet(alpha).upper(1.0);
        y ~ Normal(c + p, 1.0);
    }
}

fn main() {}
