use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let k ~ HalfNormal(3.0);
        let w ~ Normal(0.0, 1.0).iid(k);
        y ~ Normal(w, 1.0);
    }
}

fn main() {}
