//! Issue 13's gathers and shifts: the compiled gradient of radon's varying intercepts
//! (N = 900 houses, J = 85 counties, non-centred, `a[county[i]]` in a loop over houses) and
//! of an AR(5) (T = 1000, `beta[k] * y[t - k - 1]` in a loop from 5) against hand-written
//! analytic gradients of the same densities, each checked to 1e-8 before timing. The loops
//! run vectorised (one gather with a scatter-add; five shifted slices); the same models
//! kept per iteration (a data statement in the body) show what the vectorising saves.
//! Target: compiled within 1.3x of hand-written.

use criterion::black_box;
use vi::prelude::*;

use crate::common::{check, theta};
use crate::Variant;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    /// Radon, varying intercepts, non-centred.
    pub fn radon_gather(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// The same, kept per iteration by a data statement in the body.
    pub fn radon_per_iteration(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// AR(5), lags written out.
    pub fn ar5_shifted(y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(5);
        let sigma ~ HalfCauchy(2.5);
        for t in 5..y.len() {
            y[t] ~ Normal(
                alpha + beta[0] * y[t - 1] + beta[1] * y[t - 2] + beta[2] * y[t - 3]
                    + beta[3] * y[t - 4] + beta[4] * y[t - 5],
                sigma
            );
        }
    }
}

model! {
    /// AR(K) as posteriordb's arK writes it (a loop over the lags).
    pub fn ar_k_nested(k: usize, y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(k);
        let sigma ~ HalfCauchy(2.5);
        for t in k..y.len() {
            let mut mu = alpha;
            for j in 0..k {
                mu += beta[j] * y[t - j - 1];
            }
            y[t] ~ Normal(mu, sigma);
        }
    }
}

model! {
    /// AR(5) kept per iteration.
    pub fn ar5_per_iteration(y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(5);
        let sigma ~ HalfCauchy(2.5);
        for t in 5..y.len() {
            let _iteration = t;
            y[t] ~ Normal(
                alpha + beta[0] * y[t - 1] + beta[1] * y[t - 2] + beta[2] * y[t - 3]
                    + beta[3] * y[t - 4] + beta[4] * y[t - 5],
                sigma
            );
        }
    }
}

/// Deterministic uniforms in [0, 1) (a 64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A standard normal by Box-Muller.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The data and the compiled models.
pub struct Setup {
    county: Vec<usize>,
    x: Vec<f64>,
    y: Vec<f64>,
    rg: RadonGather,
    rp: RadonPerIteration,
    ys: Vec<f64>,
    ar: Ar5Shifted,
    an: ArKNested,
    ap: Ar5PerIteration,
}

const J: usize = 85;

impl Setup {
    /// Radon-shaped data (every county has a house, sizes skewed towards low codes, a floor
    /// indicator) and an AR(5) series of T = 1000 around 100.
    pub fn new() -> Self {
        let mut rng = Lcg(13);
        let effect: Vec<f64> = (0..J).map(|_| 0.3 * rng.normal()).collect();
        let mut county: Vec<usize> = (0..J).collect();
        while county.len() < 900 {
            let u = rng.next();
            county.push((u * u * u * J as f64) as usize);
        }
        let x: Vec<f64> = (0..900)
            .map(|_| f64::from(u8::from(rng.next() < 0.2)))
            .collect();
        let y: Vec<f64> = (0..900)
            .map(|i| 1.3 + effect[county[i]] - 0.7 * x[i] + 0.8 * rng.normal())
            .collect();
        let rg = radon_gather(&county, &x, &y, J).expect("valid data");
        let rp = radon_per_iteration(&county, &x, &y, J).expect("valid data");
        let beta = [0.5, 0.2, -0.1, 0.15, 0.1];
        let mut ys = vec![100.0; 5];
        while ys.len() < 1000 {
            let n = ys.len();
            let mu = 15.0 + (0..5).map(|k| beta[k] * ys[n - 1 - k]).sum::<f64>();
            ys.push(mu + rng.normal());
        }
        let ar = ar5_shifted(&ys).expect("valid data");
        let an = ar_k_nested(5, &ys).expect("valid data");
        let ap = ar5_per_iteration(&ys).expect("valid data");
        Setup {
            county,
            x,
            y,
            rg,
            rp,
            ys,
            ar,
            an,
            ap,
        }
    }
}

/// Radon's log density (Jacobians included) and gradient by hand, at
/// `theta = [mu_a, ln sigma_a, z (J), b, ln sigma]`: the county intercepts, one pass over
/// the houses accumulating the residuals' sums by county, then the chain rule through
/// `a = mu_a + sigma_a z`. `a` and `ga` are scratch of length J (no allocation).
#[allow(clippy::too_many_arguments)]
fn radon_hand(
    county: &[usize],
    x: &[f64],
    y: &[f64],
    th: &[f64],
    g: &mut [f64],
    a: &mut [f64],
    ga: &mut [f64],
) -> f64 {
    let j = a.len();
    let (mu_a, ls_a) = (th[0], th[1]);
    let z = &th[2..2 + j];
    let (b, ls) = (th[2 + j], th[3 + j]);
    let (sigma_a, sigma) = (ls_a.exp(), ls.exp());
    let inv2 = 1.0 / (sigma * sigma);
    for (ak, zk) in a.iter_mut().zip(z) {
        *ak = mu_a + sigma_a * zk;
    }
    ga.fill(0.0);
    let (mut ss, mut gb) = (0.0, 0.0);
    for ((&c, &xi), &yi) in county.iter().zip(x).zip(y) {
        let r = yi - a[c] - b * xi;
        ss += r * r;
        ga[c] += r;
        gb += r * xi;
    }
    let n = y.len() as f64;
    let (mut zz, mut gsum, mut gz_dot) = (0.0, 0.0, 0.0);
    for k in 0..j {
        let gk = ga[k] * inv2;
        zz += z[k] * z[k];
        gsum += gk;
        gz_dot += gk * z[k];
        g[2 + k] = sigma_a * gk - z[k];
    }
    let mut lp = -0.5 * (mu_a / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma_a * sigma_a - LN_SQRT_2PI + ls_a;
    lp += -0.5 * zz - j as f64 * LN_SQRT_2PI;
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n * (ls + LN_SQRT_2PI);
    g[0] = gsum - mu_a / 100.0;
    g[1] = sigma_a * gz_dot - sigma_a * sigma_a + 1.0;
    g[2 + j] = gb * inv2 - b / 100.0;
    g[3 + j] = ss * inv2 - n - sigma * sigma + 1.0;
    lp
}

/// AR(5)'s log density (Jacobian included) and gradient by hand, at
/// `theta = [alpha, beta (5), ln sigma]`: one pass over t with the five lags in registers.
fn ar5_hand(y: &[f64], th: &[f64], g: &mut [f64]) -> f64 {
    let (alpha, beta, ls) = (th[0], &th[1..6], th[6]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let (mut ss, mut gal) = (0.0, 0.0);
    let mut gbe = [0.0; 5];
    for w in y.windows(6) {
        // w[5] is y[t], w[4 - k] is y[t - 1 - k].
        let mut mu = alpha;
        for k in 0..5 {
            mu += beta[k] * w[4 - k];
        }
        let r = w[5] - mu;
        ss += r * r;
        gal += r;
        for k in 0..5 {
            gbe[k] += r * w[4 - k];
        }
    }
    let n = (y.len() - 5) as f64;
    let mut lp = -0.5 * (alpha / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    for k in 0..5 {
        lp += -0.5 * (beta[k] / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
        g[1 + k] = gbe[k] * inv2 - beta[k] / 100.0;
    }
    // HalfCauchy(2.5): ln(2 / (pi 2.5)) - ln(1 + (sigma / 2.5)^2), and the log Jacobian ls.
    let q = sigma / 2.5;
    lp += (2.0 / (std::f64::consts::PI * 2.5)).ln() - (q * q).ln_1p() + ls;
    lp += -0.5 * ss * inv2 - n * (ls + LN_SQRT_2PI);
    g[0] = gal * inv2 - alpha / 100.0;
    g[6] = ss * inv2 - n - 2.0 * q * q / (1.0 + q * q) + 1.0;
    lp
}

/// The variants, after checking the hand-written gradients against every model.
pub fn variants(s: &Setup) -> Vec<Variant<'_>> {
    const RADON: &str = "radon varying intercepts N=900 J=85";
    const AR: &str = "AR(5) T=1000";
    let (county, x, y) = (&s.county[..], &s.x[..], &s.y[..]);
    let scratch = std::cell::RefCell::new((vec![0.0; J], vec![0.0; J]));
    let hand = |t: &[f64], g: &mut [f64]| {
        let (a, ga) = &mut *scratch.borrow_mut();
        radon_hand(county, x, y, t, g, a, ga)
    };
    check("radon gather", &s.rg, hand);
    check("radon per iteration", &s.rp, hand);
    let ys = &s.ys[..];
    check("ar5 shifted", &s.ar, |t, g| ar5_hand(ys, t, g));
    check("ar5 nested", &s.an, |t, g| ar5_hand(ys, t, g));
    check("ar5 per iteration", &s.ap, |t, g| ar5_hand(ys, t, g));

    let th = theta(s.rg.dim());
    let g = vec![0.0; th.len()];
    let mut out: Vec<Variant> = vec![
        (RADON, "hand-written", {
            let (th, mut g) = (th.clone(), g.clone());
            let (mut a, mut ga) = (vec![0.0; J], vec![0.0; J]);
            Box::new(move || radon_hand(county, x, y, black_box(&th), &mut g, &mut a, &mut ga))
        }),
        (RADON, "compiled vectorised (gather)", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || s.rg.log_density_grad(black_box(&th), &mut g))
        }),
        (RADON, "compiled per iteration", {
            let (th, mut g) = (th, g);
            Box::new(move || s.rp.log_density_grad(black_box(&th), &mut g))
        }),
    ];
    let th = theta(s.ar.dim());
    let g = vec![0.0; th.len()];
    out.extend([
        (AR, "hand-written", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || ar5_hand(ys, black_box(&th), &mut g)) as Box<dyn FnMut() -> f64>
        }),
        (AR, "compiled vectorised (shifted slices)", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || s.ar.log_density_grad(black_box(&th), &mut g))
        }),
        (AR, "compiled nested lag loop (posteriordb arK)", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || s.an.log_density_grad(black_box(&th), &mut g))
        }),
        (AR, "compiled per iteration", {
            let (th, mut g) = (th, g);
            Box::new(move || s.ap.log_density_grad(black_box(&th), &mut g))
        }),
    ]);
    out
}
