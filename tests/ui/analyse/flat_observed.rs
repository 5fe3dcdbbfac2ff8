use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let h ~ Flat.iid(y.len());
        y ~ Flat;
        h ~ Poisson(3.0);
        y ~ Normal(h, 1.0);
    }
}

fn main() {}
