use vi::prelude::*;

model! {
    fn m(x: &[f64], y: f64) {
        let mu ~ Normal(0.0, 1.0);
        let w ~ Normal(0.0, 1.0).iid(3);
        // Stan's `dot_product` of a real: a scalar latent, then a scalar argument.
        let a = mu.dot(x);
        let b = w.dot(y);
        // `dot_self` of a scalar.
        let c = (2.0 * mu).dot_self();
        target += a + b + c;
    }
}

fn main() {}
