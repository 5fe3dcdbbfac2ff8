use vi::prelude::*;

model! {
    fn m(k: usize, y: &[f64]) {
        let c ~ Normal(0.0, 5.0).iid(k).ordred();
        y ~ Normal(c[0], 1.0);
    }
}

fn main() {}
