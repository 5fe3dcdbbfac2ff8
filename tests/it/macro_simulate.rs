//! `simulate`: replicate draws of every observation at given (constrained) parameter values.

use nalgebra::DVector;
use rand::SeedableRng;
use vi::prelude::*;

model! {
    fn regression(x: &[f64], y: &DVector<f64>, flags: &[bool]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.len() {
            y[i] ~ Normal(a + b * x[i], sigma);
        }
        flags ~ BernoulliLogit(a * 0.0 + 20.0 * b);
    }
}

#[test]
fn replicates_have_the_data_shape_and_the_right_moments() {
    let n = 4000;
    let x: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let y = DVector::zeros(n);
    let flags = vec![true; 10];
    let m = regression(&x, &y, &flags).unwrap();
    // a = 1, b = 2, sigma = 0.5: y ~ Normal(3, 0.5) at x = 1 and Normal(-1, 0.5) at x = -1.
    let params = [1.0, 2.0, 0.5];
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let sims = m.simulate(&params, &mut rng);
    assert_eq!(sims.len(), 2);
    assert_eq!(sims[0].0, "y[i]");
    assert_eq!(sims[0].1.len(), n);
    assert_eq!(sims[1].0, "flags");
    assert_eq!(sims[1].1.len(), 10);
    // logit 40: every flag is 1 (probability 1 - 4e-18 each).
    assert!(sims[1].1.iter().all(|&v| v == 1.0));
    let even: Vec<f64> = sims[0].1.iter().step_by(2).copied().collect();
    let mean = even.iter().sum::<f64>() / even.len() as f64;
    let sd =
        (even.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (even.len() - 1) as f64).sqrt();
    // Standard error of the mean 0.5 / sqrt(2000) = 0.011: 5 standard errors.
    assert!((mean - 3.0).abs() < 0.056, "{mean}");
    assert!((sd - 0.5).abs() < 0.04, "{sd}");
    // Same seed, same draws.
    let again = m.simulate(&params, &mut rand::rngs::StdRng::seed_from_u64(3));
    assert_eq!(again, sims);
}
