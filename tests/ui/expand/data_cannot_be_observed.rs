use vi::prelude::*;

model! {
    fn m(y: &[f64], labels: &[String], scale: &str) {
        let w ~ Normal(0.0, 1.0);
        labels ~ Normal(w, 1.0);
        y ~ Normal(w, scale.trim());
    }
}

fn main() {}
