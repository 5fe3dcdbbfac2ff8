// Longer than 800 lines: one benchmark group per model, each with its hand-written analytic
// gradient as the baseline in the same run; a reader looks up one group.
//! The compiled gradient of `model!` against hand-written analytic gradients of the same
//! density, in the same run: linear regression (N = 1000, D = 5) vectorised and as a scalar
//! loop; a Bayesian neural network (one hidden layer of 50 tanh units, N = 200, D = 5) in
//! matrix form and in per-observation loop form, with the matrix form also through the rules
//! (`let mu`, not fused into the tanh-layer kernel) and at thirteen inputs. Target: compiled
//! within 1.3x of the fastest hand-written code.
//!
//! Hand-written variants, each checked against the compiled models to 1e-8 before timing:
//! * `hand-written fast`: what a Rust engineer chasing speed writes. `x` is read by
//!   columns as contiguous slices (`mu -= w_j x[:, j]` axpy loops, `g_j = dot(x[:, j], r)`),
//!   reductions with several accumulators so they vectorise, one fused pass per block of
//!   rows, no allocation per call (scratch buffers live outside the timed closure). The
//!   network is the matrix form with the tanh layer, the output layer and the backward pass
//!   fused per hidden unit; it is timed with `f64::tanh` (libm) and with
//!   `vi::math::tanh` (the library's branch-free tanh, which vectorises).
//! * `hand-written nalgebra`: the same formulas with nalgebra's products (`x * w`,
//!   `x.tr_mul(r)`); `hand-written row loop`: one observation at a time, the loop forms'
//!   shape (linear regression: indexed loops over a row; the network: per row, vectors of
//!   the hidden units, with `w1`'s rows contiguous, fused, no allocation).
//!
//! `cargo bench --bench gradient -- --warm-up-time 1 --measurement-time 3`
//!
//! With `VI_BENCH_CPU_TIME=1` criterion measures the benchmark thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall time: on a machine shared with other jobs,
//! time the thread spends descheduled is then not counted (cache and memory-bandwidth
//! contention still is). With `VI_BENCH_INTERLEAVED=30` the variants run in turn, 30
//! rounds of about 20 ms each, and a table of median and minimum per-round means with the
//! ratios to each group's first variant (the fastest hand-written code) and the minor page
//! faults per call is printed instead.
//!
//! With `VI_BENCH_CALLS=N` (and `VI_BENCH_VARIANT=<part of a variant's name>`) each variant
//! left runs `N` times inside `counted_calls`, untimed: for instruction counts, e.g.
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*counted_calls*'`,
//! whose total divided by `N` is the variant's instructions per gradient.

// Hand-written code indexes like the formulas it implements.
#![allow(clippy::needless_range_loop)]

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{black_box, Criterion};
use nalgebra::{DMatrix, DVector};
use std::time::Duration;
use vi::prelude::*;

mod common;
use common::{check, theta};
mod exposure;
mod gather;
mod mixture;
mod network;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    fn linreg_vec(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    /// `linreg_vec` with the location in a `let`: the observation does not read `x * w + b`
    /// itself, so it is not fused (the rules' `x * w`, the likelihood, `x^T r`).
    fn linreg_let(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let mu = x * w + b;
        y ~ Normal(mu, sigma);
    }
}

model! {
    fn linreg_loop(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
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
    fn bnn_matrix(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(hidden * w2 + b2, sigma);
    }
}

model! {
    /// `bnn_matrix` with the location in a `let`: the observation does not read
    /// `hidden * w2 + b2` itself, so the tanh layer is not fused (the rules' `N x H` layer,
    /// its adjoint and four products), the baseline of the fused kernel.
    fn bnn_matrix_rules(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        let mu = hidden * w2 + b2;
        y ~ Normal(mu, sigma);
    }
}

model! {
    fn bnn_loop(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let xi = x.row(i).clone_owned();
            let hidden = tanh(xi * w1 + b1.transpose());
            y[i] ~ Normal(dot(hidden, w2) + b2, sigma);
        }
    }
}

model! {
    fn coin_vec(y: &[i64]) {
        let p ~ Beta(1.0, 1.0);
        y ~ Bernoulli(p);
    }
}

model! {
    fn coin_loop(y: &[i64]) {
        let p ~ Beta(1.0, 1.0);
        for i in 0..y.len() {
            y[i] ~ Bernoulli(p);
        }
    }
}

/// Hand-written linear regression with nalgebra's products.
fn linreg_hand(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let d = x.ncols();
    let n = x.nrows() as f64;
    let w = DVector::from_column_slice(&th[..d]);
    let b = th[d];
    let ls = th[d + 1];
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let mut r = x * &w;
    let mut ss = 0.0;
    for (ri, yi) in r.iter_mut().zip(y.iter()) {
        let e = yi - *ri - b;
        ss += e * e;
        *ri = e * inv2;
    }
    let gw = x.tr_mul(&r);
    let mut lp = -0.5 * w.norm_squared() - d as f64 * LN_SQRT_2PI;
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n * (ls + LN_SQRT_2PI);
    for j in 0..d {
        g[j] = gw[j] - w[j];
    }
    g[d] = r.sum() - b / 100.0;
    g[d + 1] = ss * inv2 - n - sigma * sigma + 1.0;
    lp
}

/// Hand-written linear regression as indexed loops over rows.
fn linreg_hand_loop(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let (nr, d) = x.shape();
    let (w, b, ls) = (&th[..d], th[d], th[d + 1]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut ss = 0.0;
    let mut gb = 0.0;
    for i in 0..nr {
        let mut mu = b;
        for j in 0..d {
            mu += x[(i, j)] * w[j];
        }
        let e = y[i] - mu;
        ss += e * e;
        let r = e * inv2;
        gb += r;
        for j in 0..d {
            g[j] += r * x[(i, j)];
        }
    }
    let mut lp = 0.0;
    for j in 0..d {
        lp += -0.5 * w[j] * w[j] - LN_SQRT_2PI;
        g[j] -= w[j];
    }
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - nr as f64 * (ls + LN_SQRT_2PI);
    g[d] = gb - b / 100.0;
    g[d + 1] = ss * inv2 - nr as f64 - sigma * sigma + 1.0;
    lp
}

/// Hand-written network, matrix form with nalgebra's products.
fn bnn_hand(x: &DMatrix<f64>, y: &DVector<f64>, h: usize, th: &[f64], g: &mut [f64]) -> f64 {
    let (n, d) = x.shape();
    let nw1 = d * h;
    let w1 = DMatrix::from_row_slice(d, h, &th[..nw1]);
    let b1 = &th[nw1..nw1 + h];
    let w2 = DVector::from_column_slice(&th[nw1 + h..nw1 + 2 * h]);
    let b2 = th[nw1 + 2 * h];
    let ls = th[nw1 + 2 * h + 1];
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let mut hid = x * &w1;
    for j in 0..h {
        for v in hid.column_mut(j).iter_mut() {
            *v = (*v + b1[j]).tanh();
        }
    }
    let mut r = &hid * &w2;
    let mut ss = 0.0;
    for (ri, yi) in r.iter_mut().zip(y.iter()) {
        let e = yi - *ri - b2;
        ss += e * e;
        *ri = e * inv2;
    }
    let gw2 = hid.tr_mul(&r);
    // d/dA = (r w2^T) .* (1 - hid^2)
    let mut ga = &r * w2.transpose();
    ga.zip_apply(&hid, |a, t| *a *= 1.0 - t * t);
    let gw1 = x.tr_mul(&ga);
    let mut lp = -0.5
        * (w1.norm_squared() + w2.norm_squared() + b1.iter().map(|v| v * v).sum::<f64>() + b2 * b2)
        - (nw1 + 2 * h + 1) as f64 * LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n as f64 * (ls + LN_SQRT_2PI);
    for i in 0..d {
        for j in 0..h {
            g[i * h + j] = gw1[(i, j)] - w1[(i, j)];
        }
    }
    for j in 0..h {
        g[nw1 + j] = ga.column(j).sum() - b1[j];
        g[nw1 + h + j] = gw2[j] - w2[j];
    }
    g[nw1 + 2 * h] = r.sum() - b2;
    g[nw1 + 2 * h + 1] = ss * inv2 - n as f64 - sigma * sigma + 1.0;
    lp
}

/// `y += a x` over slices of one length.
#[inline(always)]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    let x = &x[..y.len()];
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `sum_i f(x_i, y_i)` over slices of one length, in eight independent partial sums (so the
/// reduction vectorises and hides the adds' latency), combined at the end.
#[inline(always)]
fn reduce(x: &[f64], y: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let y = &y[..x.len()];
    let mut acc = [0.0; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        let (a, b): (&[f64; 8], &[f64; 8]) = (a.try_into().unwrap(), b.try_into().unwrap());
        for l in 0..8 {
            acc[l] += f(a[l], b[l]);
        }
    }
    let mut tail = 0.0;
    for (&a, &b) in xr.iter().zip(yr) {
        tail += f(a, b);
    }
    // Lane-wise first (acc[l] + acc[l + 2] + ...), as two-lane vectors would be added.
    let even = (acc[0] + acc[2]) + (acc[4] + acc[6]);
    let odd = (acc[1] + acc[3]) + (acc[5] + acc[7]);
    (even + odd) + tail
}

#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    reduce(x, y, |a, b| a * b)
}

#[inline(always)]
fn sum(x: &[f64]) -> f64 {
    reduce(x, x, |a, _| a)
}

#[inline(always)]
fn sum_sq(x: &[f64]) -> f64 {
    reduce(x, x, |a, _| a * a)
}

/// Rows per block of the fused linear-regression pass: the block's residuals and its
/// slices of the five columns stay in L1.
const BLOCK: usize = 256;

/// Hand-written linear regression, fast: column slices, one fused pass per block of rows
/// (residual, sum of squares, scaled residual, `x^T r`), no allocation (`r` is scratch of
/// `BLOCK` elements).
fn linreg_fast(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    th: &[f64],
    g: &mut [f64],
    r: &mut [f64],
) -> f64 {
    let (n, d) = x.shape();
    let (xs, ys) = (x.as_slice(), y.as_slice());
    let (w, b, ls) = (&th[..d], th[d], th[d + 1]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let (gw, rest) = g.split_at_mut(d);
    gw.fill(0.0);
    let (mut ss, mut gb) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let m = BLOCK.min(n - start);
        let r = &mut r[..m];
        // r = y - b - sum_j w_j x[:, j]
        for (ri, yi) in r.iter_mut().zip(&ys[start..start + m]) {
            *ri = yi - b;
        }
        for j in 0..d {
            axpy(-w[j], &xs[j * n + start..j * n + start + m], r);
        }
        ss += sum_sq(r);
        for ri in r.iter_mut() {
            *ri *= inv2;
        }
        gb += sum(r);
        for j in 0..d {
            gw[j] += dot(&xs[j * n + start..j * n + start + m], r);
        }
        start += m;
    }
    let mut lp = -0.5 * dot(w, w) - d as f64 * LN_SQRT_2PI;
    for j in 0..d {
        gw[j] -= w[j];
    }
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n as f64 * (ls + LN_SQRT_2PI);
    rest[0] = gb - b / 100.0;
    rest[1] = ss * inv2 - n as f64 - sigma * sigma + 1.0;
    lp
}

/// Scratch of the fast network: the hidden layer (column-major, N x H), the output's
/// location then scaled residual (N), one unit's pre-activation adjoint (N).
struct BnnScratch {
    hid: Vec<f64>,
    r: Vec<f64>,
    ga: Vec<f64>,
}

impl BnnScratch {
    fn new(n: usize, h: usize) -> Self {
        BnnScratch {
            hid: vec![0.0; n * h],
            r: vec![0.0; n],
            ga: vec![0.0; n],
        }
    }
}

/// Hand-written network, fast: per hidden unit `j`, its column `x w1[:, j] + b1[j]` by
/// axpy over the columns of `x`, `tanh` in place, and its term of the output added; then the
/// residual; then per unit the whole backward pass (`w2`, `b1` and `w1` partials by dots
/// over columns). `tanh` is the elementwise function given (libm's or the library's).
fn bnn_fast(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    h: usize,
    th: &[f64],
    g: &mut [f64],
    s: &mut BnnScratch,
    tanh: impl Fn(f64) -> f64,
) -> f64 {
    let (n, d) = x.shape();
    let (xs, ys) = (x.as_slice(), y.as_slice());
    let nw1 = d * h;
    // w1 is row-major in theta: w1[i, j] = th[i * h + j].
    let (w1, b1, w2) = (&th[..nw1], &th[nw1..nw1 + h], &th[nw1 + h..nw1 + 2 * h]);
    let (b2, ls) = (th[nw1 + 2 * h], th[nw1 + 2 * h + 1]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let (hid, r, ga) = (&mut s.hid[..n * h], &mut s.r[..n], &mut s.ga[..n]);
    // Forward: r = b2 + hid w2 (the location, for now).
    r.fill(b2);
    for j in 0..h {
        let col = &mut hid[j * n..(j + 1) * n];
        col.fill(b1[j]);
        for i in 0..d {
            axpy(w1[i * h + j], &xs[i * n..(i + 1) * n], col);
        }
        for v in col.iter_mut() {
            *v = tanh(*v);
        }
        axpy(w2[j], col, r);
    }
    // Residual: r = (y - mu) / sigma^2, and its sum of squares.
    for (ri, yi) in r.iter_mut().zip(ys) {
        *ri = yi - *ri;
    }
    let ss = sum_sq(r);
    for ri in r.iter_mut() {
        *ri *= inv2;
    }
    // Backward, per hidden unit.
    let (gw1, rest) = g.split_at_mut(nw1);
    let (gb1, rest) = rest.split_at_mut(h);
    let (gw2, rest) = rest.split_at_mut(h);
    for j in 0..h {
        let col = &hid[j * n..(j + 1) * n];
        gw2[j] = dot(col, r) - w2[j];
        for ((gi, ri), t) in ga.iter_mut().zip(&*r).zip(col) {
            *gi = ri * w2[j] * (1.0 - t * t);
        }
        gb1[j] = sum(ga) - b1[j];
        for i in 0..d {
            gw1[i * h + j] = dot(&xs[i * n..(i + 1) * n], ga) - w1[i * h + j];
        }
    }
    rest[0] = sum(r) - b2;
    rest[1] = ss * inv2 - n as f64 - sigma * sigma + 1.0;
    let mut lp = -0.5 * (dot(w1, w1) + dot(w2, w2) + dot(b1, b1) + b2 * b2)
        - (nw1 + 2 * h + 1) as f64 * LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n as f64 * (ls + LN_SQRT_2PI);
    lp
}

/// Hand-written network one observation at a time, the loop form's shape: per row, the
/// hidden layer (rows of `w1`, contiguous in theta, scaled by the row's inputs), its tanh,
/// the output and the backward pass, over vectors of the hidden units; no allocation
/// (`hid` is scratch of length `h`).
#[allow(clippy::too_many_arguments)]
fn bnn_row_loop(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    h: usize,
    th: &[f64],
    g: &mut [f64],
    hid: &mut [f64],
    tanh: impl Fn(f64) -> f64,
) -> f64 {
    let (n, d) = x.shape();
    let nw1 = d * h;
    let (w1, b1, w2) = (&th[..nw1], &th[nw1..nw1 + h], &th[nw1 + h..nw1 + 2 * h]);
    let (b2, ls) = (th[nw1 + 2 * h], th[nw1 + 2 * h + 1]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    g.fill(0.0);
    let (gw1, rest) = g.split_at_mut(nw1);
    let (gb1, rest) = rest.split_at_mut(h);
    let (gw2, rest) = rest.split_at_mut(h);
    let hid = &mut hid[..h];
    let (mut ss, mut gb2) = (0.0, 0.0);
    for r in 0..n {
        hid.copy_from_slice(b1);
        for i in 0..d {
            axpy(x[(r, i)], &w1[i * h..(i + 1) * h], hid);
        }
        for v in hid.iter_mut() {
            *v = tanh(*v);
        }
        let e = y[r] - b2 - dot(hid, w2);
        ss += e * e;
        let rr = e * inv2;
        gb2 += rr;
        axpy(rr, hid, gw2);
        // The hidden layer's adjoint, in place of its values.
        for ((v, w), gb) in hid.iter_mut().zip(w2).zip(gb1.iter_mut()) {
            let ga = rr * w * (1.0 - *v * *v);
            *gb += ga;
            *v = ga;
        }
        for i in 0..d {
            axpy(x[(r, i)], hid, &mut gw1[i * h..(i + 1) * h]);
        }
    }
    for (gv, v) in gw1.iter_mut().zip(w1) {
        *gv -= v;
    }
    for (gv, v) in gb1.iter_mut().zip(b1) {
        *gv -= v;
    }
    for (gv, v) in gw2.iter_mut().zip(w2) {
        *gv -= v;
    }
    rest[0] = gb2 - b2;
    rest[1] = ss * inv2 - n as f64 - sigma * sigma + 1.0;
    let mut lp = -0.5 * (dot(w1, w1) + dot(w2, w2) + dot(b1, b1) + b2 * b2)
        - (nw1 + 2 * h + 1) as f64 * LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n as f64 * (ls + LN_SQRT_2PI);
    lp
}

/// The likelihood of `linreg_vec` alone through the fused kernel, at `th = (w, b, ln sigma)`,
/// with every partial (the adjoints on the stack: five columns).
fn glm_kernel(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64]) -> f64 {
    let d = x.ncols();
    let (mut gw, mut gb, mut gs) = ([0.0; 5], [0.0], [0.0]);
    let lp = vi::ad::glm::normal_id_glm(
        x.as_slice(),
        x.nrows(),
        d,
        y.as_slice(),
        &th[..d],
        &th[d..d + 1],
        &[th[d + 1].exp()],
        Some(&mut gw[..d]),
        Some(&mut gb),
        Some(&mut gs),
    )
    .unwrap_or(f64::NAN);
    lp + gw[0] + gb[0] + gs[0]
}

fn data(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |i, j| ((i * 31 + j * 17) % 97) as f64 / 48.0 - 1.0);
    let y = DVector::from_fn(n, |i, _| ((i * 13) % 29) as f64 / 10.0 - 1.4);
    (x, y)
}

/// The data and models of both groups, built once.
struct Setup {
    lin: (DMatrix<f64>, DVector<f64>),
    lv: LinregVec,
    ll: LinregLoop,
    net: (DMatrix<f64>, DVector<f64>),
    bm: BnnMatrix,
    bl: BnnLoop,
    br: BnnMatrixRules,
    wide: (DMatrix<f64>, DVector<f64>),
    bw: BnnMatrix,
    bwr: BnnMatrixRules,
    coin: Vec<i64>,
    cv: CoinVec,
    cl: CoinLoop,
    big: (DMatrix<f64>, DVector<f64>),
    bv: LinregVec,
    blet: LinregLet,
}

const H: usize = 50;

impl Setup {
    fn new() -> Self {
        let lin = data(1000, 5);
        let lv = linreg_vec(&lin.0, &lin.1).expect("valid data");
        let ll = linreg_loop(&lin.0, &lin.1).expect("valid data");
        let net = data(200, 5);
        let bm = bnn_matrix(&net.0, &net.1, H).expect("valid data");
        let bl = bnn_loop(&net.0, &net.1, H).expect("valid data");
        let br = bnn_matrix_rules(&net.0, &net.1, H).expect("valid data");
        // Thirteen inputs: the tanh-layer kernel's general copy (odd, not a multiple of the
        // lanes), fused and through the rules.
        let wide = data(200, 13);
        let bw = bnn_matrix(&wide.0, &wide.1, H).expect("valid data");
        let bwr = bnn_matrix_rules(&wide.0, &wide.1, H).expect("valid data");
        // The peers' coin: N = 100, 71 heads (`../shared/bench/coin.json`; the density
        // depends on the order only through rounding).
        let coin: Vec<i64> = (0..100).map(|i| i64::from(i < 71)).collect();
        let cv = coin_vec(&coin).expect("valid data");
        let cl = coin_loop(&coin).expect("valid data");
        let big = data(1_000_000, 5);
        let bv = linreg_vec(&big.0, &big.1).expect("valid data");
        let blet = linreg_let(&big.0, &big.1).expect("valid data");
        Setup {
            lin,
            lv,
            ll,
            net,
            bm,
            bl,
            br,
            wide,
            bw,
            bwr,
            coin,
            cv,
            cl,
            big,
            bv,
            blet,
        }
    }
}

/// One timed variant: its group, its name, and one gradient evaluation.
pub(crate) type Variant<'a> = (&'static str, &'static str, Box<dyn FnMut() -> f64 + 'a>);

/// A variant's gradient evaluation: `m`'s compiled gradient at `th`.
fn compiled<'a, M: Model + ?Sized>(m: &'a M, th: &[f64]) -> Box<dyn FnMut() -> f64 + 'a> {
    let (th, mut g) = (th.to_vec(), vec![0.0; th.len()]);
    Box::new(move || m.log_density_grad(black_box(&th), &mut g))
}

/// Every variant, after checking each hand-written gradient against the compiled models
/// (value and gradient to 1e-8).
fn variants(s: &Setup) -> Vec<Variant<'_>> {
    const LIN: &str = "linreg N=1000 D=5";
    const NET: &str = "bnn N=200 D=5 H=50";
    let (x, y) = (&s.lin.0, &s.lin.1);
    let mut r = vec![0.0; BLOCK];
    check("linreg_vec", &s.lv, |t, g| linreg_hand(x, y, t, g));
    check("linreg_loop", &s.ll, |t, g| linreg_hand_loop(x, y, t, g));
    let rc = std::cell::RefCell::new(&mut r);
    check("linreg fast", &s.lv, |t, g| {
        linreg_fast(x, y, t, g, &mut rc.borrow_mut())
    });
    check("linreg fast (loop model)", &s.ll, |t, g| {
        linreg_fast(x, y, t, g, &mut rc.borrow_mut())
    });
    let (nx, ny) = (&s.net.0, &s.net.1);
    let mut sc = BnnScratch::new(nx.nrows(), H);
    let scc = std::cell::RefCell::new(&mut sc);
    check("bnn_matrix", &s.bm, |t, g| bnn_hand(nx, ny, H, t, g));
    check("bnn_loop", &s.bl, |t, g| bnn_hand(nx, ny, H, t, g));
    check("bnn_matrix_rules", &s.br, |t, g| bnn_hand(nx, ny, H, t, g));
    check("bnn fast, libm tanh", &s.bm, |t, g| {
        bnn_fast(nx, ny, H, t, g, &mut scc.borrow_mut(), f64::tanh)
    });
    check("bnn fast, vi tanh", &s.bm, |t, g| {
        bnn_fast(nx, ny, H, t, g, &mut scc.borrow_mut(), vi::math::tanh)
    });
    let hid = std::cell::RefCell::new(vec![0.0; H]);
    check("bnn row loop (loop model)", &s.bl, |t, g| {
        bnn_row_loop(nx, ny, H, t, g, &mut hid.borrow_mut(), vi::math::tanh)
    });

    let th = theta(s.lv.dim());
    let g = vec![0.0; th.len()];
    let lin: Vec<Variant> = vec![
        (LIN, "hand-written fast", {
            let (th, mut g, mut r) = (th.clone(), g.clone(), vec![0.0; BLOCK]);
            Box::new(move || linreg_fast(x, y, black_box(&th), &mut g, &mut r))
        }),
        (LIN, "hand-written nalgebra", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || linreg_hand(x, y, black_box(&th), &mut g))
        }),
        (LIN, "hand-written row loop", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || linreg_hand_loop(x, y, black_box(&th), &mut g))
        }),
        (LIN, "compiled vectorised", compiled(&s.lv, &th)),
        (LIN, "compiled loop", compiled(&s.ll, &th)),
    ];
    let th = theta(s.bm.dim());
    let g = vec![0.0; th.len()];
    let net: Vec<Variant> = vec![
        (NET, "hand-written fast, vi::math::tanh", {
            let (th, mut g, mut sc) = (th.clone(), g.clone(), BnnScratch::new(nx.nrows(), H));
            Box::new(move || bnn_fast(nx, ny, H, black_box(&th), &mut g, &mut sc, vi::math::tanh))
        }),
        (NET, "hand-written fast, libm tanh", {
            let (th, mut g, mut sc) = (th.clone(), g.clone(), BnnScratch::new(nx.nrows(), H));
            Box::new(move || bnn_fast(nx, ny, H, black_box(&th), &mut g, &mut sc, f64::tanh))
        }),
        (NET, "hand-written row loop, vi::math::tanh", {
            let (th, mut g, mut hid) = (th.clone(), g.clone(), vec![0.0; H]);
            Box::new(move || {
                bnn_row_loop(nx, ny, H, black_box(&th), &mut g, &mut hid, vi::math::tanh)
            })
        }),
        (NET, "hand-written nalgebra", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || bnn_hand(nx, ny, H, black_box(&th), &mut g))
        }),
        (NET, "compiled matrix form", compiled(&s.bm, &th)),
        (
            NET,
            "compiled matrix form, rules (`let mu`, not fused)",
            compiled(&s.br, &th),
        ),
        (NET, "compiled loop form", compiled(&s.bl, &th)),
    ];
    const WIDE: &str = "bnn N=200 D=13 H=50";
    let (wx, wy) = (&s.wide.0, &s.wide.1);
    check("bnn_matrix D=13", &s.bw, |t, g| bnn_hand(wx, wy, H, t, g));
    check("bnn_matrix_rules D=13", &s.bwr, |t, g| {
        bnn_hand(wx, wy, H, t, g)
    });
    let th = theta(s.bw.dim());
    let wide: Vec<Variant> = vec![
        (WIDE, "compiled matrix form", compiled(&s.bw, &th)),
        (
            WIDE,
            "compiled matrix form, rules (`let mu`, not fused)",
            compiled(&s.bwr, &th),
        ),
    ];
    const COIN: &str = "coin N=100";
    let th = theta(s.cv.dim());
    let g = vec![0.0; th.len()];
    let heads = s.coin.iter().filter(|&&v| v == 1).count() as f64;
    let tails = s.coin.len() as f64 - heads;
    // Hand-written from the counts: logit p = t, Beta(1, 1) prior, log-Jacobian included.
    let coin_hand = move |th: &[f64], g: &mut [f64]| {
        let t = th[0];
        let (lp, lq) = (vi::math::log_sigmoid(t), vi::math::log_sigmoid(-t));
        let p = vi::math::sigmoid(t);
        g[0] = heads * (1.0 - p) - tails * p + 1.0 - 2.0 * p;
        heads * lp + tails * lq + lp + lq
    };
    check("coin from counts", &s.cv, coin_hand);
    check("coin loop", &s.cl, coin_hand);
    let coin: Vec<Variant> = vec![
        (COIN, "hand-written from the counts", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || coin_hand(black_box(&th), &mut g))
        }),
        (
            COIN,
            "compiled vectorised (sufficient statistics)",
            compiled(&s.cv, &th),
        ),
        (
            COIN,
            "compiled loop (per observation)",
            compiled(&s.cl, &th),
        ),
    ];
    const BIG: &str = "linreg N=10^6 D=5";
    let (bx, by) = (&s.big.0, &s.big.1);
    check("linreg N=10^6 fused against not fused", &s.bv, |t, g| {
        s.blet.log_density_grad(t, g)
    });
    let th = theta(s.bv.dim());
    let g = vec![0.0; th.len()];
    let big: Vec<Variant> = vec![
        // The memory-bandwidth floor: one streaming pass over x and y (48 MB), summed.
        (BIG, "one streaming pass over x and y", {
            Box::new(move || sum(black_box(bx.as_slice())) + sum(black_box(by.as_slice())))
        }),
        (BIG, "compiled vectorised", compiled(&s.bv, &th)),
        // Issue 16's multi-core likelihood: the same gradient with the kernels' rows split
        // over 1 and 2 threads (bit-identical results), and the bandwidth floor on 2 threads.
        (BIG, "one streaming pass over x and y, 2 threads", {
            Box::new(move || {
                let (x, y) = (black_box(bx.as_slice()), black_box(by.as_slice()));
                let (x0, x1) = x.split_at(x.len() / 2);
                let (y0, y1) = y.split_at(y.len() / 2);
                std::thread::scope(|sc| {
                    let h = sc.spawn(|| sum(x1) + sum(y1));
                    let a = sum(x0) + sum(y0);
                    a + h.join().unwrap_or(0.0)
                })
            })
        }),
        // Issue 16's fused pass (`vi::ad::glm`, what `y ~ Normal(x * w + b, sigma)` on a
        // data matrix compiles to): the compiled model with its kernels on 1 and 2 threads,
        // the likelihood kernel alone, and the same model with the location in a `let`
        // (not fused: `x * w`, the likelihood and `x^T r` as three passes).
        (BIG, "compiled, fused, 1 thread", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || {
                vi::threads::with_budget(1, || s.bv.log_density_grad(black_box(&th), &mut g))
            })
        }),
        (BIG, "compiled, fused, 2 threads", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || {
                vi::threads::with_budget(2, || s.bv.log_density_grad(black_box(&th), &mut g))
            })
        }),
        (BIG, "fused likelihood kernel alone, 1 thread", {
            let th = th.clone();
            Box::new(move || vi::threads::with_budget(1, || glm_kernel(bx, by, black_box(&th))))
        }),
        (BIG, "fused likelihood kernel alone, 2 threads", {
            let th = th.clone();
            Box::new(move || vi::threads::with_budget(2, || glm_kernel(bx, by, black_box(&th))))
        }),
        (BIG, "compiled, not fused (`let mu`), 1 thread", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || {
                vi::threads::with_budget(1, || s.blet.log_density_grad(black_box(&th), &mut g))
            })
        }),
        (BIG, "compiled, not fused (`let mu`), 2 threads", {
            let (th, mut g) = (th.clone(), g);
            Box::new(move || {
                vi::threads::with_budget(2, || s.blet.log_density_grad(black_box(&th), &mut g))
            })
        }),
    ];
    let mut all: Vec<Variant> = lin
        .into_iter()
        .chain(net)
        .chain(wide)
        .chain(coin)
        .chain(big)
        .collect();
    // Each compiled variant again with the kernels forced to the baseline (SSE2) path and,
    // where the preferred level is AVX-512, to the AVX2 path, then the dispatched variants
    // restored to the preferred level (issue 16's CPU dispatch).
    let mut out = Vec::new();
    for (group, name, mut f) in all.drain(..) {
        // (Not the rows named "compiled, ..." of the N = 10^6 group: the thread and fusion
        // comparisons run at the preferred level only.)
        if name.starts_with("compiled") && !name.starts_with("compiled,") {
            let cell = std::rc::Rc::new(std::cell::RefCell::new(f));
            let mut forced = vec![vi::simd::Level::Baseline];
            if vi::simd::preferred() == vi::simd::Level::Avx512 {
                forced.push(vi::simd::Level::Avx2);
            }
            for level in forced {
                let label: &'static str =
                    Box::leak(format!("{name}, {} SIMD", level.name()).into_boxed_str());
                let c2 = cell.clone();
                out.push((
                    group,
                    label,
                    Box::new(move || {
                        let _ = vi::simd::set_level(level);
                        (c2.borrow_mut())()
                    }) as Box<dyn FnMut() -> f64>,
                ));
            }
            f = Box::new(move || {
                let _ = vi::simd::set_level(vi::simd::preferred());
                (cell.borrow_mut())()
            });
        }
        out.push((group, name, f));
    }
    out
}

fn bench<M: Measurement>(c: &mut Criterion<M>, vs: &mut [Variant<'_>]) {
    let mut i = 0;
    while i < vs.len() {
        let group = vs[i].0;
        let mut grp = c.benchmark_group(group);
        while i < vs.len() && vs[i].0 == group {
            let (_, name, f) = &mut vs[i];
            grp.bench_function(*name, |b| b.iter(&mut *f));
            i += 1;
        }
        grp.finish();
    }
}

/// Interleaved timing for a machine shared with other jobs: in each of `rounds` rounds
/// every variant runs for about 20 ms in turn; a variant's figure is the median and the
/// minimum of its per-round means. Load changes then hit all variants alike, and the
/// minimum approaches the unloaded time. Ratios are against the group's first variant.
fn interleaved(vs: &mut [Variant<'_>], rounds: usize) {
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); vs.len()];
    let reps: Vec<u32> = vs
        .iter_mut()
        .map(|(_, _, f)| {
            let t = std::time::Instant::now();
            let mut k = 0u32;
            while t.elapsed() < Duration::from_millis(20) {
                black_box(f());
                k += 1;
            }
            k.max(1)
        })
        .collect();
    let mut faults = vec![0i64; vs.len()];
    for _ in 0..rounds {
        for (j, (_, _, f)) in vs.iter_mut().enumerate() {
            let f0 = minor_faults();
            let t = std::time::Instant::now();
            for _ in 0..reps[j] {
                black_box(f());
            }
            per[j].push(t.elapsed().as_secs_f64() * 1e6 / f64::from(reps[j]));
            faults[j] += minor_faults() - f0;
        }
    }
    let mut base = (None, 0.0, 0.0);
    println!(
        "| group | variant | median µs | min µs | ratio (median) | ratio (min) | page faults per call |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (j, (group, name, _)) in vs.iter().enumerate() {
        let t = &mut per[j];
        t.sort_by(f64::total_cmp);
        let (med, min) = (t[t.len() / 2], t[0]);
        if base.0 != Some(*group) {
            base = (Some(*group), med, min);
        }
        println!(
            "| {group} | {name} | {med:.2} | {min:.2} | {:.2} | {:.2} | {:.1} |",
            med / base.1,
            min / base.2,
            faults[j] as f64 / (f64::from(reps[j]) * rounds as f64)
        );
    }
}

/// Runs `f` `n` times (for an instruction counter's toggle); the last value.
#[inline(never)]
fn counted_calls(f: &mut dyn FnMut() -> f64, n: usize) -> f64 {
    let mut v = 0.0;
    for _ in 0..n {
        v = black_box(f());
    }
    v
}

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux and the
    // BSDs define.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Minor page faults of the process so far (`getrusage`).
fn minor_faults() -> i64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF is a valid target.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    ru.ru_minflt
}

/// Criterion measurement: CPU time of the benchmark thread, shown like wall time.
struct ThreadCpuTime {
    wall: WallTime,
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn main() {
    let setup = Setup::new();
    let mix = mixture::Setup::new();
    // Issue 13's gathers and shifts (`gather/mod.rs`): radon and AR(5).
    let gat = gather::Setup::new();
    // Issue 13 item 3: data arithmetic on arguments kept per model.
    let exp = exposure::Setup::new();
    // Issue 15's network on the peers' data, against one fused pass (`network/mod.rs`).
    let net = network::Setup::new();
    let mut vs = variants(&setup);
    vs.extend(mixture::variants(&mix));
    vs.extend(gather::variants(&gat));
    vs.extend(exposure::variants(&exp));
    vs.extend(network::variants(&net));
    // `VI_BENCH_GROUPS=radon,AR`: only the groups whose names contain one of these.
    if let Some(only) = std::env::var_os("VI_BENCH_GROUPS") {
        let only = only.to_string_lossy().into_owned();
        vs.retain(|(group, _, _)| only.split(',').any(|w| group.contains(w)));
    }
    if let Some(name) = std::env::var_os("VI_BENCH_VARIANT") {
        let name = name.to_string_lossy().into_owned();
        vs.retain(|(_, v, _)| v.contains(&*name));
    }
    if let Some(n) = std::env::var_os("VI_BENCH_CALLS") {
        let n = n.to_str().and_then(|n| n.parse().ok()).unwrap_or(1000);
        for (group, name, f) in &mut vs {
            println!("{group} | {name} | {}", counted_calls(&mut **f, n));
        }
    } else if let Some(r) = std::env::var_os("VI_BENCH_INTERLEAVED") {
        let rounds = r.to_str().and_then(|r| r.parse().ok()).unwrap_or(30);
        interleaved(&mut vs, rounds);
    } else if std::env::var_os("VI_BENCH_CPU_TIME").is_some_and(|v| v != "0") {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpuTime { wall: WallTime })
            .configure_from_args();
        bench(&mut c, &mut vs);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        bench(&mut c, &mut vs);
        c.final_summary();
    }
}
