//! What the gradient benches share: the point they evaluate at and the check that a
//! hand-written gradient agrees with the compiled one before either is timed.

use vi::prelude::*;

/// A fixed, spread-out evaluation point of dimension `dim` (values in [-0.25, 0.25]).
pub fn theta(dim: usize) -> Vec<f64> {
    (0..dim)
        .map(|i| ((i * 7) % 11) as f64 / 20.0 - 0.25)
        .collect()
}

/// Asserts that `hand` gives the compiled model's log density and gradient to 1e-8 at
/// [`theta`], so the benchmark compares two computations of the same thing.
pub fn check(name: &str, model: &impl Model, hand: impl Fn(&[f64], &mut [f64]) -> f64) {
    let th = theta(model.dim());
    let (mut g1, mut g2) = (vec![0.0; th.len()], vec![0.0; th.len()]);
    let a = model.log_density_grad(&th, &mut g1);
    let b = hand(&th, &mut g2);
    assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{name}: {a} vs {b}");
    for (x, y) in g1.iter().zip(&g2) {
        assert!(
            (x - y).abs() < 1e-8 * (1.0 + y.abs()),
            "{name}: gradient {x} vs {y}"
        );
    }
}
