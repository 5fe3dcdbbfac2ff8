use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let w ~ Beta(2.0, 2.0);
        target += log_mix(w, a);
        target += log_sum_exp(a, a, a);
        target += lchoose(a);
    }
}

fn main() {}
