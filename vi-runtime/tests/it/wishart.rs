//! Wishart and InvWishart: log densities against closed forms written here (the general
//! formula with our own determinant and inverse of a 2 x 2 matrix, and K = 1 against the
//! Gamma and inverse Gamma densities), every partial against central finite differences
//! (symmetric matrices perturbed in both mirrored entries), and the samplers against their
//! means; their scipy references are in `dist/scipy_refs.rs`.

use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::{inv_wishart, wishart};
use vi_runtime::infer::rng_for;
use vi_runtime::math::special::lgamma;

const LN_2: f64 = std::f64::consts::LN_2;

fn det2(m: &[f64]) -> f64 {
    m[0] * m[3] - m[1] * m[2]
}

fn inv2(m: &[f64]) -> [f64; 4] {
    let d = det2(m);
    [m[3] / d, -m[1] / d, -m[2] / d, m[0] / d]
}

/// `ln Gamma_2(a) = ln(pi)/2 + lgamma(a) + lgamma(a - 1/2)`.
fn lmgamma2(a: f64) -> f64 {
    0.5 * std::f64::consts::PI.ln() + lgamma(a) + lgamma(a - 0.5)
}

fn tr_prod(a: &[f64], b: &[f64]) -> f64 {
    // tr(A B) for 2 x 2 column-major matrices.
    a[0] * b[0] + a[2] * b[1] + a[1] * b[2] + a[3] * b[3]
}

const W: [f64; 4] = [2.0, 0.6, 0.6, 1.5];
const S: [f64; 4] = [1.2, -0.3, -0.3, 0.9];

#[test]
fn densities_match_their_formulas() {
    let nu = 4.5;
    let want = 0.5 * (nu - 3.0) * det2(&W).ln()
        - 0.5 * tr_prod(&inv2(&S), &W)
        - nu * LN_2
        - 0.5 * nu * det2(&S).ln()
        - lmgamma2(nu / 2.0);
    let got = wishart::lpdf(&W, &[nu], &S, None, None, None);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    let want = 0.5 * nu * det2(&S).ln()
        - nu * LN_2
        - lmgamma2(nu / 2.0)
        - 0.5 * (nu + 3.0) * det2(&W).ln()
        - 0.5 * tr_prod(&S, &inv2(&W));
    let got = inv_wishart::lpdf(&W, &[nu], &S, None, None, None);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    // K = 1: Gamma(nu / 2, rate 1 / (2 s)) and InverseGamma(nu / 2, scale s / 2).
    let (w, nu, s): (f64, f64, f64) = (0.7, 2.5, 1.3);
    let (a, b) = (nu / 2.0, 1.0 / (2.0 * s));
    let gamma = a * b.ln() - lgamma(a) + (a - 1.0) * w.ln() - b * w;
    assert!((wishart::lpdf(&[w], &[nu], &[s], None, None, None) - gamma).abs() < 1e-12);
    let c = s / 2.0;
    let inv_gamma = a * c.ln() - lgamma(a) - (a + 1.0) * w.ln() - c / w;
    assert!((inv_wishart::lpdf(&[w], &[nu], &[s], None, None, None) - inv_gamma).abs() < 1e-12);
    // Outside the support and invalid parameters.
    let not_pd = [1.0, 2.0, 2.0, 1.0];
    assert_eq!(
        wishart::lpdf(&not_pd, &[4.0], &S, None, None, None),
        f64::NEG_INFINITY
    );
    assert!(wishart::lpdf(&W, &[0.5], &S, None, None, None).is_nan());
    assert!(inv_wishart::lpdf(&W, &[4.0], &not_pd, None, None, None).is_nan());
    assert!(wishart::check(Some(&W), Some(&[0.5]), Some(&S)).is_err());
    assert!(wishart::check(Some(&not_pd), Some(&[4.0]), Some(&S)).is_err());
    assert!(inv_wishart::check(Some(&W), Some(&[4.0]), Some(&S)).is_ok());
}

type Lpdf =
    fn(&[f64], &[f64], &[f64], Option<&mut [f64]>, Option<&mut [f64]>, Option<&mut [f64]>) -> f64;

/// A symmetric 2 x 2 matrix from its lower triangle (w11, w21, w22).
fn sym(v: &[f64]) -> [f64; 4] {
    [v[0], v[1], v[1], v[2]]
}

#[test]
fn partials_match_finite_differences() {
    for f in [wishart::lpdf as Lpdf, inv_wishart::lpdf as Lpdf] {
        let nu = 3.7;
        let (mut gw, mut gnu, mut gs) = ([0.0; 4], [0.0], [0.0; 4]);
        f(&W, &[nu], &S, Some(&mut gw), Some(&mut gnu), Some(&mut gs));
        // Coordinates: the lower triangles of W and S, and nu.
        let x = [W[0], W[1], W[3], nu, S[0], S[1], S[3]];
        let g = [
            gw[0],
            gw[1] + gw[2],
            gw[3],
            gnu[0],
            gs[0],
            gs[1] + gs[2],
            gs[3],
        ];
        let h = |v: &[f64]| f(&sym(&v[0..3]), &[v[3]], &sym(&v[4..7]), None, None, None);
        assert_eq!(gradient_mismatch(h, &g, &x, 1e-6), None);
    }
}

#[test]
fn samplers_match_their_means() {
    // E W = nu S for the Wishart; E W = S / (nu - K - 1) for the inverse Wishart.
    let n = 20_000;
    let nu = 6.0;
    let draws = wishart::sample(&mut rng_for(3, 0), &[nu], &S, n);
    let inv = inv_wishart::sample(&mut rng_for(4, 0), &[nu], &S, n);
    for e in 0..4 {
        let m: f64 = (0..n).map(|t| draws[4 * t + e]).sum::<f64>() / n as f64;
        let sd = ((0..n).map(|t| (draws[4 * t + e] - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(
            (m - nu * S[e]).abs() < 4.0 * sd / (n as f64).sqrt(),
            "W[{e}]: {m}"
        );
        let m: f64 = (0..n).map(|t| inv[4 * t + e]).sum::<f64>() / n as f64;
        let sd = ((0..n).map(|t| (inv[4 * t + e] - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        let want = S[e] / (nu - 3.0);
        assert!(
            (m - want).abs() < 4.0 * sd / (n as f64).sqrt(),
            "inv W[{e}]: {m} vs {want}"
        );
    }
}
