//! Gradient checking by central finite differences: the one harness every rule, kernel and
//! generated gradient is tested through. Public, so users can check their own
//! hand-written [`Model`](crate::Model)s too.

/// The central finite-difference gradient of `f` at `x`, with step `h * max(1, |x_i|)`.
pub fn finite_diff_grad(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let step = h * x[i].abs().max(1.0);
            xp[i] = x[i] + step;
            let fp = f(&xp);
            xp[i] = x[i] - step;
            let fm = f(&xp);
            xp[i] = x[i];
            (fp - fm) / (2.0 * step)
        })
        .collect()
}

/// The first element where `grad` and the central finite-difference gradient of `f` at `x`
/// disagree by more than `tol` relative to `max(1, |fd|)`: `(index, analytic, numeric)`.
/// `None` when they agree everywhere.
///
/// ```
/// use vi_runtime::check::gradient_mismatch;
/// let f = |x: &[f64]| x[0].sin() * x[1];
/// let x = [0.3, 2.0];
/// let g = [0.3f64.cos() * 2.0, 0.3f64.sin()];
/// assert_eq!(gradient_mismatch(f, &g, &x, 1e-7), None);
/// assert!(gradient_mismatch(f, &[1.0, 0.0], &x, 1e-7).is_some());
/// ```
pub fn gradient_mismatch(
    f: impl Fn(&[f64]) -> f64,
    grad: &[f64],
    x: &[f64],
    tol: f64,
) -> Option<(usize, f64, f64)> {
    let fd = finite_diff_grad(f, x, 1e-6);
    grad.iter()
        .zip(&fd)
        .enumerate()
        .find(|(_, (a, n))| {
            let ok = (*a - *n).abs() <= tol * n.abs().max(1.0);
            !ok
        })
        .map(|(i, (a, n))| (i, *a, *n))
}
