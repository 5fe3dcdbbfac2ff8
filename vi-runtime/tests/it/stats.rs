//! The sufficient-statistics kernels (issue 16) against the per-observation kernels, called
//! directly: statistics are made (the cell holds them), the results agree to 1e-12
//! relative, and data outside the support or vector parameters fall back to the
//! per-observation kernel (which reports `-inf`).

use vi_runtime::dist::scalar::Kernel;
use vi_runtime::dist::stats::StatsCell;
use vi_runtime::dist::{bernoulli, gamma, normal, poisson};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn statistics_are_kept_and_agree_with_the_per_observation_kernel() {
    let y: Vec<f64> = (0..2000)
        .map(|i| 100.0 + ((i * 37) % 101) as f64 * 0.7)
        .collect();
    let cell = StatsCell::new();
    for (mu, s) in [(120.0, 15.0), (80.0, 3.0)] {
        let (mut a, mut b) = ([0.0], [0.0]);
        let (mut c, mut d) = ([0.0], [0.0]);
        let l1 = normal::Scalar::lpdf_stats(
            &cell,
            [&y, &[mu], &[s]],
            [None, Some(&mut a), Some(&mut b)],
        );
        let l2 = normal::Scalar::lpdf([&y, &[mu], &[s]], [None, Some(&mut c), Some(&mut d)]);
        close(l1, l2);
        close(a[0], c[0]);
        close(b[0], d[0]);
    }
    // Statistics were made: the cell holds them (not the "does not fit" marker `()`).
    let kept = cell.get().expect("made at the first call");
    assert!(kept.downcast_ref::<()>().is_none());

    let k: Vec<f64> = (0..3000).map(|i| ((i * 13) % 50) as f64).collect();
    let cell = StatsCell::new();
    let (mut a, mut c) = ([0.0], [0.0]);
    let l1 = poisson::Scalar::lpdf_stats(&cell, [&k, &[24.5]], [None, Some(&mut a)]);
    let l2 = poisson::Scalar::lpdf([&k, &[24.5]], [None, Some(&mut c)]);
    close(l1, l2);
    close(a[0], c[0]);

    let pos: Vec<f64> = y.iter().map(|v| v / 30.0).collect();
    let cell = StatsCell::new();
    let (mut a, mut b, mut c, mut d) = ([0.0], [0.0], [0.0], [0.0]);
    let l1 = gamma::Scalar::lpdf_stats(
        &cell,
        [&pos, &[7.0], &[2.0]],
        [None, Some(&mut a), Some(&mut b)],
    );
    let l2 = gamma::Scalar::lpdf([&pos, &[7.0], &[2.0]], [None, Some(&mut c), Some(&mut d)]);
    close(l1, l2);
    close(a[0], c[0]);
    close(b[0], d[0]);
}

#[test]
fn data_outside_the_support_and_vector_parameters_fall_back() {
    // A 2 among flips: not Bernoulli data, so no statistics; the per-observation kernel
    // gives ln p = -inf.
    let y = [1.0, 0.0, 2.0, 1.0];
    let cell = StatsCell::new();
    let lp = bernoulli::Scalar::lpdf_stats(&cell, [&y, &[0.3]], [None, None]);
    assert_eq!(lp, f64::NEG_INFINITY);
    assert!(cell.get().is_some_and(|c| c.downcast_ref::<()>().is_some()));
    // A probability per observation: the per-observation kernel, no statistics made.
    let y = [1.0, 0.0, 1.0];
    let p = [0.2, 0.5, 0.9];
    let cell = StatsCell::new();
    let lp = bernoulli::Scalar::lpdf_stats(&cell, [&y, &p], [None, None]);
    close(lp, 0.2f64.ln() + 0.5f64.ln() + 0.9f64.ln());
    assert!(cell.get().is_none());
}
