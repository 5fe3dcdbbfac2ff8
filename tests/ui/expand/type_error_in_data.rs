use vi::prelude::*;

model! {
    fn m(y: &[f64], n: usize) {
        let w ~ Normal(0.0, 1.0).iid(n);
        let label: f64 = "one";
        y ~ Normal(w, label);
    }
}

fn main() {}
