use vi::prelude::*;

model! {
    /// Four independent mistakes, all reported at once.
    fn m(x: &[f64], y: &[f64]) {
        let mu ~ Nomral(0.0, 1.0);
        let k ~ Poisson(2.0);
        y ~ Normal(mu, 1.0, 2.0);
        x = 3.0;
    }
}

fn main() {
    // The stub the macro emits next to its errors: no follow-on errors here.
    let model = m(&[1.0], &[2.0]).unwrap();
    let _ = model.dim();
}
