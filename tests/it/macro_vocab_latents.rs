//! Constrained and multivariate latents, multivariate observations and matrix functions in
//! `model!` (issue 17): each model's density against a formula written here by hand (its
//! transforms and log-Jacobians included, with plain loops and a plain Cholesky of our own)
//! and its gradient against finite differences (`check_model`); exact posteriors fitted by
//! NUTS.

use crate::helpers::*;
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

// --- Multivariate normal, LKJ, matrix functions -------------------------------------------

model! {
    fn mvn_mean(y: &DMatrix<f64>, sigma: &DMatrix<f64>) {
        let mu ~ Normal(0.0, 10.0).iid(2);
        y ~ MultiNormal(mu, sigma);
    }
}

fn sigma95() -> DMatrix<f64> {
    DMatrix::from_row_slice(2, 2, &[1.0, 0.95 * 1.5, 0.95 * 1.5, 2.25])
}

fn mvn_data(n: usize) -> DMatrix<f64> {
    // Deterministic points around (100, -3) with the covariance's correlation.
    DMatrix::from_fn(n, 2, |i, j| {
        let t = (i as f64 * 0.7).sin();
        let s = (i as f64 * 1.3).cos();
        if j == 0 {
            100.0 + t
        } else {
            -3.0 + 1.5 * (0.95 * t + 0.3 * s)
        }
    })
}

#[test]
fn multi_normal_observation_with_a_latent_mean() {
    let y = mvn_data(5);
    let s = sigma95();
    let m = mvn_mean(&y, &s).unwrap();
    let sv: Vec<Vec<f64>> = (0..2)
        .map(|i| (0..2).map(|j| s[(i, j)]).collect())
        .collect();
    check_model(&m, 3.0, 6, |th, _| {
        normal(th[0], 0.0, 10.0)
            + normal(th[1], 0.0, 10.0)
            + (0..5)
                .map(|i| mvn(&[y[(i, 0)], y[(i, 1)]], th, &sv))
                .sum::<f64>()
    });
}

model! {
    fn lkj_effects(j: usize, zero: &DVector<f64>, y: &DMatrix<f64>) {
        let l ~ LkjCholesky(2, 2.0);
        let tau ~ HalfNormal(1.0).iid(2);
        let b ~ MultiNormalCholesky(zero, diag_pre_multiply(tau, l)).iid(j);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(b, sigma);
    }
}

#[test]
fn lkj_cholesky_latent_and_random_effects_with_diag_pre_multiply() {
    let j = 3;
    let zero = DVector::zeros(2);
    let y = DMatrix::from_row_slice(3, 2, &[0.5, -0.2, 1.0, 0.8, -0.7, -1.1]);
    let m = lkj_effects(j, &zero, &y).unwrap();
    // L: 4 coordinates (1 free, 3 auxiliary), tau 2, b 6, sigma 1.
    assert_eq!(m.dim(), 13);
    assert_eq!(
        &m.layout().flat_names()[..4],
        ["l.1.1", "l.1.2", "l.2.1", "l.2.2"]
    );
    let eta: f64 = 2.0;
    // LKJ(eta) for K = 2: r = 2u - 1 with u ~ Beta(eta, eta), and L_21 = r.
    let lkj2 = |r: f64| {
        (eta - 1.0) * (1.0 - r * r).ln()
            - (2.0 * eta - 1.0) * 2f64.ln()
            - (2.0 * lgamma(eta) - lgamma(2.0 * eta))
    };
    check_model(&m, 1.2, 7, |th, jac| {
        let z = th[0].tanh();
        let lj_l = (1.0 - z * z).ln();
        let mut lp = lkj2(z) + aux(th[1]) + aux(th[2]) + aux(th[3]);
        let mut r = Reader::new(&th[4..]);
        let tau = [r.positive(), r.positive()];
        lp += half_normal(tau[0], 1.0) + half_normal(tau[1], 1.0);
        // Sigma = diag(tau) L L^T diag(tau).
        let c = [[1.0, z], [z, 1.0]];
        let cov: Vec<Vec<f64>> = (0..2)
            .map(|a| (0..2).map(|b| tau[a] * c[a][b] * tau[b]).collect())
            .collect();
        let b: Vec<f64> = r.reals(6);
        let sigma = r.positive();
        r.done();
        // b is j x 2: row i is (b[i], b[i + 3]) in column-major reading order... the layout is
        // row-major: row i is (b[2i], b[2i + 1]).
        for i in 0..3 {
            let row = [b[2 * i], b[2 * i + 1]];
            lp += mvn(&row, &[0.0, 0.0], &cov);
            lp += normal(y[(i, 0)], row[0], sigma) + normal(y[(i, 1)], row[1], sigma);
        }
        lp += half_normal(sigma, 1.0);
        lp + if jac { lj_l + r.jac } else { 0.0 }
    });
}

model! {
    fn matrix_fns(a: &DMatrix<f64>) {
        let m ~ Normal(0.0, 1.0).iid((3, 3));
        let u ~ Normal(0.0, 1.0).iid(3);
        let spd = add_diag(m * m.transpose(), 1.5);
        let l = spd.cholesky();
        target += log_determinant(spd);
        target += 0.1 * quad_form(spd, u);
        target += dot_self(mdivide_left_tri_low(l, u));
        target += sum(columns_dot_product(m, a));
        target += sum(rows_dot_product(a, m) * u);
        target += sum(diag_post_multiply(m, u) * 0.5);
        target += sum(diag_pre_multiply(u, a) * m);
    }
}

#[test]
fn matrix_functions_on_a_latent_path() {
    let a = DMatrix::from_row_slice(3, 3, &[0.5, -1.0, 2.0, 0.3, 0.0, -0.4, 1.2, 0.7, -0.2]);
    let mm = matrix_fns(&a).unwrap();
    check_model(&mm, 1.0, 8, |th, _| {
        // Row-major m, then u.
        let m = DMatrix::from_row_slice(3, 3, &th[..9]);
        let u = DVector::from_column_slice(&th[9..]);
        let mut lp: f64 = th.iter().map(|v| normal(*v, 0.0, 1.0)).sum();
        let mut spd = &m * m.transpose();
        for i in 0..3 {
            spd[(i, i)] += 1.5;
        }
        let sv: Vec<Vec<f64>> = (0..3)
            .map(|i| (0..3).map(|j| spd[(i, j)]).collect())
            .collect();
        let l = chol(&sv);
        // log det from our Cholesky.
        lp += 2.0 * (0..3).map(|i| l[i][i].ln()).sum::<f64>();
        lp += 0.1
            * (0..3)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .map(|(i, j)| u[i] * sv[i][j] * u[j])
                .sum::<f64>();
        // Forward substitution.
        let mut w = [0.0; 3];
        for i in 0..3 {
            let s: f64 = (0..i).map(|k| l[i][k] * w[k]).sum();
            w[i] = (u[i] - s) / l[i][i];
        }
        lp += w.iter().map(|v| v * v).sum::<f64>();
        // Columns' and rows' dot products, diagonal products, by loops.
        for j in 0..3 {
            lp += (0..3).map(|i| m[(i, j)] * a[(i, j)]).sum::<f64>();
        }
        for i in 0..3 {
            lp += (0..3).map(|j| a[(i, j)] * m[(i, j)]).sum::<f64>() * u[i];
        }
        for i in 0..3 {
            for j in 0..3 {
                lp += 0.5 * m[(i, j)] * u[j];
                // `*` with a matrix on the left is the matrix product: diag(u) A M.
                lp += (0..3).map(|k| u[i] * a[(i, k)] * m[(k, j)]).sum::<f64>();
            }
        }
        lp
    });
}

model! {
    fn cov_latents(y: &DMatrix<f64>, mu: &DVector<f64>, s: &DMatrix<f64>) {
        let prec ~ Wishart(5.0, s);
        let sigma ~ InvWishart(4.0, s);
        target += -0.5 * sum(prec);
        y ~ MultiNormal(mu, sigma);
    }
}

/// Stan's covariance-matrix transform for K = 2 (`y`: the lower triangle of a Cholesky
/// factor row by row, its diagonal through `exp`), with Stan's log-Jacobian
/// `K ln 2 + sum_k (K - k + 1) y_kk` (k from 0).
fn cov2(y: &[f64]) -> ([f64; 4], f64) {
    let (l00, l10, l11) = (y[0].exp(), y[1], y[2].exp());
    let s = [l00 * l00, l10 * l00, l10 * l00, l10 * l10 + l11 * l11];
    (s, 2.0 * std::f64::consts::LN_2 + 3.0 * y[0] + 2.0 * y[2])
}

fn lmgamma2(a: f64) -> f64 {
    0.5 * std::f64::consts::PI.ln() + lgamma(a) + lgamma(a - 0.5)
}

fn det2(m: &[f64]) -> f64 {
    m[0] * m[3] - m[1] * m[2]
}

#[test]
fn wishart_and_inv_wishart_priors_make_covariance_matrices() {
    let y = DMatrix::from_row_slice(3, 2, &[0.5, -0.2, 1.0, 0.8, -0.7, -1.1]);
    let mu = DVector::from_vec(vec![0.1, -0.1]);
    let s = DMatrix::from_row_slice(2, 2, &[1.2, -0.3, -0.3, 0.9]);
    let m = cov_latents(&y, &mu, &s).unwrap();
    // Each: 3 coordinates through the transform and 1 auxiliary.
    assert_eq!(m.dim(), 8);
    let sv = [s[(0, 0)], s[(1, 0)], s[(0, 1)], s[(1, 1)]];
    let si = {
        let d = det2(&sv);
        [sv[3] / d, -sv[1] / d, -sv[2] / d, sv[0] / d]
    };
    let ln2 = std::f64::consts::LN_2;
    check_model(&m, 0.8, 10, |th, jac| {
        let (w, jw) = cov2(&th[0..3]);
        let (c, jc) = cov2(&th[4..7]);
        let nu = 5.0;
        // Wishart: (nu - 3)/2 ln|W| - tr(S^-1 W)/2 - nu ln 2 - nu/2 ln|S| - ln Gamma_2(nu/2).
        let tr_sw: f64 = (0..2)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| si[i + 2 * j] * w[j + 2 * i])
            .sum();
        let lp_w = 0.5 * (nu - 3.0) * det2(&w).ln()
            - 0.5 * tr_sw
            - nu * ln2
            - 0.5 * nu * det2(&sv).ln()
            - lmgamma2(nu / 2.0);
        let nu = 4.0;
        let ci = {
            let d = det2(&c);
            [c[3] / d, -c[1] / d, -c[2] / d, c[0] / d]
        };
        let tr_sc: f64 = (0..2)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| sv[i + 2 * j] * ci[j + 2 * i])
            .sum();
        let lp_c = 0.5 * nu * det2(&sv).ln()
            - nu * ln2
            - lmgamma2(nu / 2.0)
            - 0.5 * (nu + 3.0) * det2(&c).ln()
            - 0.5 * tr_sc;
        let cov = vec![vec![c[0], c[2]], vec![c[1], c[3]]];
        let lik: f64 = (0..3)
            .map(|i| mvn(&[y[(i, 0)], y[(i, 1)]], mu.as_slice(), &cov))
            .sum();
        lp_w + lp_c - 0.5 * w.iter().sum::<f64>()
            + lik
            + aux(th[3])
            + aux(th[7])
            + if jac { jw + jc } else { 0.0 }
    });
}

// --- Gaussian process regression --------------------------------------------------------------

model! {
    fn gp(x: &DVector<f64>, y: &DVector<f64>, mu0: &DVector<f64>) {
        let rho ~ Gamma(4.0, 4.0);
        let alpha ~ HalfNormal(2.0);
        let sigma ~ HalfNormal(1.0);
        let l = add_diag(gp_exp_quad_cov(x, alpha, rho), sigma * sigma).cholesky();
        y ~ MultiNormalCholesky(mu0, l);
    }
}

model! {
    fn gp_rho(x: &DVector<f64>, y: &DVector<f64>, mu0: &DVector<f64>, alpha: f64, sigma: f64) {
        let rho ~ Gamma(4.0, 4.0);
        let l = add_diag(cov_exp_quad(x, alpha, rho), sigma * sigma).cholesky();
        y ~ MultiNormalCholesky(mu0, l);
    }
}

fn gp_data(n: usize) -> (DVector<f64>, DVector<f64>) {
    let x = DVector::from_fn(n, |i, _| -2.0 + 4.0 * i as f64 / (n - 1) as f64);
    let y = DVector::from_fn(n, |i, _| {
        (1.7 * x[i]).sin() + 0.3 * (i as f64 * 2.1).cos() * 0.5
    });
    (x, y)
}

/// The GP's log marginal likelihood at fixed hyperparameters, by our own Cholesky.
fn gp_loglik(x: &DVector<f64>, y: &DVector<f64>, alpha: f64, rho: f64, sigma: f64) -> f64 {
    let n = x.len();
    let k: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let d = x[i] - x[j];
                    alpha * alpha * (-d * d / (2.0 * rho * rho)).exp()
                        + if i == j { sigma * sigma } else { 0.0 }
                })
                .collect()
        })
        .collect();
    mvn(y.as_slice(), &vec![0.0; n], &k)
}

#[test]
fn gp_regression_density_and_gradient() {
    let (x, y) = gp_data(30);
    let mu0 = DVector::zeros(30);
    let m = gp(&x, &y, &mu0).unwrap();
    check_model(&m, 1.0, 9, |th, jac| {
        let mut r = Reader::new(th);
        let (rho, alpha, sigma) = (r.positive(), r.positive(), r.positive());
        r.done();
        gamma(rho, 4.0, 4.0)
            + half_normal(alpha, 2.0)
            + half_normal(sigma, 1.0)
            + gp_loglik(&x, &y, alpha, rho, sigma)
            + if jac { r.jac } else { 0.0 }
    });
}

#[test]
fn gp_length_scale_posterior_matches_a_grid() {
    let (x, y) = gp_data(30);
    let mu0 = DVector::zeros(30);
    let (alpha, sigma) = (1.0, 0.3);
    let m = gp_rho(&x, &y, &mu0, alpha, sigma).unwrap();
    // The posterior of rho on a fine grid over (0, 5], by our own Cholesky.
    let h = 1e-3;
    let grid: Vec<f64> = (1..=5000).map(|i| i as f64 * h).collect();
    let lps: Vec<f64> = grid
        .iter()
        .map(|&r| gamma(r, 4.0, 4.0) + gp_loglik(&x, &y, alpha, r, sigma))
        .collect();
    let top = lps.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = lps.iter().map(|l| (l - top).exp()).collect();
    let z: f64 = w.iter().sum();
    let mean: f64 = grid.iter().zip(&w).map(|(r, w)| r * w).sum::<f64>() / z;
    let post = Nuts::default()
        .seed(11)
        .chains(2)
        .warmup(300)
        .draws(1000)
        .fit(&m)
        .unwrap();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        panic!("NUTS diagnostics")
    };
    let p = d.param("rho").unwrap();
    let got = post.mean("rho").unwrap()[0];
    assert!(
        (got - mean).abs() < 4.0 * p.mcse_mean,
        "rho: {got} vs grid {mean} (mcse {})",
        p.mcse_mean
    );
}

// --- Exact posteriors by NUTS ---------------------------------------------------------------

fn nuts_close(post: &Posterior, name: &str, i: usize, flat: &str, mean: f64) {
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        panic!("NUTS diagnostics")
    };
    let p = d.param(flat).unwrap_or_else(|| panic!("no {flat}"));
    let got = post.mean(name).unwrap()[i];
    assert!(
        (got - mean).abs() < 4.0 * p.mcse_mean,
        "{flat}: {got} vs exact {mean} (mcse {})",
        p.mcse_mean
    );
    assert!(p.rhat < 1.01, "{flat}: R-hat {}", p.rhat);
    assert_eq!(d.total_divergences(), 0);
}

#[test]
fn dirichlet_multinomial_posterior_is_the_conjugate_one() {
    let alpha = DVector::from_vec(vec![1.0, 2.0, 0.5, 1.5]);
    let counts = DVector::from_vec(vec![12.0, 40.0, 1.0, 27.0]);
    let m = dirichlet_multinomial(&alpha, &counts).unwrap();
    let post = Nuts::default()
        .seed(3)
        .chains(2)
        .warmup(400)
        .draws(1500)
        .fit(&m)
        .unwrap();
    // Dirichlet(alpha + counts).
    let a: Vec<f64> = alpha
        .iter()
        .zip(counts.iter())
        .map(|(a, c)| a + c)
        .collect();
    let s: f64 = a.iter().sum();
    for (i, ai) in a.iter().enumerate() {
        nuts_close(&post, "theta", i, &format!("theta.{}", i + 1), ai / s);
    }
    // Every draw is a simplex.
    for d in post.draws("theta").unwrap() {
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(d.iter().all(|&v| v > 0.0));
    }
}

#[test]
fn multivariate_normal_mean_with_known_correlated_covariance() {
    let y = mvn_data(20);
    let s = sigma95();
    let m = mvn_mean(&y, &s).unwrap();
    let post = Nuts::default()
        .seed(5)
        .chains(2)
        .warmup(400)
        .draws(1500)
        .fit(&m)
        .unwrap();
    // Posterior precision P = I / 100 + n Sigma^-1, mean P^-1 (n Sigma^-1 ybar).
    let n = 20.0;
    let det = s[(0, 0)] * s[(1, 1)] - s[(0, 1)] * s[(1, 0)];
    let si = [
        [s[(1, 1)] / det, -s[(0, 1)] / det],
        [-s[(1, 0)] / det, s[(0, 0)] / det],
    ];
    let ybar = [y.column(0).mean(), y.column(1).mean()];
    let p = [
        [0.01 + n * si[0][0], n * si[0][1]],
        [n * si[1][0], 0.01 + n * si[1][1]],
    ];
    let b = [
        n * (si[0][0] * ybar[0] + si[0][1] * ybar[1]),
        n * (si[1][0] * ybar[0] + si[1][1] * ybar[1]),
    ];
    let pd = p[0][0] * p[1][1] - p[0][1] * p[1][0];
    let mean = [
        (p[1][1] * b[0] - p[0][1] * b[1]) / pd,
        (-p[1][0] * b[0] + p[0][0] * b[1]) / pd,
    ];
    nuts_close(&post, "mu", 0, "mu.1", mean[0]);
    nuts_close(&post, "mu", 1, "mu.2", mean[1]);
}

model! {
    fn cutpoints(y0: &DVector<f64>, y1: &DVector<f64>) {
        let c ~ Normal(0.0, 5.0).iid(2).ordered();
        y0 ~ Normal(c[0], 1.0);
        y1 ~ Normal(c[1], 1.0);
    }
}

#[test]
fn ordered_cutpoints_posterior_is_the_truncated_normal_one() {
    // Data that put the unconstrained means in the wrong order, so the constraint binds.
    let y0 = DVector::from_vec(vec![0.6, 0.1, 0.5, 0.2]);
    let y1 = DVector::from_vec(vec![0.0, 0.3, -0.1]);
    let m = cutpoints(&y0, &y1).unwrap();
    let post = Nuts::default()
        .seed(9)
        .chains(2)
        .warmup(400)
        .draws(2000)
        .fit(&m)
        .unwrap();
    // Independent normal posteriors conditioned on c0 < c1: with s^2 = v0 + v1,
    // d = (m1 - m0) / s and lambda = phi(d) / Phi(d), E c0 = m0 - v0 lambda / s and
    // E c1 = m1 + v1 lambda / s.
    let post_normal = |ys: &DVector<f64>| {
        let prec = ys.len() as f64 + 1.0 / 25.0;
        (ys.sum() / prec, 1.0 / prec)
    };
    let (m0, v0) = post_normal(&y0);
    let (m1, v1) = post_normal(&y1);
    let s = (v0 + v1).sqrt();
    let d = (m1 - m0) / s;
    let pdf = (-0.5 * d * d).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = 0.5 * libm::erfc(-d / std::f64::consts::SQRT_2);
    let lambda = pdf / cdf;
    nuts_close(&post, "c", 0, "c.1", m0 - v0 * lambda / s);
    nuts_close(&post, "c", 1, "c.2", m1 + v1 * lambda / s);
    for d in post.draws("c").unwrap() {
        assert!(d[0] < d[1]);
    }
}

model! {
    fn correlated_effects(j: usize, g: &[usize], x: &DVector<f64>, y: &DVector<f64>, zero: &DVector<f64>) {
        let l ~ LkjCholesky(2, 2.0);
        let tau ~ HalfNormal(1.0).iid(2);
        let mu ~ Normal(0.0, 5.0).iid(2);
        let sigma ~ HalfNormal(1.0);
        let b ~ MultiNormalCholesky(zero, diag_pre_multiply(tau, l)).iid(j);
        for i in 0..y.len() {
            y[i] ~ Normal(mu[0] + b[(g[i], 0)] + (mu[1] + b[(g[i], 1)]) * x[i], sigma);
        }
    }
}

#[test]
fn correlated_random_effects_recover_the_simulated_truth() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::StandardNormal;
    let (j, per) = (200, 10);
    let (tau, rho, mu, sigma) = ([0.8, 0.5], 0.6, [1.0, -0.5], 0.5);
    let mut rng = StdRng::seed_from_u64(42);
    let mut g = Vec::new();
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for k in 0..j {
        let z0: f64 = rng.sample(StandardNormal);
        let z1: f64 = rng.sample(StandardNormal);
        let b0 = tau[0] * z0;
        let b1 = tau[1] * (rho * z0 + (1.0 - rho * rho).sqrt() * z1);
        for _ in 0..per {
            let x: f64 = rng.random_range(-1.0..1.0);
            let e: f64 = rng.sample(StandardNormal);
            g.push(k);
            xs.push(x);
            ys.push(mu[0] + b0 + (mu[1] + b1) * x + sigma * e);
        }
    }
    let (x, y, zero) = (
        DVector::from_vec(xs),
        DVector::from_vec(ys),
        DVector::zeros(2),
    );
    let m = correlated_effects(j, &g, &x, &y, &zero).unwrap();
    let post = Nuts::default()
        .seed(1)
        .chains(2)
        .warmup(400)
        .draws(400)
        .fit(&m)
        .unwrap();
    let within = |name: &str, i: usize, truth: f64| {
        let (m, s) = (post.mean(name).unwrap()[i], post.sd(name).unwrap()[i]);
        assert!(
            (m - truth).abs() < 4.0 * s,
            "{name}[{i}]: {m} (sd {s}) vs the truth {truth}"
        );
    };
    within("tau", 0, tau[0]);
    within("tau", 1, tau[1]);
    within("mu", 0, mu[0]);
    within("mu", 1, mu[1]);
    within("sigma", 0, sigma);
    // The correlation is L_21 (flat index 2 of the row-major 2 x 2 factor).
    within("l", 2, rho);
    // Every draw of L is a Cholesky factor of a correlation matrix.
    for d in post.draws("l").unwrap() {
        assert!(d[1] == 0.0 && (d[0] - 1.0).abs() < 1e-12);
        assert!((d[2] * d[2] + d[3] * d[3] - 1.0).abs() < 1e-12);
    }
}
