//! Data-subsampled stochastic VI, `Vi::stochastic().minibatch(b)` (issue 16, item 4): the
//! generated `Model::subsample`, the fit against exact posteriors, and the errors of models
//! whose rows cannot be taken apart.

use vi::prelude::*;

model! {
    fn mb_linreg(x: &DVector<f64>, y: &DVector<f64>) {
        let alpha ~ Normal(0.0, 100.0);
        let beta ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(alpha + beta * x, sigma);
    }
}

model! {
    fn mb_logistic(x: &DMatrix<f64>, y: &[i64], n: usize) {
        let a ~ Normal(0.0, 10.0);
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        for i in 0..n {
            y[i] ~ BernoulliLogit(a + x[(i, 0)] * w[0] + x[(i, 1)] * w[1]);
        }
    }
}

model! {
    /// An AR(1): row `t` reads row `t - 1`.
    fn mb_ar1(y: &[f64]) {
        let rho ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for t in 1..y.len() {
            y[t] ~ Normal(rho * y[t - 1], sigma);
        }
    }
}

model! {
    /// The loop reads row `i - 1` while starting at 0: a lag the tokens show.
    fn mb_lag(y: &[f64], n: usize) {
        let sigma ~ HalfNormal(1.0);
        for i in 0..n {
            y[i] ~ Normal(0.5 * y[(i + n - 1) % n], sigma);
        }
    }
}

model! {
    /// Centres `x` by its mean inside the model: a batch's mean is not the data's.
    fn mb_centred(x: &DVector<f64>, y: &DVector<f64>) {
        let xc = x.add_scalar(-x.mean());
        let beta ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(beta * xc, sigma);
    }
}

/// Deterministic pseudo-random numbers in (0, 1).
fn unif(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        })
        .collect()
}

/// Standard normals by Box-Muller.
fn normals(n: usize, seed: u64) -> Vec<f64> {
    let u = unif(2 * n, seed);
    (0..n)
        .map(|i| (-2.0 * u[2 * i].ln()).sqrt() * (std::f64::consts::TAU * u[2 * i + 1]).cos())
        .collect()
}

/// `y = 3 + 0.5 x + 2 e` with `x = 100 + 20 z`: unstandardised, the intercept and slope
/// correlated at -0.98 in the posterior.
fn linreg_data(n: usize) -> (DVector<f64>, DVector<f64>) {
    let z = normals(2 * n, 11);
    let x = DVector::from_fn(n, |i, _| 100.0 + 20.0 * z[i]);
    let y = DVector::from_fn(n, |i, _| 3.0 + 0.5 * x[i] + 2.0 * z[n + i]);
    (x, y)
}

fn vi_diag(fit: &Posterior) -> &vi::ViDiagnostics {
    match fit.diagnostics() {
        Diagnostics::Vi(d) => d,
        _ => unreachable!(),
    }
}

#[test]
fn linreg_at_a_million_rows_matches_the_exact_posterior() {
    let n = 1_000_000;
    let (x, y) = linreg_data(n);
    // The exact posterior, from centred sums. With 10^6 rows the priors (sds 100, 10, 10)
    // move the means by under 1e-9 posterior sds, so the posterior of (alpha, beta) given
    // sigma is the least-squares fit with covariance sigma^2 (X'X)^-1, and that of
    // u = ln sigma has density exp(-(N - 3) u - RSS e^{-2u} / 2) (the coefficients
    // integrated out, the Jacobian e^u included): mode ln(RSS / (N - 3)) / 2, sd
    // 1 / sqrt(2 (N - 3)), its mean within O(1/N) of the mode.
    let nf = n as f64;
    let (xm, ym) = (x.sum() / nf, y.sum() / nf);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        sxx += (x[i] - xm) * (x[i] - xm);
        sxy += (x[i] - xm) * (y[i] - ym);
    }
    let beta = sxy / sxx;
    let alpha = ym - beta * xm;
    let rss: f64 = (0..n).map(|i| (y[i] - alpha - beta * x[i]).powi(2)).sum();
    let s2 = rss / (nf - 3.0);
    let exact_mean = [alpha, beta, 0.5 * s2.ln()];
    let exact_sd = [
        (s2 * (1.0 / nf + xm * xm / sxx)).sqrt(),
        (s2 / sxx).sqrt(),
        1.0 / (2.0 * (nf - 3.0)).sqrt(),
    ];

    let m = mb_linreg(&x, &y).unwrap();
    assert_eq!(m.subsample_rows(), Ok(n));
    let fit = Vi::stochastic()
        .minibatch(1000)
        .seed(5)
        .draws(100)
        .progress(false)
        .fit(&m)
        .unwrap();
    let d = vi_diag(&fit);
    assert!(d.converged, "{d}");
    let mb = d.minibatch.as_ref().unwrap();
    assert_eq!((mb.rows, mb.batch), (n, 1000));
    for k in 0..3 {
        let z = (d.mean[k] - exact_mean[k]) / exact_sd[k];
        assert!(
            z.abs() < 0.1,
            "parameter {k}: {} vs exact {} (sd {}): {z:.3} sds\n{d}",
            d.mean[k],
            exact_mean[k],
            exact_sd[k]
        );
    }
}

#[test]
fn a_batch_is_the_model_on_its_rows() {
    // The generated `subsample` against the model built by hand on the same rows.
    let (x, y) = linreg_data(50);
    let m = mb_linreg(&x, &y).unwrap();
    let rows = [3, 7, 8, 20, 49];
    let sub = m.subsample(&rows).unwrap();
    let xs = DVector::from_iterator(5, rows.iter().map(|&r| x[r]));
    let ys = DVector::from_iterator(5, rows.iter().map(|&r| y[r]));
    let by_hand = mb_linreg(&xs, &ys).unwrap();
    let th = [2.0, 0.4, 0.7];
    assert_eq!(sub.log_density(&th), by_hand.log_density(&th));
    // The prior alone on no rows, and a row past the end refused.
    let prior = m.subsample(&[]).unwrap();
    let empty = mb_linreg(&DVector::zeros(0), &DVector::zeros(0)).unwrap();
    assert_eq!(prior.log_density(&th), empty.log_density(&th));
    assert!(m
        .subsample(&[50])
        .err()
        .unwrap()
        .contains("row 50 is past the 50 rows"));
}

#[test]
fn logistic_loop_over_rows_matches_the_full_data_fit() {
    // A loop over rows with its length an argument; predictors near 100 and near 0.
    let n = 20_000;
    let z = normals(3 * n, 23);
    let x = DMatrix::from_fn(n, 2, |i, j| {
        if j == 0 {
            100.0 + 10.0 * z[i]
        } else {
            z[n + i]
        }
    });
    let u = unif(n, 29);
    let y: Vec<i64> = (0..n)
        .map(|i| {
            let eta = -20.0 + 0.2 * x[(i, 0)] + 1.0 * x[(i, 1)];
            i64::from(u[i] < 1.0 / (1.0 + (-eta).exp()))
        })
        .collect();
    let m = mb_logistic(&x, &y, n).unwrap();
    assert_eq!(m.subsample_rows(), Ok(n));
    // The reference: the same mean-field objective on all the rows with exact gradients
    // (DADVI), and the posterior sds from its linear-response covariance.
    let full = Vi::default().seed(1).draws(100).fit(&m).unwrap();
    let r = vi_diag(&full);
    let fit = Vi::stochastic()
        .minibatch(500)
        .seed(2)
        .draws(100)
        .progress(false)
        .fit(&m)
        .unwrap();
    let d = vi_diag(&fit);
    assert!(d.converged, "{d}");
    for k in 0..3 {
        let z = (d.mean[k] - r.mean[k]) / r.lr_sd[k];
        assert!(
            z.abs() < 0.1,
            "parameter {k}: {} vs {}: {z:.3} sds\n{d}",
            d.mean[k],
            r.mean[k]
        );
    }
    // A loop length that is not the rows' is refused when a batch is built.
    let short = mb_logistic(&x, &y, n - 1).unwrap();
    let e = short.subsample_rows().unwrap_err();
    assert!(
        e.contains("runs to `n` = 19999, but the observations have 20000 rows"),
        "{e}"
    );
}

#[test]
fn same_seed_gives_the_same_minibatch_fit_on_1_and_2_threads() {
    let (x, y) = linreg_data(600_000);
    let m = mb_linreg(&x, &y).unwrap();
    let fit = |t: usize| {
        vi::threads::with_budget(t, || {
            Vi::stochastic()
                .minibatch(500)
                .seed(9)
                .draws(20)
                .max_iterations(2000)
                .progress(false)
                .fit(&m)
                .unwrap()
        })
    };
    let (one, two) = (fit(1), fit(2));
    let bits = |p: &Posterior| {
        vi_diag(p)
            .mean
            .iter()
            .chain(&vi_diag(p).sd)
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&one), bits(&two));
}

#[test]
fn models_whose_rows_cannot_be_taken_apart_are_refused_with_the_reason() {
    let y: Vec<f64> = normals(200, 3);
    let err = |r: Result<Posterior, FitError>| match r {
        Err(FitError::InvalidSettings { message }) => message,
        other => panic!("expected an error, got {other:?}"),
    };
    let vi = Vi::stochastic().minibatch(20).seed(1).progress(false);
    // A loop from 1 (a lag): refused by the macro's plan, before any fit.
    let e = err(vi.fit(&mb_ar1(&y).unwrap()));
    assert!(
        e.contains("`mb_ar1` cannot be subsampled")
            && e.contains("`for t in 1..y.len()`: a loop over rows runs over `0..n`"),
        "{e}"
    );
    // Another row than `i` read inside the loop.
    let e = err(vi.fit(&mb_lag(&y, 200).unwrap()));
    assert!(e.contains("reads another row than row `i`"), "{e}");
    // A statement that reads the data as a whole: found by the check of the row split.
    let x = DVector::from_fn(200, |i, _| 100.0 + i as f64);
    let yy = DVector::from_fn(200, |i, _| 0.3 * i as f64 + y[i]);
    let e = err(vi.fit(&mb_centred(&x, &yy).unwrap()));
    assert!(
        e.contains("is not the prior plus the sum of its batches' likelihoods"),
        "{e}"
    );
    // A hand-written model does not implement subsampling.
    struct Plain(ParamLayout);
    impl Model for Plain {
        fn layout(&self) -> &ParamLayout {
            &self.0
        }
        fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
            g[0] = -t[0];
            -0.5 * t[0] * t[0]
        }
    }
    let mut layout = ParamLayout::new();
    layout.push("z", vec![], Transform::Identity);
    let e = err(vi.fit(&Plain(layout)));
    assert!(
        e.contains("does not implement `Model::subsample_rows`"),
        "{e}"
    );
    // A batch of 0 rows is a setting's error.
    let e = err(Vi::stochastic().minibatch(0).fit(&mb_ar1(&y).unwrap()));
    assert!(e.contains("at least 1 row per batch"), "{e}");
}
