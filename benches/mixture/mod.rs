//! Issue 17's mixture: the compiled gradient of a two-component normal mixture written
//! Stan's way (`log_mix` of two `Normal(..).lpdf(y[i])` in a loop over N = 1000
//! observations; five parameters: the weight, two means, two scales) against a
//! hand-written analytic gradient of the same density, checked to 1e-8 before timing.

use criterion::black_box;
use vi::prelude::*;

use crate::common::{check, theta};
use crate::Variant;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    /// A two-component normal mixture, one observation at a time.
    pub fn mixture_loop(y: &[f64]) {
        let w ~ Beta(2.0, 2.0);
        let mu1 ~ Normal(-1.0, 2.0);
        let mu2 ~ Normal(1.0, 2.0);
        let s1 ~ HalfNormal(2.0);
        let s2 ~ HalfNormal(2.0);
        for i in 0..y.len() {
            target += log_mix(w, Normal(mu1, s1).lpdf(y[i]), Normal(mu2, s2).lpdf(y[i]));
        }
    }
}

/// The mixture's data and compiled model.
pub struct Setup {
    y: Vec<f64>,
    m: MixtureLoop,
}

impl Setup {
    /// N = 1000 points from 0.3 N(-1, 1) + 0.7 N(2, 1.5), deterministic.
    pub fn new() -> Self {
        let y: Vec<f64> = (0..1000)
            .map(|i| {
                // A deterministic spread of quantiles per component.
                let u = ((i * 37) % 1000) as f64 / 1000.0 + 0.0005;
                let z = (u - 0.5) * 5.0;
                if i % 10 < 3 {
                    -1.0 + z
                } else {
                    2.0 + 1.5 * z
                }
            })
            .collect();
        let m = mixture_loop(&y).expect("valid data");
        Setup { y, m }
    }
}

/// The log density (Jacobian included) and its gradient on the unconstrained scale,
/// `theta = [logit w, mu1, mu2, ln s1, ln s2]`, one pass over the data, no allocation.
fn mixture_hand(y: &[f64], th: &[f64], g: &mut [f64]) -> f64 {
    let w = 1.0 / (1.0 + (-th[0]).exp());
    let (mu1, mu2) = (th[1], th[2]);
    let (l1, l2) = (th[3], th[4]);
    let (s1, s2) = (l1.exp(), l2.exp());
    let (lw, lw1) = (w.ln(), (1.0 - w).ln());
    // Priors and Jacobians: Beta(2, 2) is 6 w (1 - w); HalfNormal(2) is 2 N(s | 0, 2).
    let mut lp = 6f64.ln() + 2.0 * (lw + lw1);
    let mut gu = 2.0 * (1.0 - 2.0 * w);
    let z = (mu1 + 1.0) / 2.0;
    lp += -0.5 * z * z - 2f64.ln() - LN_SQRT_2PI;
    let mut gm1 = -z / 2.0;
    let z = (mu2 - 1.0) / 2.0;
    lp += -0.5 * z * z - 2f64.ln() - LN_SQRT_2PI;
    let mut gm2 = -z / 2.0;
    let (h1, h2) = (s1 / 2.0, s2 / 2.0);
    lp += 2.0 * (2f64.ln() - 0.5 * h1 * h1 - 2f64.ln() - LN_SQRT_2PI) + l1 + l2;
    let mut gl1 = 1.0 - h1 * h1;
    let mut gl2 = 1.0 - h2 * h2;
    let (is1, is2) = (1.0 / s1, 1.0 / s2);
    let (c1, c2) = (lw - l1 - LN_SQRT_2PI, lw1 - l2 - LN_SQRT_2PI);
    let mut r1_sum = 0.0;
    for &v in y {
        let (z1, z2) = ((v - mu1) * is1, (v - mu2) * is2);
        let a = c1 - 0.5 * z1 * z1;
        let b = c2 - 0.5 * z2 * z2;
        let (m, d) = if a > b { (a, b - a) } else { (b, a - b) };
        let e = d.exp();
        lp += m + e.ln_1p();
        // The responsibility of the first component.
        let r1 = if a > b {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        let r2 = 1.0 - r1;
        r1_sum += r1;
        gm1 += r1 * z1 * is1;
        gm2 += r2 * z2 * is2;
        gl1 += r1 * (z1 * z1 - 1.0);
        gl2 += r2 * (z2 * z2 - 1.0);
    }
    gu += r1_sum - y.len() as f64 * w;
    g.copy_from_slice(&[gu, gm1, gm2, gl1, gl2]);
    lp
}

/// The mixture's variants, after checking the hand-written gradient against the model.
pub fn variants(s: &Setup) -> Vec<Variant<'_>> {
    const MIX: &str = "mixture N=1000 (log_mix of two lpdfs)";
    check("mixture", &s.m, |t, g| mixture_hand(&s.y, t, g));
    let th = theta(s.m.dim());
    let g = vec![0.0; th.len()];
    vec![
        (MIX, "hand-written", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || mixture_hand(&s.y, black_box(&th), &mut g))
        }),
        (MIX, "compiled loop", {
            let (th, mut g) = (th, g);
            Box::new(move || s.m.log_density_grad(black_box(&th), &mut g))
        }),
    ]
}
