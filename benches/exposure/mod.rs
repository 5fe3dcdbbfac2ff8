//! Issue 13 item 3: data arithmetic on the model's arguments only, inside a statement, is
//! computed once per model. `y ~ PoissonLog(exposure.ln() + alpha + x * beta)` on N = 2000
//! counts: the compiled gradient (the logarithms kept in the model's cache), the same
//! statement with `exposure` read through a `let` (not an argument, so the logarithms are
//! computed at every call, as every such statement was before), and a hand-written gradient
//! with the log exposures computed once outside the timed closure; checked to 1e-8 before
//! timing.

use criterion::black_box;
use vi::prelude::*;

use crate::common::{check, theta};
use crate::Variant;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    /// Poisson counts with an exposure offset.
    pub fn poisson_exposure(y: &[f64], exposure: &[f64], x: &[f64]) {
        let alpha ~ Normal(0.0, 5.0);
        let beta ~ Normal(0.0, 1.0);
        y ~ PoissonLog(exposure.ln() + alpha + x * beta);
    }
}

model! {
    /// The same, the exposure read through a `let` (its logarithms computed at every call).
    pub fn poisson_exposure_let(y: &[f64], exposure: &[f64], x: &[f64]) {
        let alpha ~ Normal(0.0, 5.0);
        let beta ~ Normal(0.0, 1.0);
        let e = exposure;
        y ~ PoissonLog(e.ln() + alpha + x * beta);
    }
}

/// The data, both compiled models and the hand-written gradient's precomputed offsets.
pub struct Setup {
    y: Vec<f64>,
    x: Vec<f64>,
    log_exposure: Vec<f64>,
    lgamma_sum: f64,
    kept: PoissonExposure,
    recomputed: PoissonExposureLet,
}

impl Setup {
    /// N = 2000, deterministic: exposures from 50 to 150, `x` in (0.5, 1.5), counts near
    /// `exposure * exp(-3 + 0.5 x)`.
    pub fn new() -> Self {
        let n = 2000;
        let exposure: Vec<f64> = (0..n).map(|i| 50.0 + ((i * 37) % 101) as f64).collect();
        let x: Vec<f64> = (0..n)
            .map(|i| 0.5 + ((i * 53) % 1000) as f64 / 1000.0)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| (exposure[i] * (-3.0 + 0.5 * x[i]).exp()).round())
            .collect();
        let log_exposure = exposure.iter().map(|e| e.ln()).collect();
        let lgamma_sum = y.iter().map(|&k| ln_factorial(k)).sum();
        let kept = poisson_exposure(&y, &exposure, &x).expect("valid data");
        let recomputed = poisson_exposure_let(&y, &exposure, &x).expect("valid data");
        Setup {
            y,
            x,
            log_exposure,
            lgamma_sum,
            kept,
            recomputed,
        }
    }
}

/// `ln k!` of a count, by summing logarithms (the counts here are below a few hundred).
fn ln_factorial(k: f64) -> f64 {
    (2..=k as u64).map(|j| (j as f64).ln()).sum()
}

/// The log density and its gradient, the log exposures given.
fn poisson_hand(s: &Setup, th: &[f64], g: &mut [f64]) -> f64 {
    let (alpha, beta) = (th[0], th[1]);
    let mut lp = -(5.0f64).ln()
        - LN_SQRT_2PI
        - 0.5 * (alpha / 5.0).powi(2)
        - LN_SQRT_2PI
        - 0.5 * beta * beta
        - s.lgamma_sum;
    let (mut ga, mut gb) = (-alpha / 25.0, -beta);
    for i in 0..s.y.len() {
        let eta = s.log_exposure[i] + alpha + s.x[i] * beta;
        let rate = eta.exp();
        lp += s.y[i] * eta - rate;
        let r = s.y[i] - rate;
        ga += r;
        gb += r * s.x[i];
    }
    g[0] = ga;
    g[1] = gb;
    lp
}

/// The variants of the group.
pub fn variants(s: &Setup) -> Vec<Variant<'_>> {
    const GROUP: &str = "poisson_exposure N=2000 (exposure.ln() kept per model)";
    check("poisson_exposure", &s.kept, |t, g| poisson_hand(s, t, g));
    check("poisson_exposure_let", &s.recomputed, |t, g| {
        poisson_hand(s, t, g)
    });
    let th = theta(s.kept.dim());
    let g = vec![0.0; th.len()];
    vec![
        (GROUP, "hand-written", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || poisson_hand(s, black_box(&th), &mut g))
        }),
        (GROUP, "compiled, ln kept", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || s.kept.log_density_grad(black_box(&th), &mut g))
        }),
        (GROUP, "compiled, ln at every call", {
            let (th, mut g) = (th, g);
            Box::new(move || s.recomputed.log_density_grad(black_box(&th), &mut g))
        }),
    ]
}
