use vi::prelude::*;

model! {
    fn m(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        #[keep]
        let n = y.len() as f64;
        #[keep]
        let mut s = mu * 2.0;
        #[keep]
        let mu = mu + 1.0;
        for i in 0..y.len() {
            #[keep]
            let z = mu * y[i];
            y[i] ~ Normal(z, 1.0);
        }
        s += n;
        y ~ Normal(s, 1.0);
    }
}

fn main() {}
