use vi::prelude::*;

model! {
    fn level(x: &[f64]) -> f64 {
        let s = sum(x);
        s / 2.0
    }

    fn scale(v: DVector<f64>, k: f64) -> DVector<f64> {
        v * k
    }

    fn m(x: &[f64], y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        // `a` holds `level`'s scalar: used as a vector, and indexed.
        let a = level(x);
        let b = scale(a, mu);
        let c: DVector<f64> = level(x);
        target += a[0] + sum(b) + sum(c);
        // A call in a branch needs a value whose shape the macro can tell.
        let d = if x.len() > 1 { y.first_value() } else { y.last_value() + level(y) };
        target += d * mu;
    }
}

fn main() {}
