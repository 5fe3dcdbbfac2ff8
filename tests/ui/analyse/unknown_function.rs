use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        target += log_sum_ex(v);
        y ~ Normal(lgama(mu.exp()), 1.0);
    }
}

fn main() {}
