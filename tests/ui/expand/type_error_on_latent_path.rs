use vi::prelude::*;

model! {
    fn m(y: &[f64], labels: &[String]) {
        let w ~ Normal(0.0, 1.0);
        y ~ Normal(w * labels, 1.0);
    }
}

fn main() {}
