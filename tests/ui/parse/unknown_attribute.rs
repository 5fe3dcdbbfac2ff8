use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        #[inline]
        let z = mu * 2.0;
        #[keep]
        y ~ Normal(z, 1.0);
    }
}

fn main() {}
