//! Data in `model!`: integer slices and vectors, `bool` observations and nalgebra views
//! meeting latents in arithmetic (log density vs a hand-written formula, gradient vs central
//! finite differences through `check_model`); empty data and zero-length latents (the
//! density is the other statements' alone, and every engine still fits).

use crate::helpers::*;
use nalgebra::{DMatrix, DVector, DVectorView, Vector3};
use rand::SeedableRng;
use vi::prelude::*;

// --- Integer data meeting latents ---------------------------------------------------------

model! {
    /// Poisson regression on integer counts and an integer covariate.
    fn counts_reg(ks: &[i64], xs: Vec<usize>, us: &[u32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let c ~ Normal(0.0, 1.0);
        ks ~ PoissonLog(xs * b + a + us * c * 0.5);
        for i in 0..ks.len() {
            ks[i] ~ PoissonLog(xs[i] * b - us[i] * c);
        }
        let mut scaled = us;
        for i in 0..us.len() {
            scaled[i] = scaled[i] * c + xs[i];
        }
        target += -0.1 * dot(scaled, scaled);
    }
}

fn counts_data() -> (Vec<i64>, Vec<usize>, Vec<u32>) {
    (
        vec![0, 3, 1, 7, 2],
        vec![0, 2, 1, 3, 1],
        vec![4, 0, 2, 1, 3],
    )
}

#[test]
fn integer_slices_and_vecs_meet_latents() {
    let (ks, xs, us) = counts_data();
    let m = counts_reg(&ks, xs.clone(), &us).unwrap();
    check_model(&m, 1.0, 11, |th, _| {
        let mut r = Reader::new(th);
        let (a, b, c) = (r.real(), r.real(), r.real());
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + normal(b, 0.0, 1.0) + normal(c, 0.0, 1.0);
        for i in 0..ks.len() {
            let eta = xs[i] as f64 * b + a + us[i] as f64 * c * 0.5;
            lp += poisson_log(ks[i] as f64, eta);
            lp += poisson_log(ks[i] as f64, xs[i] as f64 * b - us[i] as f64 * c);
            let s = us[i] as f64 * c + xs[i] as f64;
            lp += -0.1 * s * s;
        }
        lp
    });
}

model! {
    /// Views of a data matrix: columns against latent scalars, rows in a loop.
    fn views(x: &DMatrix<f64>, y: &DVector<f64>, z: &[f64]) {
        let beta ~ Normal(0.0, 1.0).iid(2);
        let alpha ~ Normal(0.0, 1.0);
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x.column(0) * beta[0] + x.column(1) * beta[1] + alpha, sigma);
        for i in 0..z.len() {
            z[i] ~ Normal(dot(x.row(i), w), sigma);
        }
        let top = x.rows(0, 2);
        target += -0.5 * sum((top * w).powi(2));
        let last: DVectorView<f64> = x.column(2);
        target += -0.5 * sum((last * alpha).powi(2)) + sum(x.columns(0, 2) * beta);
    }
}

fn views_data() -> (DMatrix<f64>, DVector<f64>, Vec<f64>) {
    let x = DMatrix::from_row_slice(
        4,
        3,
        &[
            0.5, -1.0, 2.0, 1.5, 0.3, -0.7, -0.2, 0.8, 1.1, 1.0, -1.3, 0.4,
        ],
    );
    let y = DVector::from_vec(vec![0.3, 1.2, -0.4, 0.9]);
    (x, y, vec![0.7, -1.1, 0.2, 0.5])
}

#[test]
fn nalgebra_views_meet_latents() {
    let (x, y, z) = views_data();
    let m = views(&x, &y, &z).unwrap();
    check_model(&m, 1.0, 12, |th, jac| {
        let mut r = Reader::new(th);
        let beta = r.reals(2);
        let alpha = r.real();
        let w = r.reals(3);
        let sigma = r.positive();
        r.done();
        let mut lp = beta
            .iter()
            .chain(&w)
            .map(|&v| normal(v, 0.0, 1.0))
            .sum::<f64>()
            + normal(alpha, 0.0, 1.0)
            + half_normal(sigma, 1.0);
        for i in 0..4 {
            let mu = x[(i, 0)] * beta[0] + x[(i, 1)] * beta[1] + alpha;
            lp += normal(y[i], mu, sigma);
            let d: f64 = (0..3).map(|j| x[(i, j)] * w[j]).sum();
            lp += normal(z[i], d, sigma);
        }
        for i in 0..2 {
            let t: f64 = (0..3).map(|j| x[(i, j)] * w[j]).sum();
            lp += -0.5 * t * t;
        }
        for i in 0..4 {
            lp += -0.5 * (x[(i, 2)] * alpha).powi(2) + x[(i, 0)] * beta[0] + x[(i, 1)] * beta[1];
        }
        if jac {
            lp += r.jac;
        }
        lp
    });
}

model! {
    /// Integer matrices seen through views, `bool` observations, an integer slice and a
    /// fixed-size vector in `dot`, a view bound to a local name.
    fn int_views(m: &DMatrix<i32>, flags: &[bool], ks: &[u32], v3: &Vector3<f64>) {
        let w ~ Normal(0.0, 1.0).iid(3);
        let b ~ Normal(0.0, 1.0);
        flags ~ BernoulliLogit(m.column(0) * b + m.column(2) * w[1]);
        target += dot(ks, w) * 0.1 - dot(v3, w);
        let top = m.rows(0, 2);
        target += -0.5 * sum((top * w).powi(2));
        let col = m.column(1);
        for i in 0..m.nrows() {
            target += dot(m.row(i), w) * 0.01 + col[i] as f64 * b;
        }
        target += sum(col * b) * 0.5;
    }
}

#[test]
fn integer_views_bools_and_fixed_vectors() {
    let m = DMatrix::from_row_slice(4, 3, &[1, -2, 0, 3, 1, 2, 0, 4, -1, 2, 2, 1]);
    let flags = [true, false, true, true];
    let ks = [3u32, 0, 2];
    let v3 = Vector3::new(0.5, -1.5, 2.0);
    let model = int_views(&m, &flags, &ks, &v3).unwrap();
    check_model(&model, 1.0, 15, |th, _| {
        let mut r = Reader::new(th);
        let w = r.reals(3);
        let b = r.real();
        r.done();
        let x = |i: usize, j: usize| f64::from(m[(i, j)]);
        let mut lp = w.iter().map(|&v| normal(v, 0.0, 1.0)).sum::<f64>() + normal(b, 0.0, 1.0);
        for (i, &f) in flags.iter().enumerate() {
            let y = if f { 1.0 } else { 0.0 };
            lp += bernoulli_logit(y, x(i, 0) * b + x(i, 2) * w[1]);
        }
        lp += (0..3).map(|j| f64::from(ks[j]) * w[j]).sum::<f64>() * 0.1;
        lp -= (0..3).map(|j| v3[j] * w[j]).sum::<f64>();
        for i in 0..2 {
            let t: f64 = (0..3).map(|j| x(i, j) * w[j]).sum();
            lp += -0.5 * t * t;
        }
        for i in 0..4 {
            let d: f64 = (0..3).map(|j| x(i, j) * w[j]).sum();
            lp += d * 0.01 + x(i, 1) * b + 0.5 * x(i, 1) * b;
        }
        lp
    });
}

// --- Empty data and zero-length latents ---------------------------------------------------

model! {
    /// With no observations (N = 0), only the priors of `mu` and `w` remain: `z` has length
    /// 0, every observation statement and the loop add nothing.
    fn maybe_empty(x: &DMatrix<f64>, y: &[f64], ks: &[i64]) {
        let z ~ Normal(0.0, 1.0).iid(y.len());
        let mu ~ Normal(1.5, 0.5);
        let w ~ Normal(0.0, 2.0).iid(x.ncols());
        y ~ Normal(x * w + mu + z, 1.0);
        ks ~ PoissonLog(z * 0.5 + mu);
        for i in 0..y.len() {
            y[i] ~ Normal(mu, 1.0 + w[0].exp());
        }
        target += sum(z) - 0.5 * dot(z, z);
    }
}

/// The density of `maybe_empty` written out: the priors, then one term per observation.
fn maybe_empty_reference(x: &DMatrix<f64>, y: &[f64], ks: &[i64], th: &[f64]) -> f64 {
    let n = y.len();
    let mut r = Reader::new(th);
    let z = r.reals(n);
    let mu = r.real();
    let w = r.reals(x.ncols());
    r.done();
    let mut lp = normal(mu, 1.5, 0.5) + w.iter().map(|&v| normal(v, 0.0, 2.0)).sum::<f64>();
    for i in 0..n {
        let xw: f64 = (0..x.ncols()).map(|j| x[(i, j)] * w[j]).sum();
        lp += normal(z[i], 0.0, 1.0)
            + normal(y[i], xw + mu + z[i], 1.0)
            + poisson_log(ks[i] as f64, z[i] * 0.5 + mu)
            + normal(y[i], mu, 1.0 + w[0].exp())
            + z[i]
            - 0.5 * z[i] * z[i];
    }
    lp
}

#[test]
fn empty_data_leaves_the_prior() {
    let x = DMatrix::<f64>::zeros(0, 2);
    let m = maybe_empty(&x, &[], &[]).unwrap();
    // `z` is in the layout with no elements.
    let z = m.layout().get("z").unwrap();
    assert_eq!((z.shape.clone(), z.size()), (vec![0], 0));
    assert_eq!(m.dim(), 3);
    assert_eq!(m.layout().flat_names(), ["mu", "w.1", "w.2"]);
    check_model(&m, 2.0, 13, |th, _| maybe_empty_reference(&x, &[], &[], th));
    // Exactly the prior part: nothing else is added, not even a zero that is not one.
    let th = [0.3, -0.4, 1.1];
    let prior = normal(0.3, 1.5, 0.5) + normal(-0.4, 0.0, 2.0) + normal(1.1, 0.0, 2.0);
    assert_eq!(m.log_density(&th), prior);
    // Replicates of empty observations are empty.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let sims = m.simulate(&[0.0, 1.5, 0.0, 0.0][1..], &mut rng);
    assert_eq!(sims.len(), 3);
    assert!(sims.iter().all(|(_, v)| v.is_empty()), "{sims:?}");
}

#[test]
fn the_same_model_with_data() {
    let x = DMatrix::from_row_slice(3, 2, &[0.5, -1.0, 1.5, 0.3, -0.2, 0.8]);
    let (y, ks) = ([0.4, 1.9, -0.3], [2, 0, 5]);
    let m = maybe_empty(&x, &y, &ks).unwrap();
    assert_eq!(m.dim(), 6);
    check_model(&m, 1.0, 14, |th, _| maybe_empty_reference(&x, &y, &ks, th));
}

// Engines on the prior-only fit. The posterior is the prior, N(1.5, 0.5^2) for `mu` and
// N(0, 2^2) for each `w`, Gaussian: Laplace is exact (1e-6), VI's mean-field guide is exact
// (means within 1% of an sd, sds within 5%, the runtime tests' tolerances), NUTS within
// 4 MCSE for the means and 10% for the sds (4 x 1000 draws; see `engines.rs`).
const PRIOR: [(&str, usize, f64, f64); 3] =
    [("mu", 0, 1.5, 0.5), ("w", 0, 0.0, 2.0), ("w", 1, 0.0, 2.0)];

fn empty_model() -> MaybeEmpty {
    maybe_empty(&DMatrix::<f64>::zeros(0, 2), &[], &[]).unwrap()
}

/// What every fit of the prior-only model must show besides its numbers: `z` is known and
/// empty, and the summary and the CSV list the three other elements.
fn check_zero_length_latent(post: &Posterior) {
    assert_eq!(post.mean("z").unwrap(), Vec::<f64>::new());
    assert_eq!(post.sd("z").unwrap(), Vec::<f64>::new());
    assert!(post.draws("z").unwrap().iter().all(|d| d.is_empty()));
    assert_eq!(post.draws("z").unwrap().len(), post.num_draws());
    let s = post.summary();
    assert!(s.row("mu").is_some() && s.row("w.2").is_some());
    assert!(s.row("z").is_none() && s.row("z.1").is_none());
    let mut csv = Vec::new();
    post.to_csv(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let header = csv.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(header.ends_with("mu,w.1,w.2"), "{header}");
}

#[test]
fn laplace_fits_a_prior_only_model() {
    let post = Laplace::default().seed(5).fit(&empty_model()).unwrap();
    let Diagnostics::Laplace(d) = post.diagnostics() else {
        panic!("not Laplace")
    };
    assert!(d.converged, "{}", d.stop_reason);
    for (k, &(_, _, mean, sd)) in PRIOR.iter().enumerate() {
        assert!((d.mode[k] - mean).abs() < 1e-6, "{} vs {mean}", d.mode[k]);
        assert!((d.covariance[(k, k)] - sd * sd).abs() < 1e-6);
    }
    // The prior is proper and normalised: the evidence is 1.
    assert!(d.log_evidence.abs() < 1e-6, "{}", d.log_evidence);
    check_zero_length_latent(&post);
}

#[test]
fn vi_fits_a_prior_only_model() {
    let post = Vi::default().seed(11).fit(&empty_model()).unwrap();
    let Diagnostics::Vi(d) = post.diagnostics() else {
        panic!("not VI")
    };
    for (k, &(_, _, mean, sd)) in PRIOR.iter().enumerate() {
        assert!(
            ((d.mean[k] - mean) / sd).abs() < 0.01,
            "{} vs {mean}",
            d.mean[k]
        );
        assert!((d.sd[k] / sd - 1.0).abs() < 0.05, "{} vs {sd}", d.sd[k]);
    }
    check_zero_length_latent(&post);
}

#[test]
fn nuts_fits_a_prior_only_model() {
    let post = Nuts::default()
        .seed(7)
        .chains(4)
        .warmup(500)
        .draws(1000)
        .fit(&empty_model())
        .unwrap();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        panic!("not NUTS")
    };
    assert_eq!(d.total_divergences(), 0);
    for &(name, i, mean, sd) in &PRIOR {
        let flat = if name == "mu" {
            "mu".to_string()
        } else {
            format!("w.{}", i + 1)
        };
        let p = d.param(&flat).unwrap();
        let (m, s) = (post.mean(name).unwrap()[i], post.sd(name).unwrap()[i]);
        assert!(
            (m - mean).abs() < 4.0 * p.mcse_mean,
            "{flat}: {m} vs {mean}"
        );
        assert!((s / sd - 1.0).abs() < 0.10, "{flat}: sd {s} vs {sd}");
        assert!(p.rhat < 1.01, "{flat}: R-hat {}", p.rhat);
    }
    check_zero_length_latent(&post);
}

#[test]
fn empty_observations_against_non_empty_data_are_a_shape_error() {
    // x has 2 rows but y none: `x * w + mu` (2 elements) cannot meet `z` (0).
    let x = DMatrix::from_row_slice(2, 2, &[0.5, -1.0, 1.5, 0.3]);
    match maybe_empty(&x, &[], &[]) {
        Err(ModelError::Shape { statement, message }) => {
            assert_eq!(statement, "y ~ Normal(x * w + mu + z, 1.0)", "{message}");
        }
        Err(e) => panic!("expected a shape error, got {e}"),
        Ok(_) => panic!("2 rows of x against no observations accepted"),
    }
}
