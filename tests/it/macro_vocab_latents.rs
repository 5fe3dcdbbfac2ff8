//! Constrained and multivariate latents, multivariate observations and matrix functions in
//! `model!` (issue 17): each model's density against a formula written here by hand (its
//! transforms and log-Jacobians included, with plain loops and a plain Cholesky of our own)
//! and its gradient against finite differences (`check_model`); exact posteriors fitted by
//! NUTS.

use crate::support::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

// --- Independent references ---------------------------------------------------------------

/// The lower Cholesky factor of a symmetric positive definite matrix, by the textbook loop.
fn chol(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                l[i][i] = (a[i][i] - s).sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

/// ln N(y; mu, Sigma) by our own Cholesky and forward substitution.
fn mvn(y: &[f64], mu: &[f64], sigma: &[Vec<f64>]) -> f64 {
    let l = chol(sigma);
    let n = y.len();
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
        z[i] = (y[i] - mu[i] - s) / l[i][i];
    }
    let q: f64 = z.iter().map(|v| v * v).sum();
    let ld: f64 = (0..n).map(|i| l[i][i].ln()).sum();
    -0.5 * q - ld - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
}

/// An auxiliary coordinate's standard normal density (see `Param::constrain_blocks`).
fn aux(y: f64) -> f64 {
    -0.5 * y * y - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// Stan's stick-breaking simplex of `y` (length K - 1), with its log-Jacobian.
fn simplex(y: &[f64]) -> (Vec<f64>, f64) {
    let k = y.len() + 1;
    let mut x = vec![0.0; k];
    let (mut stick, mut lj) = (1.0, 0.0);
    for i in 0..k - 1 {
        let z = sigmoid(y[i] - ((k - 1 - i) as f64).ln());
        x[i] = stick * z;
        lj += (z * (1.0 - z) * stick).ln();
        stick -= x[i];
    }
    x[k - 1] = stick;
    (x, lj)
}

fn dirichlet(x: &[f64], a: &[f64]) -> f64 {
    let s: f64 = a.iter().sum();
    lgamma(s)
        + x.iter()
            .zip(a)
            .map(|(x, a)| (a - 1.0) * x.ln() - lgamma(*a))
            .sum::<f64>()
}

fn multinomial(c: &[f64], p: &[f64]) -> f64 {
    let n: f64 = c.iter().sum();
    lgamma(n + 1.0)
        + c.iter()
            .zip(p)
            .map(|(c, p)| c * p.ln() - lgamma(c + 1.0))
            .sum::<f64>()
}

// --- Modifiers ------------------------------------------------------------------------------

model! {
    fn ordered_model(k: usize, y: &DVector<f64>) {
        let c ~ Normal(0.0, 5.0).iid(k).ordered();
        y ~ Normal(c, 1.0);
    }
}

#[test]
fn ordered_is_increasing_with_its_jacobian() {
    let y = DVector::from_vec(vec![-1.0, 0.2, 2.5]);
    let m = ordered_model(3, &y).unwrap();
    assert_eq!(m.dim(), 3);
    check_model(&m, 1.5, 1, |th, jac| {
        // x_0 = y_0, x_i = x_(i-1) + e^(y_i); log-Jacobian sum of y_i for i >= 1.
        let mut x = vec![th[0]];
        for i in 1..3 {
            x.push(x[i - 1] + th[i].exp());
        }
        let lj: f64 = th[1..].iter().sum();
        (0..3)
            .map(|i| normal(x[i], 0.0, 5.0) + normal(y[i], x[i], 1.0))
            .sum::<f64>()
            + if jac { lj } else { 0.0 }
    });
}

model! {
    fn positive_ordered_model(y: &DVector<f64>) {
        let c ~ Gamma(2.0, 1.0).iid(y.len()).positive_ordered();
        y ~ Normal(c, 0.5);
    }
}

#[test]
fn positive_ordered_on_a_positive_prior() {
    let y = DVector::from_vec(vec![0.5, 1.0, 3.0]);
    let m = positive_ordered_model(&y).unwrap();
    check_model(&m, 1.5, 2, |th, jac| {
        let mut x = vec![th[0].exp()];
        for i in 1..3 {
            x.push(x[i - 1] + th[i].exp());
        }
        let lj: f64 = th.iter().sum();
        (0..3)
            .map(|i| gamma(x[i], 2.0, 1.0) + normal(y[i], x[i], 0.5))
            .sum::<f64>()
            + if jac { lj } else { 0.0 }
    });
}

model! {
    fn bounded_model(a: f64, b: f64, y: &DVector<f64>) {
        let lo ~ Normal(0.0, 2.0).lower(a);
        let hi ~ Normal(1.0, 3.0).upper(b);
        let mid ~ StudentT(4.0, 0.0, 1.0).bounds(a, b);
        let w ~ Normal(0.0, 1.0).iid(2).lower(a);
        y ~ Normal(lo + hi + mid + w[0] * w[1], 1.0);
    }
}

#[test]
fn lower_upper_and_bounds_take_data_and_add_their_jacobians() {
    let y = DVector::from_vec(vec![0.3, 1.1]);
    let (a, b) = (-0.5, 2.0);
    let m = bounded_model(a, b, &y).unwrap();
    assert_eq!(m.dim(), 5);
    check_model(&m, 2.0, 3, |th, jac| {
        let mut r = Reader::new(th);
        let lo = a + {
            let v = r.real();
            r.jac += v;
            v.exp()
        };
        let hi = b - {
            let v = r.real();
            r.jac += v;
            v.exp()
        };
        let mid = r.interval(a, b);
        let w: Vec<f64> = (0..2)
            .map(|_| {
                let v = r.real();
                r.jac += v;
                a + v.exp()
            })
            .collect();
        r.done();
        // As Stan: the prior is not renormalised to the bounds.
        let lp = normal(lo, 0.0, 2.0)
            + normal(hi, 1.0, 3.0)
            + student_t(mid, 4.0, 0.0, 1.0)
            + w.iter().map(|w| normal(*w, 0.0, 1.0)).sum::<f64>()
            + y.iter()
                .map(|y| normal(*y, lo + hi + mid + w[0] * w[1], 1.0))
                .sum::<f64>();
        lp + if jac { r.jac } else { 0.0 }
    });
    let post_names: Vec<String> = m.layout().flat_names();
    assert_eq!(post_names, ["lo", "hi", "mid", "w.1", "w.2"]);
}

#[test]
fn bounds_that_make_no_interval_are_a_model_error() {
    let y = DVector::from_vec(vec![0.3]);
    let e = bounded_model(2.0, -1.0, &y).err().expect("an error");
    let msg = e.to_string();
    assert!(msg.contains("bounds"), "{msg}");
}

// --- Simplex, Dirichlet, Multinomial --------------------------------------------------------

model! {
    fn dirichlet_multinomial(alpha: &DVector<f64>, counts: &DVector<f64>) {
        let theta ~ Dirichlet(alpha);
        counts ~ Multinomial(theta);
    }
}

#[test]
fn dirichlet_prior_makes_a_simplex() {
    let alpha = DVector::from_vec(vec![1.5, 2.0, 0.7, 3.0]);
    let counts = DVector::from_vec(vec![3.0, 10.0, 0.0, 7.0]);
    let m = dirichlet_multinomial(&alpha, &counts).unwrap();
    // One unconstrained coordinate per element: K - 1 through the stick-breaking, one
    // auxiliary standard normal.
    assert_eq!(m.dim(), 4);
    assert_eq!(
        m.layout().flat_names(),
        ["theta.1", "theta.2", "theta.3", "theta.4"]
    );
    check_model(&m, 2.0, 4, |th, jac| {
        let (x, lj) = simplex(&th[..3]);
        dirichlet(&x, alpha.as_slice())
            + multinomial(counts.as_slice(), &x)
            + aux(th[3])
            + if jac { lj } else { 0.0 }
    });
}

model! {
    fn simplex_rows(alpha: &DVector<f64>, j: usize) {
        let theta ~ Dirichlet(alpha).iid(j);
        target += theta[(0, 0)] * 2.0 - theta[(1, 2)];
    }
}

#[test]
fn a_dirichlet_with_iid_is_one_simplex_per_row() {
    let alpha = DVector::from_vec(vec![2.0, 1.0, 3.0]);
    let m = simplex_rows(&alpha, 2).unwrap();
    assert_eq!(m.dim(), 6);
    assert_eq!(
        m.layout().flat_names(),
        [
            "theta.1.1",
            "theta.1.2",
            "theta.1.3",
            "theta.2.1",
            "theta.2.2",
            "theta.2.3"
        ]
    );
    check_model(&m, 1.5, 5, |th, jac| {
        let (x0, j0) = simplex(&th[0..2]);
        let (x1, j1) = simplex(&th[3..5]);
        dirichlet(&x0, alpha.as_slice())
            + dirichlet(&x1, alpha.as_slice())
            + aux(th[2])
            + aux(th[5])
            + 2.0 * x0[0]
            - x1[2]
            + if jac { j0 + j1 } else { 0.0 }
    });
}
