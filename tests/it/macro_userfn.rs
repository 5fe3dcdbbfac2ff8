//! User functions (issue 13 item 2) on realistic data: the Emax dose-response `hill(..)` on
//! 2000 subjects over a dilution series (doses from 0.1 to 1000, not standardised; the
//! response a fraction of the maximal effect), and a
//! vector-valued function applied to a data vector and to a latent's path, each checked by
//! `check_model` (log density against a hand-written formula, 1e-10; gradient against
//! central finite differences, 1e-6).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;

use crate::helpers::*;

model! {
    /// The Hill equation: the fraction of the maximal effect at `dose`.
    fn hill(dose: f64, ec50: f64, h: f64) -> f64 {
        let r = (dose / ec50).powf(h);
        r / (1.0 + r)
    }

    /// The logistic curve of a vector, elementwise.
    fn logistic(x: DVector<f64>) -> DVector<f64> {
        1.0 / (1.0 + (-x).exp())
    }

    /// Emax responses of 2000 subjects, and responders out of `n` per dose level through a
    /// vector-valued function of the log dose on the latents' path and on data.
    fn emax_study(
        dose: &[f64],
        y: &[f64],
        log_dose: &DVector<f64>,
        responders: &[i64],
        n: &[i64],
        baseline: &DVector<f64>,
    ) {
        let e0 ~ Normal(0.0, 1.0);
        let emax ~ Normal(0.0, 1.0);
        let ec50 ~ LogNormal(3.0, 2.0);
        let h ~ LogNormal(0.0, 0.5);
        let sigma ~ HalfNormal(1.0);
        let a ~ Normal(0.0, 5.0);
        let b ~ Normal(0.0, 2.0);
        for i in 0..y.len() {
            y[i] ~ Normal(e0 + emax * hill(dose[i], ec50, h), sigma);
        }
        responders ~ Binomial(n, logistic(a + b * (log_dose - 3.0)));
        // On data only: the baseline curve (a fixed mean), one arithmetic.
        baseline ~ Normal(logistic(log_dose - 3.0) * 1.0, sigma);
    }
}

#[test]
fn user_functions_on_a_dose_response_study() {
    let mut rng = StdRng::seed_from_u64(41);
    let levels: Vec<f64> = (0..9).map(|k| 0.1 * 10f64.powf(k as f64 / 2.0)).collect();
    let n_subjects = 2000;
    let dose: Vec<f64> = (0..n_subjects).map(|i| levels[i % levels.len()]).collect();
    // The response as a fraction of the maximal effect (ec50 = 30, Hill slope 1.2).
    let curve = |d: f64| 0.05 + 0.8 * d.powf(1.2) / (30f64.powf(1.2) + d.powf(1.2));
    let y: Vec<f64> = dose
        .iter()
        .map(|&d| curve(d) + rng.random_range(-0.08..0.08))
        .collect();
    let log_dose = DVector::from_iterator(levels.len(), levels.iter().map(|d| d.ln()));
    let n: Vec<i64> = vec![200; levels.len()];
    let responders: Vec<i64> = log_dose
        .iter()
        .map(|&l| (200.0 * sigmoid(-1.0 + 0.8 * (l - 3.0))).round() as i64)
        .collect();
    let baseline = DVector::from_iterator(
        levels.len(),
        log_dose
            .iter()
            .map(|&l| sigmoid(l - 3.0) + rng.random_range(-0.1..0.1)),
    );
    let m = emax_study(&dose, &y, &log_dose, &responders, &n, &baseline).unwrap();
    let hill = |d: f64, e: f64, h: f64| {
        let r = (d / e).powf(h);
        r / (1.0 + r)
    };
    check_model(&m, 1.0, 9, |th, jac| {
        let mut r = Reader::new(th);
        let e0 = r.real();
        let emax = r.real();
        let ec50 = r.positive();
        let h = r.positive();
        let sigma = r.positive();
        let a = r.real();
        let b = r.real();
        r.done();
        let mut lp = normal(e0, 0.0, 1.0)
            + normal(emax, 0.0, 1.0)
            + log_normal(ec50, 3.0, 2.0)
            + log_normal(h, 0.0, 0.5)
            + half_normal(sigma, 1.0)
            + normal(a, 0.0, 5.0)
            + normal(b, 0.0, 2.0);
        for i in 0..n_subjects {
            lp += normal(y[i], e0 + emax * hill(dose[i], ec50, h), sigma);
        }
        for k in 0..levels.len() {
            let p = sigmoid(a + b * (log_dose[k] - 3.0));
            lp += binomial(responders[k] as f64, 200.0, p);
            lp += normal(baseline[k], sigmoid(log_dose[k] - 3.0), sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}
