use vi::prelude::*;

model! {
    fn hinge(x: f64, knot: f64, slope: f64) -> f64 {
        let d = x - knot;
        if d > 0.0 {
            slope * d
        } else {
            0.0
        }
    }

    fn smooth(v: DVector<f64>, s: f64) -> DVector<f64> {
        v * s
    }

    fn early(x: f64) -> f64 {
        if x > 0.0 {
            return x;
        }
        x * 2.0
    }

    fn half(x: f64) -> f64 {
        if x > 0.0 {
            x
        }
    }

    fn pair(x: f64) -> (f64, f64) {
        if x > 0.0 {
            (x, 1.0)
        } else {
            (1.0, x)
        }
    }

    fn m(x: &[f64], y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        // A vector where a scalar is declared, and the other way round.
        y ~ Normal(hinge(x, 100.0, mu), 1.0);
        y ~ Normal(hinge(x[0], v, mu), 1.0);
        target += sum(smooth(mu, 2.0));
        // A body with statements inside a closure.
        let s: Vec<f64> = x.iter().map(|xi| hinge(*xi, 100.0, 1.0)).collect();
        target += early(mu) + half(mu) + mu * s[0];
    }
}

fn main() {}
