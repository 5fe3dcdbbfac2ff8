use vi::prelude::*;

model! {
    fn scale(x: f64, s: f64) -> f64 {
        x * s
    }

    fn total(x: &[f64], w: f64) -> f64 {
        let mut acc = 0.0;
        for i in 0..x.len() {
            acc += scale(x[i]) * w;
            if acc > 1.0 {
                acc = acc * 0.5;
            }
        }
        acc + softmax_of(w)
    }

    fn m(x: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        target += total(x, mu);
        target += total(x, 2.0);
    }
}

fn main() {}
