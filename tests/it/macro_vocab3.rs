//! Issue 17's remaining vocabulary in `model!`: the log CDFs that need the incomplete beta
//! function (StudentT, HalfStudentT, Beta, Binomial, BinomialLogit, NegBinomial2,
//! NegBinomial2Log, BetaBinomial) on a latent's path. Densities against formulas written
//! here from the distributions' value types, whose `cdf` is statrs's (independent of the
//! kernels under test, which the runtime's `dist/cdf_beta.rs` pins to scipy and mpmath);
//! gradients against central finite differences (`check_model`).

use crate::helpers::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

model! {
    /// Every incomplete-beta log CDF with latent arguments, over vectors and elements.
    fn beta_cdfs(y: &DVector<f64>, u: &[f64], k: &[i64], n: i64) {
        let nu ~ Gamma(4.0, 1.0);
        let mu ~ Normal(0.0, 1.0);
        let sigma ~ LogNormal(0.0, 0.5);
        let a ~ Gamma(3.0, 1.0);
        let b ~ Gamma(3.0, 1.0);
        let p ~ Beta(2.0, 2.0);
        target += StudentT(nu, mu, sigma).lcdf(y) + StudentT(nu, mu, sigma).lccdf(y[0]);
        target += HalfStudentT(nu, sigma).lccdf(u);
        target += Beta(a, b).lcdf(u) + Beta(a, b).lccdf(p);
        target += Binomial(n, p).lcdf(k) + BinomialLogit(n, mu).lccdf(k[1]);
        target += NegBinomial2(a, b).lccdf(k) + NegBinomial2Log(mu, b).lcdf(k[0]);
        target += BetaBinomial(n, a, b).lcdf(k) + BetaBinomial(n, a, b).lccdf(k[2]);
    }
}

fn ln_cdf(d: &dyn Cdf, x: f64) -> f64 {
    d.cdf(x).ln()
}

fn ln_ccdf(d: &dyn Cdf, x: f64) -> f64 {
    (-d.cdf(x)).ln_1p()
}

#[allow(clippy::too_many_arguments)]
fn beta_cdfs_ref(th: &[f64], jac: bool, y: &[f64], u: &[f64], k: &[f64], n: u64) -> f64 {
    let mut r = Reader::new(th);
    let nu = r.positive();
    let mu = r.real();
    let sigma = r.positive();
    let a = r.positive();
    let b = r.positive();
    let p = r.unit();
    r.done();
    let mut lp = gamma(nu, 4.0, 1.0)
        + normal(mu, 0.0, 1.0)
        + log_normal(sigma, 0.0, 0.5)
        + gamma(a, 3.0, 1.0)
        + gamma(b, 3.0, 1.0)
        + beta(p, 2.0, 2.0);
    if jac {
        lp += r.jac;
    }
    let t = StudentT::new(nu, mu, sigma).unwrap();
    lp += y.iter().map(|&v| ln_cdf(&t, v)).sum::<f64>() + ln_ccdf(&t, y[0]);
    let ht = HalfStudentT::new(nu, sigma).unwrap();
    lp += u.iter().map(|&v| ln_ccdf(&ht, v)).sum::<f64>();
    let be = Beta::new(a, b).unwrap();
    lp += u.iter().map(|&v| ln_cdf(&be, v)).sum::<f64>() + ln_ccdf(&be, p);
    let bi = Binomial::new(n, p).unwrap();
    let bl = Binomial::new(n, sigmoid(mu)).unwrap();
    lp += k.iter().map(|&v| ln_cdf(&bi, v)).sum::<f64>() + ln_ccdf(&bl, k[1]);
    let nb = NegBinomial2::new(a, b).unwrap();
    let nbl = NegBinomial2::new(mu.exp(), b).unwrap();
    lp += k.iter().map(|&v| ln_ccdf(&nb, v)).sum::<f64>() + ln_cdf(&nbl, k[0]);
    let bb = BetaBinomial::new(n, a, b).unwrap();
    lp + k.iter().map(|&v| ln_cdf(&bb, v)).sum::<f64>() + ln_ccdf(&bb, k[2])
}

#[test]
fn incomplete_beta_cdfs_on_a_latent_path() {
    let y = DVector::from_vec(vec![-0.8, 0.3, 2.5, 6.0]);
    let u = [0.15, 0.5, 0.8];
    let k = [0i64, 2, 5, 1];
    let n = 8;
    let m = beta_cdfs(&y, &u, &k, n).unwrap();
    assert_eq!(m.dim(), 6);
    let kf: Vec<f64> = k.iter().map(|&v| v as f64).collect();
    check_model(&m, 1.0, 3, |th, jac| {
        beta_cdfs_ref(th, jac, y.as_slice(), &u, &kf, n as u64)
    });
}

// --- Matrix forms: quad_form and mdivide_left_tri_low of a matrix, add_diag of a vector,
// --- gp_exp_quad_cov of points in the plane -------------------------------------------------

model! {
    fn matrix_forms(x: &Vec<DVector<f64>>, a: &DMatrix<f64>) {
        let alpha ~ HalfNormal(1.0);
        let rho ~ LogNormal(0.0, 0.5);
        let d ~ HalfNormal(0.5).iid(4);
        let w ~ Normal(0.0, 1.0).iid((4, 2));
        let k = add_diag(gp_exp_quad_cov(x, alpha, rho), d);
        let l = k.cholesky();
        target += sum(quad_form(k, w)) + 0.3 * sum(quad_form(a, w));
        target += sum(mdivide_left_tri_low(l, w) * 0.5);
        target += dot_self(mdivide_left_tri_low(l, d));
    }
}

/// The lower Cholesky factor by the textbook loops.
fn chol(a: &[[f64; 4]; 4]) -> [[f64; 4]; 4] {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            l[i][j] = if i == j {
                (a[i][i] - s).sqrt()
            } else {
                (a[i][j] - s) / l[j][j]
            };
        }
    }
    l
}

/// `L^-1 b` by forward substitution.
fn solve_low(l: &[[f64; 4]; 4], b: [f64; 4]) -> [f64; 4] {
    let mut x = [0.0; 4];
    for i in 0..4 {
        let s: f64 = (0..i).map(|k| l[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / l[i][i];
    }
    x
}

#[test]
fn matrix_forms_on_a_latent_path() {
    let pts = [[0.0, 0.0], [1.0, 0.5], [-0.3, 1.2], [0.8, -0.9]];
    let x: Vec<DVector<f64>> = pts.iter().map(|p| DVector::from_row_slice(p)).collect();
    let a = DMatrix::from_fn(4, 4, |i, j| {
        0.2 * (i as f64 - j as f64) + 0.1 * (i * j) as f64
    });
    let m = matrix_forms(&x, &a).unwrap();
    assert_eq!(m.dim(), 2 + 4 + 8);
    check_model(&m, 1.0, 5, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.positive();
        let rho = r.positive();
        let d: Vec<f64> = (0..4).map(|_| r.positive()).collect();
        let wv = r.reals(8); // row-major 4 x 2
        r.done();
        let w = |i: usize, c: usize| wv[i * 2 + c];
        let mut lp = half_normal(alpha, 1.0) + log_normal(rho, 0.0, 0.5);
        lp += d.iter().map(|&v| half_normal(v, 0.5)).sum::<f64>();
        lp += wv.iter().map(|&v| normal(v, 0.0, 1.0)).sum::<f64>();
        if jac {
            lp += r.jac;
        }
        let mut k = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                let d2 = (pts[i][0] - pts[j][0]).powi(2) + (pts[i][1] - pts[j][1]).powi(2);
                k[i][j] = alpha * alpha * (-d2 / (2.0 * rho * rho)).exp();
            }
            k[i][i] += d[i];
        }
        // sum of W^T K W and of W^T A W, entry by entry.
        for c in 0..2 {
            for e in 0..2 {
                for i in 0..4 {
                    for j in 0..4 {
                        lp += w(i, c) * (k[i][j] + 0.3 * a[(i, j)]) * w(j, e);
                    }
                }
            }
        }
        let l = chol(&k);
        for c in 0..2 {
            let z = solve_low(&l, [w(0, c), w(1, c), w(2, c), w(3, c)]);
            lp += 0.5 * z.iter().sum::<f64>();
        }
        let z = solve_low(&l, [d[0], d[1], d[2], d[3]]);
        lp + z.iter().map(|v| v * v).sum::<f64>()
    });
}

// --- Errors named in the constructor --------------------------------------------------------

model! {
    /// `theta` forgot its normalisation: not a simplex.
    fn unnormalised(y: &[i64]) {
        let eta ~ Normal(0.0, 1.0).iid(3);
        let theta = eta.exp();
        y ~ Categorical(theta);
    }
}

model! {
    fn simplex_outcomes(y: &[i64], a: &DVector<f64>) {
        let theta ~ Dirichlet(a);
        y ~ Categorical(theta);
    }
}

model! {
    fn density_data_args(y: &DVector<f64>, s: f64, k: &[i64], t: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        let lambda ~ Gamma(2.0, 1.0);
        target += Normal(mu, s).lpdf(y);
        target += Poisson(lambda).lpmf(k);
        target += Weibull(lambda, 2.0).lccdf(t);
    }
}

#[test]
fn a_latent_theta_is_checked_in_the_constructor() {
    let e = unnormalised(&[0, 1, 2]).err().unwrap();
    let msg = e.to_string();
    assert!(
        matches!(&e, ModelError::Statement { argument: Some(a), .. } if a == "theta"),
        "{msg}"
    );
    assert!(
        msg.contains("y ~ Categorical(theta)") && msg.contains("simplex"),
        "{msg}"
    );
    // A Dirichlet latent is a simplex: categories 0..3 pass, 3 is named with its index.
    let a = DVector::from_vec(vec![1.0, 2.0, 3.0]);
    assert!(simplex_outcomes(&[0, 2, 1], &a).is_ok());
    let e = simplex_outcomes(&[0, 2, 3, 1], &a).err().unwrap();
    assert!(
        matches!(&e, ModelError::Statement { argument: Some(n), index: Some(2), .. } if n == "y"),
        "{e}"
    );
}

#[test]
fn density_expressions_check_their_data_in_the_constructor() {
    let y = DVector::from_vec(vec![0.1, -0.4]);
    // Valid: a CDF's value may lie anywhere (t < 0 is below Weibull's support: lccdf = 0).
    let m = density_data_args(&y, 1.5, &[0, 3], &[1.0, -2.0]).unwrap();
    assert!(m.log_density(&[0.1, 0.2]).is_finite());
    let e = density_data_args(&y, -1.5, &[0, 3], &[1.0]).err().unwrap();
    assert!(
        matches!(&e, ModelError::Statement { argument: Some(a), .. } if a == "sigma"),
        "{e}"
    );
    assert!(e.to_string().contains("Normal(mu, s).lpdf(y)"), "{e}");
    let e = density_data_args(&y, 1.5, &[0, -3], &[1.0]).err().unwrap();
    assert!(
        matches!(&e, ModelError::Statement { argument: Some(a), index: Some(1), .. } if a == "x"),
        "{e}"
    );
}

// --- Laplace and VI (DADVI, the default) on multivariate and constrained latents ------------

model! {
    fn dirichlet_counts(alpha: &DVector<f64>, counts: &DVector<f64>) {
        let theta ~ Dirichlet(alpha);
        counts ~ Multinomial(theta);
    }
}

model! {
    fn mvn_mean_known_cov(
        y: &DMatrix<f64>,
        sigma: &DMatrix<f64>,
        m0: &DVector<f64>,
        s0: &DMatrix<f64>,
    ) {
        let mu ~ MultiNormal(m0, s0);
        y ~ MultiNormal(mu, sigma);
    }
}

/// The approximation's mean and sd of each element of `name`, from its draws.
fn mean_sd(post: &Posterior, name: &str) -> (Vec<f64>, Vec<f64>) {
    (post.mean(name).unwrap(), post.sd(name).unwrap())
}

#[test]
fn laplace_and_vi_on_a_simplex_match_the_conjugate_posterior() {
    // N = 2000 counts: the posterior Dirichlet(alpha + counts) is concentrated, and near
    // Gaussian on the stick-breaking scale the approximations work on.
    let alpha = DVector::from_vec(vec![1.0, 2.0, 0.5, 1.5]);
    let counts = DVector::from_vec(vec![480.0, 1210.0, 95.0, 215.0]);
    let m = dirichlet_counts(&alpha, &counts).unwrap();
    let a: Vec<f64> = alpha
        .iter()
        .zip(counts.iter())
        .map(|(a, c)| a + c)
        .collect();
    let s: f64 = a.iter().sum();
    let exact_mean: Vec<f64> = a.iter().map(|ai| ai / s).collect();
    let exact_sd: Vec<f64> = exact_mean
        .iter()
        .map(|m| (m * (1.0 - m) / (s + 1.0)).sqrt())
        .collect();
    let laplace = Laplace::default().seed(1).draws(4000).fit(&m).unwrap();
    let vi = Vi::default().seed(1).draws(4000).fit(&m).unwrap();
    for (what, post) in [("Laplace", &laplace), ("VI", &vi)] {
        let (mean, sd) = mean_sd(post, "theta");
        for d in post.draws("theta").unwrap() {
            assert!(
                (d.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "{what}: not a simplex"
            );
        }
        for i in 0..4 {
            // Means within a fifth of a posterior sd (the draws' own error is sd / 63).
            assert!(
                (mean[i] - exact_mean[i]).abs() < 0.2 * exact_sd[i],
                "{what} theta.{}: mean {} vs exact {} (sd {})",
                i + 1,
                mean[i],
                exact_mean[i],
                exact_sd[i]
            );
            let r = sd[i] / exact_sd[i];
            assert!(
                (0.8..1.25).contains(&r),
                "{what} theta.{}: sd ratio {r}",
                i + 1
            );
        }
    }
}

#[test]
fn laplace_and_vi_on_a_multi_normal_mean_match_the_exact_posterior() {
    // N = 500 draws near (100, -3) with correlation 0.95: the posterior of mu is exactly
    // normal, with precision P = S0^-1 + N Sigma^-1 and mean P^-1 (S0^-1 m0 + N Sigma^-1 ybar).
    let n = 500;
    let sigma = DMatrix::from_row_slice(2, 2, &[1.0, 0.95 * 1.5, 0.95 * 1.5, 2.25]);
    let y = DMatrix::from_fn(n, 2, |i, j| {
        let t = (i as f64 * 0.7).sin();
        let s = (i as f64 * 1.3).cos();
        if j == 0 {
            100.0 + t
        } else {
            -3.0 + 1.5 * (0.95 * t + 0.3 * s)
        }
    });
    let m0 = DVector::from_vec(vec![0.0, 0.0]);
    let s0 = DMatrix::from_row_slice(2, 2, &[1e4, 0.0, 0.0, 1e4]);
    let m = mvn_mean_known_cov(&y, &sigma, &m0, &s0).unwrap();
    // The exact posterior, by 2 x 2 algebra written out.
    let inv2 = |a: &DMatrix<f64>| {
        let d = a[(0, 0)] * a[(1, 1)] - a[(0, 1)] * a[(1, 0)];
        DMatrix::from_row_slice(
            2,
            2,
            &[a[(1, 1)] / d, -a[(0, 1)] / d, -a[(1, 0)] / d, a[(0, 0)] / d],
        )
    };
    let si = inv2(&sigma);
    let ybar = DVector::from_vec(vec![y.column(0).mean(), y.column(1).mean()]);
    let p = inv2(&s0) + &si * n as f64;
    let cov = inv2(&p);
    let mean = &cov * (&si * &ybar * n as f64);
    let sd = [cov[(0, 0)].sqrt(), cov[(1, 1)].sqrt()];
    let draws = 4000;
    let laplace = Laplace::default().seed(2).draws(draws).fit(&m).unwrap();
    let (lm, ls) = mean_sd(&laplace, "mu");
    for i in 0..2 {
        // Exact in the limit: only the draws' Monte Carlo error remains.
        let mc = sd[i] / (draws as f64).sqrt();
        assert!(
            (lm[i] - mean[i]).abs() < 4.0 * mc,
            "Laplace mu.{}: {} vs {}",
            i + 1,
            lm[i],
            mean[i]
        );
        assert!(
            (ls[i] / sd[i] - 1.0).abs() < 0.05,
            "Laplace mu.{}: sd {} vs {}",
            i + 1,
            ls[i],
            sd[i]
        );
    }
    // VI of a normal posterior: the exact means; the mean-field sds are the conditional
    // ones 1 / sqrt(P_ii), far below the marginal ones at correlation 0.95, and the
    // linear-response correction the default VI reports gives back the marginal ones.
    let vi = Vi::default().seed(2).draws(draws).fit(&m).unwrap();
    let (vm, vs) = mean_sd(&vi, "mu");
    for i in 0..2 {
        let mf = 1.0 / p[(i, i)].sqrt();
        assert!(mf < 0.4 * sd[i], "the test needs a strong correlation");
        assert!(
            (vm[i] - mean[i]).abs() < 0.1 * sd[i],
            "VI mu.{}: {} vs {}",
            i + 1,
            vm[i],
            mean[i]
        );
        assert!(
            (vs[i] / sd[i] - 1.0).abs() < 0.05,
            "VI mu.{}: sd {} vs exact {} (mean-field {mf})",
            i + 1,
            vs[i],
            sd[i]
        );
    }
}
