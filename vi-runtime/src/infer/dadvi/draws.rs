//! The fixed draws `z_m` of the deterministic objective: antithetic pairs `(z, -z)`,
//! orthonormalised when there are at least as many pairs as parameters so that their first
//! two moments are exact, else scaled to unit mean square per coordinate.

use nalgebra::DMatrix;
use rand::Rng as _;
use rand_distr::StandardNormal;

use crate::infer::Rng;

/// The fixed draws, `M x d` row-major, antithetic pairs in consecutive rows.
pub(super) struct FixedDraws {
    pub(super) m: usize,
    pub(super) z: Vec<f64>,
    pub(super) matched: bool,
}

/// `m` draws in `d` dimensions from `rng` (see the module documentation).
pub(super) fn fixed_draws(d: usize, m: usize, moment_matching: bool, rng: &mut Rng) -> FixedDraws {
    let k = m / 2;
    let mut half = DMatrix::from_fn(k, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    let matched = moment_matching && k >= d;
    if matched {
        // Orthonormal columns, scaled: sum over the K rows of z z' = K I, so the mean over
        // all M = 2K rows (each row and its negative) of z z' is I.
        let q = half.clone().qr().q();
        half = q * (k as f64).sqrt();
    } else if moment_matching {
        for mut col in half.column_iter_mut() {
            let ms = col.norm_squared() / k as f64;
            if ms > 0.0 {
                col /= ms.sqrt();
            }
        }
    }
    let mut z = Vec::with_capacity(m * d);
    for r in 0..k {
        for sign in [1.0, -1.0] {
            z.extend(half.row(r).iter().map(|v| sign * v));
        }
    }
    FixedDraws { m, z, matched }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_draws_have_exact_first_and_second_moments() {
        let mut rng = crate::infer::rng_for(3, 0);
        for (d, m, matched) in [(5, 32, true), (20, 32, false)] {
            let fd = fixed_draws(d, m, true, &mut rng);
            assert_eq!(fd.matched, matched);
            for i in 0..d {
                let mean: f64 = (0..m).map(|r| fd.z[r * d + i]).sum::<f64>() / m as f64;
                assert!(mean.abs() < 1e-12);
                for j in 0..d {
                    let c: f64 = (0..m)
                        .map(|r| fd.z[r * d + i] * fd.z[r * d + j])
                        .sum::<f64>()
                        / m as f64;
                    if i == j {
                        assert!((c - 1.0).abs() < 1e-12, "{c}");
                    } else if matched {
                        assert!(c.abs() < 1e-12, "{c}");
                    }
                }
            }
        }
    }
}
