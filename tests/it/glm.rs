//! `y ~ Normal(x * w + b, sigma)` on a data matrix runs as one fused pass over `x`
//! (`vi::ad::glm`, issue 16): its density and gradient equal the same model written as a
//! loop over rows (which `model!` does not fuse) to 1e-12, and finite differences; above the
//! thread threshold they are bit-identical on 1, 2 and 4 threads and equal a compensated
//! hand-written sum; lengths that do not fit and bad data are errors naming the statement.

use crate::helpers::{half_normal, normal, unif};
use vi::check::gradient_mismatch;
use vi::prelude::*;

model! {
    fn glm_fused(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    fn glm_rows(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(10.0);
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
    }
}

model! {
    /// No intercept, the product second in the sum's other form is tested below.
    fn glm_no_b(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(x * w, sigma);
    }
}

model! {
    fn glm_no_b_rows(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let sigma ~ HalfNormal(10.0);
        for i in 0..x.nrows() {
            let mut mu = 0.0;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
    }
}

model! {
    /// Data coefficients and scale; a latent intercept and a data offset per row, first.
    fn glm_data(x: &DMatrix<f64>, y: &DVector<f64>, w: &DVector<f64>, off: &DVector<f64>, s: f64) {
        let b ~ Normal(0.0, 100.0);
        y ~ Normal(off + b + x * w, s);
    }
}

model! {
    fn glm_data_rows(x: &DMatrix<f64>, y: &DVector<f64>, w: &DVector<f64>, off: &DVector<f64>, s: f64) {
        let b ~ Normal(0.0, 100.0);
        for i in 0..x.nrows() {
            let mut mu = off[i] + b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, s);
        }
    }
}

model! {
    /// A scale per row (heteroskedastic), latent.
    fn glm_scales(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let s ~ HalfNormal(10.0).iid(x.nrows());
        y ~ Normal(b + x * w, s);
    }
}

model! {
    fn glm_scales_rows(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let s ~ HalfNormal(10.0).iid(x.nrows());
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, s[i]);
        }
    }
}

/// `n` rows of `d` unstandardised predictors near 100 (spread 10) and
/// `y = x w + 5 + noise` with `w = (0.3, -0.2, 0.1, ..)`, noise sd 2.
fn data(n: usize, d: usize, seed: u64) -> (DMatrix<f64>, DVector<f64>) {
    let u = unif(n * d + n, seed);
    let x = DMatrix::from_fn(n, d, |i, j| 100.0 + 20.0 * (u[j * n + i] - 0.5));
    let w: Vec<f64> = (0..d)
        .map(|j| 0.3 / (j + 1) as f64 * if j % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let y = DVector::from_fn(n, |i, _| {
        let mu: f64 = 5.0 + (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>();
        mu + 4.0 * (u[n * d + i] - 0.5) * 1.7
    });
    (x, y)
}

/// Seeded points in `(-r, r)^dim`, shifted by `center`.
fn points(dim: usize, center: &[f64], r: f64, seed: u64) -> Vec<Vec<f64>> {
    (0..3u64)
        .map(|k| {
            let u = unif(dim, seed + k);
            (0..dim)
                .map(|i| center.get(i).copied().unwrap_or(0.0) + r * (2.0 * u[i] - 1.0))
                .collect()
        })
        .collect()
}

/// `a` and `b` give the same density and gradient at `pts` (1e-12 relative), and `a`'s
/// gradient equals central finite differences (1e-6).
fn same_model(a: &impl Model, b: &impl Model, pts: &[Vec<f64>], what: &str) {
    assert_eq!(a.dim(), b.dim());
    for th in pts {
        let (mut ga, mut gb) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let (la, lb) = (
            a.log_density_grad(th, &mut ga),
            b.log_density_grad(th, &mut gb),
        );
        assert!(la.is_finite(), "{what}: {la} at {th:?}");
        assert!((la - lb).abs() <= 1e-12 * lb.abs(), "{what}: {la} vs {lb}");
        assert_eq!(
            la.to_bits(),
            a.log_density(th).to_bits(),
            "{what}: value alone"
        );
        for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                "{what}: d/dtheta[{k}] {x} vs {y}"
            );
        }
        let f = |t: &[f64]| a.log_density(t);
        assert_eq!(
            gradient_mismatch(f, &ga, th, 1e-6),
            None,
            "{what} at {th:?}"
        );
    }
}

#[test]
fn fused_regressions_equal_their_row_loops_and_finite_differences() {
    let (n, d) = (3000, 5);
    let (x, y) = data(n, d, 1);
    // Near the truth (w ~ 0.3, b ~ 5, sigma ~ 2) and away from it.
    let center = [0.3, -0.15, 0.1, -0.07, 0.06, 5.0, 0.7];
    let pts = points(d + 2, &center, 0.05, 11);
    same_model(
        &glm_fused(&x, &y).unwrap(),
        &glm_rows(&x, &y).unwrap(),
        &pts,
        "x * w + b",
    );
    let pts = points(d + 1, &[0.3, -0.15, 0.1, -0.07, 0.06, 0.7], 0.05, 12);
    same_model(
        &glm_no_b(&x, &y).unwrap(),
        &glm_no_b_rows(&x, &y).unwrap(),
        &pts,
        "x * w",
    );
    // Data coefficients, a per-row offset near 100 and a data scale.
    let w = DVector::from_fn(d, |j, _| 0.1 * j as f64 - 0.2);
    let off = DVector::from_fn(n, |i, _| 95.0 + (i % 11) as f64);
    let pts = points(1, &[5.0], 3.0, 13);
    same_model(
        &glm_data(&x, &y, &w, &off, 2.5).unwrap(),
        &glm_data_rows(&x, &y, &w, &off, 2.5).unwrap(),
        &pts,
        "off + b + x * w, data w and sigma",
    );
    // A latent scale per row (500 rows: 506 latents).
    let (xs, ys) = data(500, d, 2);
    let mut center = vec![0.3, -0.15, 0.1, -0.07, 0.06, 5.0];
    center.extend(std::iter::repeat_n(0.7, 500));
    let pts = points(d + 1 + 500, &center, 0.05, 14);
    same_model(
        &glm_scales(&xs, &ys).unwrap(),
        &glm_scales_rows(&xs, &ys).unwrap(),
        &pts,
        "b + x * w, sigma per row",
    );
}

/// The log density of `glm_fused` and its gradient on the unconstrained scale
/// `(w, b, ln sigma)`, with every sum compensated (Neumaier), so exact to rounding.
fn reference(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64]) -> (f64, Vec<f64>) {
    #[derive(Default, Clone, Copy)]
    struct Sum(f64, f64);
    impl Sum {
        fn add(&mut self, v: f64) {
            let t = self.0 + v;
            self.1 += if self.0.abs() >= v.abs() {
                (self.0 - t) + v
            } else {
                (v - t) + self.0
            };
            self.0 = t;
        }
        fn get(self) -> f64 {
            self.0 + self.1
        }
    }
    let (n, d) = x.shape();
    let (w, b, ls) = (&th[..d], th[d], th[d + 1]);
    let s = ls.exp();
    let mut lp = Sum::default();
    let (mut gw, mut gb, mut gs) = (vec![Sum::default(); d], Sum::default(), Sum::default());
    for i in 0..n {
        let mut mu = b;
        for j in 0..d {
            mu += x[(i, j)] * w[j];
        }
        lp.add(normal(y[i], mu, s));
        let z = (y[i] - mu) / s;
        for j in 0..d {
            gw[j].add(x[(i, j)] * z / s);
        }
        gb.add(z / s);
        gs.add((z * z - 1.0) / s);
    }
    for &wj in w {
        lp.add(normal(wj, 0.0, 1.0));
    }
    lp.add(normal(b, 0.0, 100.0));
    lp.add(half_normal(s, 10.0) + ls);
    let mut g: Vec<f64> = gw.iter().zip(w).map(|(g, wj)| g.get() - wj).collect();
    g.push(gb.get() - b / 1e4);
    g.push((gs.get() - s / 100.0) * s + 1.0);
    (lp.get(), g)
}

#[test]
fn above_the_thread_threshold_bit_identical_on_1_2_4_threads_and_exact() {
    // Above `threads::MIN_ROWS` (2^19): ten chunks of 2^16 rows, the last one short.
    let (n, d) = (600_000, 5);
    let (x, y) = data(n, d, 3);
    let m = glm_fused(&x, &y).unwrap();
    let th = [0.31, -0.14, 0.1, -0.08, 0.05, 4.0, 0.8];
    let runs: Vec<(f64, Vec<f64>)> = [1, 2, 4]
        .iter()
        .map(|&t| {
            vi::threads::with_budget(t, || {
                let mut g = vec![0.0; th.len()];
                let lp = m.log_density_grad(&th, &mut g);
                assert_eq!(lp.to_bits(), m.log_density(&th).to_bits());
                (lp, g)
            })
        })
        .collect();
    let bits = |r: &(f64, Vec<f64>)| {
        std::iter::once(r.0.to_bits())
            .chain(r.1.iter().map(|g| g.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&runs[0]), bits(&runs[1]), "1 and 2 threads");
    assert_eq!(bits(&runs[0]), bits(&runs[2]), "1 and 4 threads");
    let (lp, g) = reference(&x, &y, &th);
    assert!(
        (runs[0].0 - lp).abs() <= 1e-12 * lp.abs(),
        "{} vs {lp}",
        runs[0].0
    );
    for (k, (a, e)) in runs[0].1.iter().zip(&g).enumerate() {
        assert!(
            (a - e).abs() <= 1e-12 * e.abs().max(1.0),
            "[{k}] {a} vs {e}"
        );
    }
}

#[test]
fn bad_data_and_lengths_that_do_not_fit_name_the_statement() {
    let stmt = "y ~ Normal(x * w + b, sigma)";
    let (x, y) = data(40, 3, 4);
    // Non-finite data: named with its index when the model is built.
    let mut bad = x.clone();
    bad[(7, 2)] = f64::NAN;
    let e = glm_fused(&bad, &y).err().expect("NaN in x").to_string();
    assert!(e.contains("x[(7, 2)]") && e.contains("NaN"), "{e}");
    let mut bad = y.clone();
    bad[5] = f64::INFINITY;
    let e = glm_fused(&x, &bad).err().expect("inf in y").to_string();
    assert!(e.contains("y[5]"), "{e}");
    // One outcome short, and one outcome for all rows: the statement and both lengths.
    let short = DVector::from_fn(39, |i, _| y[i]);
    let e = glm_fused(&x, &short).err().expect("y short").to_string();
    assert!(
        e.contains(stmt) && e.contains("39") && e.contains("40"),
        "{e}"
    );
    let one = DVector::from_element(1, 3.0);
    let e = glm_fused(&x, &one).err().expect("one y").to_string();
    assert!(
        e.contains(stmt) && e.contains("40") && e.contains("has 1"),
        "{e}"
    );
    // Data coefficients of the wrong length, a negative data scale, an offset too short.
    let off = DVector::from_element(40, 1.0);
    let stmt = "y ~ Normal(off + b + x * w, s)";
    let w4 = DVector::from_element(4, 0.1);
    let e = glm_data(&x, &y, &w4, &off, 2.0)
        .err()
        .expect("w has 4")
        .to_string();
    assert!(e.contains(stmt), "{e}");
    let w3 = DVector::from_element(3, 0.1);
    let e = glm_data(&x, &y, &w3, &off, -2.0)
        .err()
        .expect("negative s")
        .to_string();
    assert!(e.contains(stmt) && e.contains("s"), "{e}");
    let off39 = DVector::from_element(39, 1.0);
    let e = glm_data(&x, &y, &w3, &off39, 2.0)
        .err()
        .expect("offset short")
        .to_string();
    assert!(e.contains(stmt), "{e}");
    assert!(glm_data(&x, &y, &w3, &off, 2.0).is_ok());
}

#[test]
fn a_batch_of_rows_is_the_fused_model_on_those_rows() {
    // `Vi::stochastic().minibatch(b)` rebuilds the model on each batch of rows.
    let (x, y) = data(200, 3, 5);
    let m = glm_fused(&x, &y).unwrap();
    let rows = [0, 3, 77, 150, 199];
    let sub = m.subsample(&rows).unwrap();
    let xs = DMatrix::from_fn(5, 3, |i, j| x[(rows[i], j)]);
    let ys = DVector::from_fn(5, |i, _| y[rows[i]]);
    let by_hand = glm_rows(&xs, &ys).unwrap();
    let th = [0.3, -0.1, 0.05, 4.0, 0.5];
    let (a, b) = (sub.log_density(&th), by_hand.log_density(&th));
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
}

#[test]
fn minibatch_vi_on_the_fused_model_matches_the_full_data_fit() {
    // Predictors near 100 with an intercept: w and b strongly correlated.
    let (n, d) = (20_000, 2);
    let (x, y) = data(n, d, 6);
    let m = glm_fused(&x, &y).unwrap();
    assert_eq!(m.subsample_rows(), Ok(n));
    // The reference: the same mean-field objective on all the rows with exact gradients
    // (DADVI), the sds from its linear-response covariance.
    let full = Vi::default().seed(1).draws(100).fit(&m).unwrap();
    let Diagnostics::Vi(r) = full.diagnostics() else {
        unreachable!()
    };
    let fit = Vi::stochastic()
        .minibatch(500)
        .seed(2)
        .draws(100)
        .progress(false)
        .fit(&m)
        .unwrap();
    let Diagnostics::Vi(v) = fit.diagnostics() else {
        unreachable!()
    };
    assert!(v.converged, "{v}");
    for k in 0..d + 2 {
        let z = (v.mean[k] - r.mean[k]) / r.lr_sd[k];
        assert!(
            z.abs() < 0.1,
            "parameter {k}: {} vs {}: {z:.3} sds\n{v}",
            v.mean[k],
            r.mean[k]
        );
    }
}
