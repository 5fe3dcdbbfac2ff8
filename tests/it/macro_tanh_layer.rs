//! A hidden tanh layer with its Gaussian output (`let h = (x * w1 + b1.transpose()).tanh();
//! y ~ Normal(h * w2 + b2, sigma);`) runs as one fused pass over the rows
//! (`vi::ad::tanh_layer`, issue 15): its density and gradient equal the same model with the
//! location in a `let` (which `model!` does not fuse, so the rules compute it) to rounding,
//! and finite differences, on the peers' network data (`benches/data/bnn.json`, a copy of
//! `shared/bench/bnn.json`) and on an unstandardised design (two inputs near 100, N = 3000).

use vi::check::gradient_mismatch;
use vi::prelude::*;

model! {
    fn net_fused(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize, sigma: f64) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let h = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(h * w2 + b2, sigma);
    }
}

model! {
    fn net_rules(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize, sigma: f64) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let h = (x * w1 + b1.transpose()).tanh();
        let mu = h * w2 + b2;
        y ~ Normal(mu, sigma);
    }
}

model! {
    /// Weights scaled for inputs near 100, a latent noise, the bias first and `tanh(..)`.
    fn net_scaled_fused(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize) {
        let w1 ~ Normal(0.0, 0.05).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let h = tanh(x * w1 + b1.transpose());
        y ~ Normal(b2 + h * w2, sigma);
    }
}

model! {
    fn net_scaled_rules(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize) {
        let w1 ~ Normal(0.0, 0.05).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let h = tanh(x * w1 + b1.transpose());
        let mu = b2 + h * w2;
        y ~ Normal(mu, sigma);
    }
}

/// The density, its gradient and the log-density-only value agree between the two models at
/// `points`, and the fused gradient agrees with finite differences.
/// (`fd` is the finite-difference tolerance, relative to `max(1, |partial|)`.)
fn agree(fused: &impl Model, rules: &impl Model, points: &[Vec<f64>], tol: f64, fd: f64) {
    assert_eq!(fused.layout(), rules.layout());
    for th in points {
        let (mut g1, mut g2) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let a = fused.log_density_grad(th, &mut g1);
        let b = rules.log_density_grad(th, &mut g2);
        assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} against {b}");
        let scale = g2.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (p, q)) in g1.iter().zip(&g2).enumerate() {
            assert!((p - q).abs() <= tol * scale, "partial {i}: {p} against {q}");
        }
        let lp = fused.log_density(th);
        assert!(
            (lp - a).abs() <= 1e-13 * a.abs().max(1.0),
            "{lp} against {a}"
        );
        let terms: f64 = fused.log_density_terms(th).iter().map(|(_, t)| t).sum();
        assert!(
            (terms - a).abs() <= 1e-10 * a.abs().max(1.0),
            "{terms} against {a}"
        );
        let f = |t: &[f64]| fused.log_density(t);
        assert_eq!(gradient_mismatch(f, &g1, th, fd), None);
        // A second call at the same point gives the same bits.
        let mut g3 = vec![0.0; th.len()];
        assert_eq!(fused.log_density_grad(th, &mut g3).to_bits(), a.to_bits());
        assert!(g1.iter().zip(&g3).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

#[test]
fn the_peers_network_fused_equals_the_rules() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../benches/data/bnn.json")).unwrap();
    let floats = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let x = DMatrix::from_vec(200, 1, floats("x"));
    let y = DVector::from_vec(floats("y"));
    let fused = net_fused(&x, &y, 50, 0.1).unwrap();
    let rules = net_rules(&x, &y, 50, 0.1).unwrap();
    // The peers' test point, where shared/bench/README.md gives the log density.
    let peers: Vec<f64> = (0..fused.dim())
        .map(|i| 0.1 * ((i % 7) as f64 - 3.0) + 0.05)
        .collect();
    let lp = fused.log_density(&peers);
    assert!((lp + 17044.16855).abs() < 1e-6 * 17044.16855, "{lp}");
    let spread: Vec<f64> = (0..fused.dim())
        .map(|i| ((i * 37 + 3) % 41) as f64 / 20.0 - 1.0)
        .collect();
    // The density is of order 1e4 here (noise sd 0.1), so central differences carry an
    // absolute error near 1e-5 (seen: 1.1e-5 on a partial of 0.5).
    agree(&fused, &rules, &[peers, spread], 1e-12, 1e-4);
}

#[test]
fn an_unstandardised_network_fused_equals_the_rules() {
    let n = 3000;
    // Two inputs near 100 (95 to 107), outcomes of a smooth function of them.
    let x = DMatrix::from_fn(n, 2, |i, j| {
        100.0 + ((i * 37 + j * 53 + 11) % 97) as f64 / 8.0 - 5.0
    });
    let y = DVector::from_fn(n, |i, _| {
        ((x[(i, 0)] - 100.0) / 4.0).sin() + 0.1 * ((i * 13) % 7) as f64
    });
    let (fused, rules) = (
        net_scaled_fused(&x, &y, 8).unwrap(),
        net_scaled_rules(&x, &y, 8).unwrap(),
    );
    let d = fused.dim();
    // Pre-activations of order one: `w1` near +-0.01 against inputs near 100, `b1` near -1.
    let point = |k: usize| -> Vec<f64> {
        (0..d)
            .map(|i| match i {
                i if i < 16 => 0.01 * (((i + k) % 5) as f64 - 2.0) / 2.0,
                i if i < 24 => -1.0 + 0.1 * ((i + k) % 3) as f64,
                i if i < 32 => ((i * 7 + k) % 5) as f64 / 4.0 - 0.5,
                _ => 0.3,
            })
            .collect()
    };
    agree(&fused, &rules, &[point(0), point(1)], 1e-11, 1e-5);
}

#[test]
fn data_that_do_not_fit_are_the_rules_errors() {
    let x = DMatrix::from_fn(5, 1, |i, _| i as f64);
    let y = DVector::from_fn(4, |i, _| i as f64);
    let (a, b) = (net_fused(&x, &y, 3, 0.1), net_rules(&x, &y, 3, 0.1));
    let (Err(a), Err(b)) = (a, b) else {
        panic!("a length mismatch builds")
    };
    // The constructor checks the statement with the rules, as without the fused kernel: the
    // rules' message for the location written in the statement.
    assert_eq!(
        a.to_string(),
        "in `y ~ Normal(h * w2 + b2, sigma)`: shapes do not agree: `h * w2 + b2` has 5 \
         elements but `y` has 4"
    );
    assert_eq!(
        b.to_string(),
        "in `y ~ Normal(mu, sigma)`: shapes do not agree: `mu` has 5 elements but `y` has 4"
    );
}

/// `D` inputs near 100 (93 to 107), `n` rows, outcomes a smooth function of the first two.
fn wide_design(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |i, j| {
        100.0 + ((i * 37 + j * 53 + 11) % 113) as f64 / 8.0 - 7.0
    });
    let y = DVector::from_fn(n, |i, _| {
        ((x[(i, 0)] - 100.0) / 4.0).sin() - 0.3 * ((x[(i, 1)] - 100.0) / 5.0).cos()
            + 0.1 * ((i * 13) % 7) as f64
    });
    (x, y)
}

/// A point of `net_scaled_*` with `d` inputs and `h` units: `w1` of size `0.02 / d` (so the
/// `d` terms near 100 sum to order one), `b1` near -1, `w2` in (-0.5, 0.5), `b2` and
/// `log sigma` 0.3.
fn wide_point(d: usize, h: usize, k: usize) -> Vec<f64> {
    (0..d * h + 2 * h + 2)
        .map(|i| match i {
            i if i < d * h => 0.02 / d as f64 * (((i * 3 + k) % 5) as f64 - 2.0),
            i if i < d * h + h => -1.0 + 0.1 * ((i + k) % 3) as f64,
            i if i < d * h + 2 * h => ((i * 7 + k) % 5) as f64 / 4.0 - 0.5,
            _ => 0.3,
        })
        .collect()
}

#[test]
fn five_and_thirteen_inputs_near_100_fused_equal_the_rules() {
    // Five inputs (the kernel's copy for five) with a last block of one row, and thirteen
    // (its general copy; odd, not a multiple of the lanes), N in the thousands.
    for (n, d, h) in [(3001, 5, 12), (2000, 13, 7)] {
        let (x, y) = wide_design(n, d);
        let (fused, rules) = (
            net_scaled_fused(&x, &y, h).unwrap(),
            net_scaled_rules(&x, &y, h).unwrap(),
        );
        assert_eq!(fused.dim(), d * h + 2 * h + 2);
        agree(
            &fused,
            &rules,
            &[wide_point(d, h, 0), wide_point(d, h, 1)],
            1e-12,
            1e-5,
        );
    }
}
