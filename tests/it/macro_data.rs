//! Data in `model!`: integer slices and vectors, `bool` observations and nalgebra views
//! meeting latents in arithmetic (log density vs a hand-written formula, gradient vs central
//! finite differences through `check_model`); empty data and zero-length latents (the
//! density is the other statements' alone, and every engine still fits).

use crate::support::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

// --- Integer data meeting latents ---------------------------------------------------------

model! {
    /// Poisson regression on integer counts and an integer covariate.
    fn counts_reg(ks: &[i64], xs: Vec<usize>, us: &[u32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let c ~ Normal(0.0, 1.0);
        ks ~ PoissonLog(xs * b + a + us * c * 0.5);
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
        if jac {
            lp += r.jac;
        }
        lp
    });
}
