//! The DSL's constructs (issue 13): `~` on a latent's expression and `Flat`, each model's
//! density against a formula written here and its gradient against finite differences.

use crate::helpers::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use vi::prelude::*;

// --- Stochastic volatility, Stan's form against the non-centred form ------------------------

model! {
    /// Stochastic volatility as Stan's user guide writes it: the log volatility `h` has an
    /// AR(1) prior given element by element with `~`.
    pub fn sv_centred(y: &[f64]) {
        let mu ~ Normal(0.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfCauchy(5.0);
        let h ~ Flat.iid(y.len());
        h[0] ~ Normal(mu, sigma / (1.0 - phi * phi).sqrt());
        for t in 1..y.len() {
            h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma);
        }
        for t in 0..y.len() {
            y[t] ~ Normal(0.0, (h[t] / 2.0).exp());
        }
    }
}

model! {
    /// The same model, non-centred (posteriordb's `stochastic_volatility_optimized` form):
    /// standard-normal innovations scaled and accumulated into `h`.
    fn sv_noncentred(y: &[f64]) {
        let mu ~ Normal(0.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfCauchy(5.0);
        let h_std ~ Normal(0.0, 1.0).iid(y.len());
        let mut h = h_std * sigma;
        h[0] /= (1.0 - phi * phi).sqrt();
        h += mu;
        for t in 1..y.len() {
            h[t] += phi * (h[t - 1] - mu);
        }
        for t in 0..y.len() {
            y[t] ~ Normal(0.0, (h[t] / 2.0).exp());
        }
    }
}

/// Returns simulated from the model with a fixed seed: T = 400, mu = -1, phi = 0.95,
/// sigma = 0.25 (a daily series' typical values).
fn sv_series(t: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(13);
    let (mu, phi, sigma) = (-1.0, 0.95, 0.25);
    let mut h = mu + sigma / (1.0f64 - phi * phi).sqrt() * rng.sample::<f64, _>(StandardNormal);
    let mut y = Vec::with_capacity(t);
    for _ in 0..t {
        y.push((h / 2.0).exp() * rng.sample::<f64, _>(StandardNormal));
        h = mu + phi * (h - mu) + sigma * rng.sample::<f64, _>(StandardNormal);
    }
    y
}

/// Stan's form's log density, written out.
fn sv_reference(y: &[f64], th: &[f64], jac: bool) -> f64 {
    let n = y.len();
    let mut r = Reader::new(th);
    let mu = r.real();
    let phi = r.interval(-1.0, 1.0);
    let sigma = r.positive();
    let h = r.reals(n);
    r.done();
    let mut lp = normal(mu, 0.0, 10.0) + uniform(phi, -1.0, 1.0) + half_cauchy(sigma, 5.0);
    lp += normal(h[0], mu, sigma / (1.0 - phi * phi).sqrt());
    for t in 1..n {
        lp += normal(h[t], mu + phi * (h[t - 1] - mu), sigma);
    }
    for t in 0..n {
        lp += normal(y[t], 0.0, (h[t] / 2.0).exp());
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn stochastic_volatility_in_stans_form() {
    let y = sv_series(400);
    let m = sv_centred(&y).unwrap();
    assert_eq!(m.layout().names(), ["mu", "phi", "sigma", "h"]);
    assert_eq!(m.dim(), 403);
    // Density against the formula, gradient against finite differences.
    check_model(&m, 1.0, 3, |th, jac| sv_reference(&y, th, jac));
}

#[test]
fn stochastic_volatility_centred_equals_non_centred() {
    // At the same (mu, phi, sigma) and h = the non-centred map of h_std, the two densities
    // differ by the log Jacobian of that map, ln|dh/dh_std| = n ln sigma - ln(1 - phi^2) / 2:
    // p(h) = p(h_std) / |dh/dh_std|. Checked with the Jacobians of the constraints included.
    let y = sv_series(400);
    let n = y.len();
    let c = sv_centred(&y).unwrap();
    let nc = sv_noncentred(&y).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..4 {
        let head: Vec<f64> = (0..3).map(|_| rng.random_range(-1.5..1.5)).collect();
        let h_std: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        // The constraints' maps: phi in (-1, 1) by -1 + 2 logistic(x), sigma = exp(x).
        let (mu, phi, sigma) = (head[0], 2.0 / (1.0 + (-head[1]).exp()) - 1.0, head[2].exp());
        let mut h: Vec<f64> = h_std.iter().map(|z| z * sigma).collect();
        h[0] /= (1.0 - phi * phi).sqrt();
        for v in h.iter_mut() {
            *v += mu;
        }
        for t in 1..n {
            h[t] += phi * (h[t - 1] - mu);
        }
        let th_c: Vec<f64> = head.iter().copied().chain(h).collect();
        let th_nc: Vec<f64> = head.iter().copied().chain(h_std).collect();
        let log_jac = n as f64 * sigma.ln() - 0.5 * (1.0 - phi * phi).ln();
        let (a, b) = (c.log_density(&th_c), nc.log_density(&th_nc));
        assert!(
            close(a, b - log_jac, 1e-10),
            "centred {a} vs non-centred {b} - log Jacobian {log_jac}"
        );
    }
}

// --- `~` on whole latents and on expressions of latents -------------------------------------

model! {
    /// A soft sum-to-zero constraint and a prior given after the declaration, on a whole
    /// latent: linear left sides, no warning.
    fn soft_sum(y: &[f64]) {
        let a ~ Flat.iid(y.len());
        let s ~ HalfNormal(1.0);
        a ~ Normal(0.0, 2.0);
        a.sum() ~ Normal(0.0, 0.001 * y.len() as f64);
        y ~ Normal(a * 3.0 - 1.0, s);
    }
}

#[test]
fn tilde_on_a_whole_latent_and_a_sum() {
    let y = [0.4, -1.2, 2.5, 0.3, 1.1];
    let m = soft_sum(&y).unwrap();
    assert_eq!(m.layout().names(), ["a", "s"]);
    check_model(&m, 1.0, 4, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.reals(5);
        let s = r.positive();
        r.done();
        let mut lp = half_normal(s, 1.0);
        lp += a.iter().map(|&v| normal(v, 0.0, 2.0)).sum::<f64>();
        lp += normal(a.iter().sum(), 0.0, 0.005);
        lp += (0..5)
            .map(|i| normal(y[i], a[i] * 3.0 - 1.0, s))
            .sum::<f64>();
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    /// A nonlinear left side: the density of `exp(u)` as written, with the Jacobian added by
    /// hand, which makes `exp(u)` LogNormal(0.3, 0.7)-distributed. The macro warns about the
    /// missing Jacobian; `#[allow(deprecated)]` silences it once the Jacobian is there.
    #[allow(deprecated)]
    fn by_hand_jacobian(y: &[f64]) {
        let u ~ Flat;
        u.exp() ~ LogNormal(0.3, 0.7);
        target += u;
        y ~ Normal(u, 1.0);
    }
}

#[test]
fn tilde_on_a_nonlinear_expression_adds_its_density_as_written() {
    let y = [0.1, 0.5];
    let m = by_hand_jacobian(&y).unwrap();
    check_model(&m, 1.5, 6, |th, _| {
        let u = th[0];
        log_normal(u.exp(), 0.3, 0.7) + u + normal(y[0], u, 1.0) + normal(y[1], u, 1.0)
    });
}

// --- Derived quantities: `#[keep]` --------------------------------------------------------

model! {
    /// Eight schools, non-centred (posteriordb eight_schools_noncentered), with the schools'
    /// effects kept for the posterior as Stan's transformed parameters.
    fn eight_schools_kept(y: &[f64], sigma: &[f64]) {
        let mu ~ Normal(0.0, 5.0);
        let tau ~ HalfCauchy(5.0);
        let theta_tilde ~ Normal(0.0, 1.0).iid(y.len());
        #[keep]
        let theta = mu + tau * theta_tilde;
        #[keep]
        let shrink = tau / (tau + 10.0);
        y ~ Normal(theta, sigma);
    }
}

/// Every kept draw equals the formula applied to the same draw's latents, and the kept
/// values are reported like latents: mean, sd, quantiles, summary rows, the CSV.
fn check_kept(post: &Posterior) {
    assert_eq!(
        post.layout().names(),
        ["mu", "tau", "theta_tilde", "theta", "shrink"]
    );
    assert_eq!(post.layout().latent_dim(), 10);
    assert!(post.layout().is_derived("theta") && !post.layout().is_derived("tau"));
    let (mu, tau) = (post.draws("mu").unwrap(), post.draws("tau").unwrap());
    let tt = post.draws("theta_tilde").unwrap();
    let theta = post.draws("theta").unwrap();
    let shrink = post.draws("shrink").unwrap();
    assert_eq!(theta.len(), post.num_draws());
    for d in 0..post.num_draws() {
        for j in 0..8 {
            let want = mu[d][0] + tau[d][0] * tt[d][j];
            assert!((theta[d][j] - want).abs() <= 1e-12 * (1.0 + want.abs()));
        }
        let want = tau[d][0] / (tau[d][0] + 10.0);
        assert!((shrink[d][0] - want).abs() <= 1e-15);
    }
    // The statistics of a kept value are those of its draws.
    let mean0 = theta.iter().map(|t| t[0]).sum::<f64>() / theta.len() as f64;
    assert!((post.mean("theta").unwrap()[0] - mean0).abs() < 1e-10);
    assert!(post.sd("theta").unwrap()[7] > 0.0);
    assert!(post.quantile("theta", 0.5).is_ok());
    let s = post.summary();
    assert!(s.row("theta.8").is_some() && s.row("shrink").is_some());
    let mut csv = Vec::new();
    post.to_csv(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let header = csv.lines().find(|l| l.starts_with("lp__")).unwrap();
    assert!(header.ends_with("theta.7,theta.8,shrink"), "{header}");
}

#[test]
fn kept_values_by_every_engine() {
    let (y, s) = (
        crate::macro_models::data::EIGHT_SCHOOLS_Y,
        crate::macro_models::data::EIGHT_SCHOOLS_SIGMA,
    );
    let m = eight_schools_kept(&y, &s).unwrap();
    assert_eq!(m.dim(), 10);
    assert_eq!(m.derived_layout().names(), ["theta", "shrink"]);
    let nuts = Nuts::default()
        .seed(3)
        .chains(2)
        .warmup(300)
        .draws(300)
        .fit(&m)
        .unwrap();
    check_kept(&nuts);
    // NUTS reports R-hat and ESS for kept values too.
    let row = nuts.summary().row("theta.1").cloned().unwrap();
    assert!(row.r_hat.is_some_and(f64::is_finite), "{row:?}");
    assert!(row.ess_bulk.is_some_and(|e| e > 10.0), "{row:?}");
    check_kept(&Laplace::default().seed(3).fit(&m).unwrap());
    check_kept(&Vi::default().seed(3).fit(&m).unwrap());
}

// --- Index errors name the index -------------------------------------------------------------

model! {
    /// Varying intercepts by county, the codes 0-based as the model reads them.
    fn by_county(county: &[usize], y: &[f64]) {
        let a ~ Normal(0.0, 1.0).iid(3);
        let sigma ~ HalfNormal(1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]], sigma);
        }
    }
}

model! {
    /// A matrix latent indexed in two nested loops.
    fn cells(row: &[usize], col: &[usize], y: &[f64]) {
        let m ~ Normal(0.0, 1.0).iid((2, 2));
        for k in 0..y.len() {
            for r in 0..1 {
                y[k] ~ Normal(m[(row[k] + r, col[k])], 1.0);
            }
        }
    }
}

#[test]
fn an_index_out_of_range_names_the_vector_the_index_and_the_loop() {
    let y = [0.5, -0.2, 1.0, 0.3];
    // 1-based codes: the third observation reads `a[3]` of a vector of length 3.
    let e = by_county(&[1, 2, 3, 1], &y).err().expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `y[i] ~ Normal(a[county[i]], sigma)`: index 3 is out of range for `a` of length 3 \
         at i = 2"
    );
    assert!(by_county(&[0, 1, 2, 0], &y).is_ok());
    let e = cells(&[0, 1, 2, 0], &[1, 1, 0, 1], &y)
        .err()
        .expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `y[k] ~ Normal(m[(row[k] + r, col[k])], 1.0)`: index (2, 0) is out of range for `m` \
         of shape 2x2 at k = 2, r = 0"
    );
}

// --- User functions -------------------------------------------------------------------------

model! {
    /// The Hill equation: the fraction of the maximal effect at `dose`.
    fn hill(dose: f64, ec50: f64, h: f64) -> f64 {
        let r = (dose / ec50).powf(h);
        r / (1.0 + r)
    }

    /// The Emax model, through `hill`.
    fn emax_model(dose: f64, e0: f64, emax: f64, ec50: f64, h: f64) -> f64 {
        e0 + emax * hill(dose, ec50, h)
    }

    /// A dose-response curve with a user function on the latents' path and on data.
    fn dose_response(dose: &[f64], y: &[f64]) {
        let e0 ~ Normal(0.0, 10.0);
        let emax ~ Normal(0.0, 100.0);
        let ec50 ~ LogNormal(2.0, 1.0);
        let h ~ LogNormal(0.0, 0.5);
        let sigma ~ HalfNormal(5.0);
        let offset = hill(dose[0], 10.0, 2.0) + hill(1.0, 10.0, 2.0);
        for i in 0..y.len() {
            y[i] ~ Normal(emax_model(dose[i], e0, emax, ec50, h) + offset, sigma);
        }
    }
}

#[test]
fn a_user_function_on_a_latent_path_and_on_data() {
    // Doses from 0.5 to 160 (a dilution series), responses from the curve with noise.
    let dose: Vec<f64> = (0..9).map(|k| 0.5 * 2f64.powi(k)).collect();
    let y: Vec<f64> = dose
        .iter()
        .enumerate()
        .map(|(k, d)| 3.0 + 80.0 * d * d / (64.0 + d * d) + ((k * 7) % 5) as f64 - 2.0)
        .collect();
    let m = dose_response(&dose, &y).unwrap();
    assert_eq!(m.layout().names(), ["e0", "emax", "ec50", "h", "sigma"]);
    let hill = |d: f64, e: f64, h: f64| {
        let r = (d / e).powf(h);
        r / (1.0 + r)
    };
    check_model(&m, 1.0, 8, |th, jac| {
        let mut r = Reader::new(th);
        let e0 = r.real();
        let emax = r.real();
        let ec50 = r.positive();
        let h = r.positive();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(e0, 0.0, 10.0)
            + normal(emax, 0.0, 100.0)
            + log_normal(ec50, 2.0, 1.0)
            + log_normal(h, 0.0, 0.5)
            + half_normal(sigma, 5.0);
        // hill(0.5, 10, 2) + hill(1, 10, 2) = 0.0025 / 1.0025 + 0.01 / 1.01
        let offset = 0.0025 / 1.0025 + 0.01 / 1.01;
        for i in 0..y.len() {
            lp += normal(y[i], e0 + emax * hill(dose[i], ec50, h) + offset, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}
