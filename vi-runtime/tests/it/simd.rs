//! The dispatched kernels (issue 16): every SIMD level this CPU has gives the same value and
//! gradient bit for bit, and each gradient agrees with central finite differences.

use nalgebra::{DMatrix, DVector};
use std::sync::Mutex;
use vi_runtime::check::gradient_mismatch;
use vi_runtime::simd::{self, Level};
use vi_runtime::{ad, dist};

/// Serialises the tests of this file that switch the level.
static LOCK: Mutex<()> = Mutex::new(());

/// `f` at every level this CPU has; the preferred level restored after.
fn on_every_level<R>(mut f: impl FnMut() -> R) -> Vec<(Level, R)> {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::new();
    for l in Level::ALL {
        if simd::set_level(l).is_ok() {
            out.push((l, f()));
        }
    }
    simd::set_level(simd::preferred()).expect("the preferred level is supported");
    out
}

/// The same bits on every level.
fn same_bits(runs: &[(Level, Vec<f64>)], what: &str) {
    let (first, rest) = runs.split_first().expect("the baseline always runs");
    for (l, v) in rest {
        assert_eq!(v.len(), first.1.len());
        for (i, (p, q)) in v.iter().zip(&first.1).enumerate() {
            assert_eq!(p.to_bits(), q.to_bits(), "{what}[{i}]: {l:?} {p} vs {q}");
        }
    }
}

/// 1000 points spread over [-12, 12] (both tails of exp, tanh, sigmoid), uneven so every
/// remainder of the lane counts occurs.
fn points(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 2003) as f64 / 2003.0 * 24.0 - 12.0 + 1e-3 * (i % 5) as f64)
        .collect()
}

type Rule = (
    &'static str,
    fn(&DVector<f64>) -> DVector<f64>,
    fn(&DVector<f64>, &DVector<f64>, &DVector<f64>, &mut DVector<f64>),
);

#[test]
fn elementwise_functions_agree_on_every_level_and_with_finite_differences() {
    let rules: [Rule; 7] = [
        ("exp", |x| ad::exp(x).unwrap(), ad::exp_back),
        ("tanh", |x| ad::tanh(x).unwrap(), ad::tanh_back),
        ("sigmoid", |x| ad::sigmoid(x).unwrap(), ad::sigmoid_back),
        ("softplus", |x| ad::softplus(x).unwrap(), ad::softplus_back),
        (
            "log_sigmoid",
            |x| ad::log_sigmoid(x).unwrap(),
            ad::log_sigmoid_back,
        ),
        ("expm1", |x| ad::expm1(x).unwrap(), ad::expm1_back),
        (
            "ln",
            |x| ad::ln(&x.map(f64::abs)).unwrap(),
            |x, _, g, gx| {
                let a = x.map(f64::abs);
                let y = ad::ln(&a).unwrap();
                let mut ga = DVector::zeros(a.len());
                ad::ln_back(&a, &y, g, &mut ga);
                *gx += ga.component_mul(&x.map(f64::signum));
            },
        ),
    ];
    let x = DVector::from_vec(points(1001));
    let w = DVector::from_fn(x.len(), |i, _| ((i % 13) as f64 - 6.0) / 7.0);
    for (name, f, back) in rules {
        let runs = on_every_level(|| {
            let y = f(&x);
            let mut gx = DVector::zeros(x.len());
            back(&x, &y, &w, &mut gx);
            y.iter().chain(gx.iter()).copied().collect::<Vec<_>>()
        });
        same_bits(&runs, name);
        // d/dx_i sum_j w_j f(x_j) = w_i f'(x_i), at a few points (away from ln's kink).
        let n = x.len();
        let gx = &runs[0].1[n..];
        for i in (0..n).step_by(97) {
            let fi = |t: &[f64]| w[i] * f(&DVector::from_vec(vec![t[0]]))[0];
            let bad = gradient_mismatch(fi, &[gx[i]], &[x[i]], 1e-6);
            assert_eq!(bad, None, "{name} at x = {}", x[i]);
        }
    }
}

#[test]
fn broadcast_sums_agree_on_every_level() {
    // `(x * w1 + b1^T)`: a matrix plus a broadcast row, and its backward rule.
    let (r, c) = (203, 7);
    let m = DMatrix::from_fn(r, c, |i, j| points(r * c)[i + r * j]);
    let row = nalgebra::RowDVector::from_fn(c, |_, j| j as f64 * 0.3 - 1.0);
    let runs = on_every_level(|| {
        let out: DMatrix<f64> = ad::add(&m, &row).unwrap();
        let g = out.map(|v| v.sin());
        let (mut gm, mut grow) = (DMatrix::zeros(r, c), nalgebra::RowDVector::zeros(c));
        ad::add_back(&m, &row, &out, &g, Some(&mut gm), Some(&mut grow));
        out.iter()
            .chain(gm.iter())
            .chain(grow.iter())
            .copied()
            .collect::<Vec<_>>()
    });
    same_bits(&runs, "add");
    // The row's adjoint is the column sums of g.
    let out = &runs[0].1;
    for j in 0..c {
        let want: f64 = (0..r).map(|i| out[i + r * j].sin()).sum();
        let got = out[2 * r * c + j];
        assert!(
            (got - want).abs() < 1e-12 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    }
}

/// A kernel's value and its partials in the parameter at the given point.
fn kernel_runs(
    name: &str,
    y: &[f64],
    theta: &[f64],
    lpdf: impl Fn(&[f64], &[f64], Option<&mut [f64]>) -> f64,
) {
    let runs = on_every_level(|| {
        let mut g = vec![0.0; theta.len()];
        let lp = lpdf(y, theta, Some(&mut g));
        std::iter::once(lp).chain(g).collect::<Vec<_>>()
    });
    same_bits(&runs, name);
    let (lp, g) = (runs[0].1[0], &runs[0].1[1..]);
    assert!(lp.is_finite(), "{name}: {lp}");
    // Central differences of a sum of ~1000 terms: rounding in the sum (|lp| eps) divided
    // by the step (1e-6) bounds their accuracy.
    let tol = (1e-6f64).max(lp.abs() * f64::EPSILON / 1e-6 * 10.0);
    let bad = gradient_mismatch(|t| lpdf(y, t, None), g, theta, tol);
    assert_eq!(bad, None, "{name}");
}

#[test]
fn distribution_kernels_agree_on_every_level_and_with_finite_differences() {
    let n = 1003;
    let eta: Vec<f64> = points(n).iter().map(|v| v * 0.3).collect();
    let flips: Vec<f64> = (0..n).map(|i| ((i * 31) % 7 < 3) as u8 as f64).collect();
    let counts: Vec<f64> = (0..n).map(|i| ((i * 17) % 9) as f64).collect();
    let y: Vec<f64> = points(n).iter().map(|v| 100.0 + 3.0 * v).collect();
    // Normal with a location per element and one scale (the vectorised pass), and with a
    // scale per element.
    kernel_runs(
        "normal, one scale",
        &y,
        &[&eta[..], &[1.7]].concat(),
        |y, t, g| {
            let (mu, s) = t.split_at(n);
            let mu: Vec<f64> = mu.iter().map(|m| 100.0 + m).collect();
            match g {
                Some(g) => {
                    let (gm, gs) = g.split_at_mut(n);
                    dist::normal::lpdf(y, &mu, s, None, Some(gm), Some(gs))
                }
                None => dist::normal::lpdf(y, &mu, s, None, None, None),
            }
        },
    );
    kernel_runs("normal, a scale each", &y, &eta, |y, t, g| {
        let s: Vec<f64> = t.iter().map(|v| 4.0 + v).collect();
        dist::normal::lpdf(y, &[100.0], &s, None, None, g)
    });
    kernel_runs("bernoulli_logit", &flips, &eta, |y, t, g| {
        dist::bernoulli_logit::lpdf(y, t, None, g)
    });
    kernel_runs("poisson_log", &counts, &eta, |y, t, g| {
        dist::poisson_log::lpdf(y, t, None, g)
    });
    kernel_runs("bernoulli", &flips, &[0.37], |y, t, g| {
        dist::bernoulli::lpdf(y, t, None, g)
    });
    kernel_runs("poisson", &counts, &[3.1], |y, t, g| {
        dist::poisson::lpdf(y, t, None, g)
    });
}
