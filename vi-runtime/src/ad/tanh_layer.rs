//! A network's hidden tanh layer, its Gaussian output and every partial in one pass over the
//! rows: `sum_i ln Normal(y_i | tanh(x_i W1 + b1) w2 + b2, sigma)`, what `model!` calls for
//!
//! ```text
//! let h = (x * w1 + b1.transpose()).tanh();
//! y ~ Normal(h * w2 + b2, sigma);
//! ```
//!
//! with a data matrix `x` (`N x D`), `w1` a `D x H` matrix, `b1` and `w2` vectors of `H`, and
//! `b2` and `sigma` single numbers.
//!
//! Written as rules, the two statements make and read the `N x H` pre-activations, the
//! `N x H` hidden layer and its `N x H` adjoint (three matrices of 80 KB at `N = 200`,
//! `H = 50`, more than the L1 cache), and sweep them in four products (`x * w1`, `h * w2`,
//! `h^T r`, `x^T g`). Here blocks of [`BLOCK`] rows are done at a time: their `H` hidden
//! values (13 KB) are computed, summed into the locations, and the block's residuals and
//! backward pass run while they are in registers and the L1 cache; the partials of `W1`,
//! `b1` and `w2` are kept as [`LANES`] partial sums each (a block's products for one weight of
//! `W1` summed in registers first), added up once at the end.
//! Nothing of length `N` is allocated.
//!
//! The values are those of the rules to rounding: the pre-activation is `x_i W1` summed
//! over the inputs in order, then `b1` added, and `tanh` is [`crate::math::tanh`] (what
//! `ad::tanh` uses), so with one input (`D = 1`) the hidden layer is bit-identical to the
//! rules'; the sums over units and rows are in another order (relative differences of a few
//! ulp of the largest term). The loops run at the [`simd::level`](crate::simd::level)
//! chosen at start-up, with the same bits on every level.
//!
//! ```
//! use vi_runtime::ad::tanh_layer::{normal_tanh_layer, LayerGrads};
//! // One row, one input, one unit: x = 0.5, W1 = 2, b1 = 0, w2 = 1, b2 = 0, sigma = 1, y = 1.
//! let mut gw2 = [0.0];
//! let lp = normal_tanh_layer(
//!     &[0.5], 1, 1, &[1.0], &[2.0], &[0.0], &[1.0], &[0.0], &[1.0],
//!     LayerGrads { w2: Some(&mut gw2), ..LayerGrads::default() },
//! )?;
//! let t = 1f64.tanh();
//! let want = -0.5 * (1.0 - t) * (1.0 - t) - vi_runtime::math::LN_SQRT_2PI;
//! assert!((lp - want).abs() < 1e-15);
//! // d/dw2 = (y - mu) tanh(x W1 + b1) / sigma^2.
//! assert!((gw2[0] - (1.0 - t) * t).abs() < 1e-15);
//! # Ok::<(), vi_runtime::ad::tanh_layer::LayerShape>(())
//! ```

use crate::ad::kernels::{combine, LANES};
use crate::math::LN_SQRT_2PI;

/// Operands of [`normal_tanh_layer`] whose lengths do not fit `x`'s shape and the layer's
/// width (the length of `b1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerShape {
    /// Which operand: `"x"`, `"y"`, `"w1"`, `"w2"`, `"b2"`, `"sigma"`, or the adjoint of one
    /// (`"dw1"`, `"db1"`, `"dw2"`, `"db2"`, `"dsigma"`).
    pub operand: &'static str,
    /// Its length.
    pub len: usize,
    /// `x`'s rows.
    pub rows: usize,
    /// `x`'s columns.
    pub cols: usize,
    /// The hidden units (the length of `b1`).
    pub hidden: usize,
}

impl LayerShape {
    /// The message with the operands named as the user wrote them: `names` are the texts of
    /// `x`, `y`, `w1`, `b1`, `w2`, `b2` and `sigma`.
    pub fn describe(&self, names: [&str; 7]) -> String {
        let [x, y, w1, b1, w2, b2, s] = names;
        let (len, rows, cols, hidden) = (self.len, self.rows, self.cols, self.hidden);
        let op = self.operand.trim_start_matches('d');
        let (what, want) = match op {
            "x" => (
                x.to_string(),
                format!("{rows} x {cols} = {} values", rows * cols),
            ),
            "y" => (y.to_string(), format!("{rows}, one per row of `{x}`")),
            "w1" => (
                w1.to_string(),
                format!(
                    "{cols} x {hidden} = {} values (columns of `{x}` x length of `{b1}`)",
                    cols * hidden
                ),
            ),
            "w2" => (w2.to_string(), format!("{hidden}, the length of `{b1}`")),
            "b2" => (b2.to_string(), "1".to_string()),
            _ => (s.to_string(), "1".to_string()),
        };
        let adj = if self.operand.starts_with('d') {
            "the adjoint of "
        } else {
            ""
        };
        format!("{adj}`{what}` has length {len}, expected {want}")
    }
}

/// The adjoints [`normal_tanh_layer`] adds its partials into (`None`: not wanted). `w1` is
/// `D x H` column-major like the value.
#[derive(Default)]
pub struct LayerGrads<'a> {
    /// Of `W1`.
    pub w1: Option<&'a mut [f64]>,
    /// Of `b1`.
    pub b1: Option<&'a mut [f64]>,
    /// Of `w2`.
    pub w2: Option<&'a mut [f64]>,
    /// Of `b2`.
    pub b2: Option<&'a mut [f64]>,
    /// Of `sigma`.
    pub sigma: Option<&'a mut [f64]>,
}

impl LayerGrads<'_> {
    fn any(&self) -> bool {
        self.w1.is_some()
            || self.b1.is_some()
            || self.w2.is_some()
            || self.b2.is_some()
            || self.sigma.is_some()
    }
}

/// `sum_i ln Normal(y_i | sum_j w2_j tanh(sum_k x_ik W1_kj + b1_j) + b2, sigma)`, every
/// partial added into the adjoints given in `g`.
///
/// `x` is `rows x cols` column-major, `w1` is `cols x H` column-major with `H = b1.len()`,
/// `w2` has `H` values, `b2` one (or none: no output bias) and `sigma` one. A scale that is
/// not positive gives a NaN density (as the Normal kernel does) and adds nothing.
///
/// # Errors
/// [`LayerShape`] naming the first operand or adjoint whose length does not fit; nothing is
/// added then.
#[allow(clippy::too_many_arguments)]
pub fn normal_tanh_layer(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    w1: &[f64],
    b1: &[f64],
    w2: &[f64],
    b2: &[f64],
    sigma: &[f64],
    g: LayerGrads<'_>,
) -> Result<f64, LayerShape> {
    let hidden = b1.len();
    let bad = |operand, len| LayerShape {
        operand,
        len,
        rows,
        cols,
        hidden,
    };
    let fits = |v: Option<&[f64]>, want: usize| v.is_none_or(|v| v.len() == want);
    let checks: [(&'static str, Option<&[f64]>, usize); 11] = [
        ("x", Some(x), rows * cols),
        ("y", Some(y), rows),
        ("w1", Some(w1), cols * hidden),
        ("w2", Some(w2), hidden),
        ("b2", Some(b2), b2.len().min(1)),
        ("sigma", Some(sigma), 1),
        ("dw1", g.w1.as_deref(), cols * hidden),
        ("db1", g.b1.as_deref(), hidden),
        ("dw2", g.w2.as_deref(), hidden),
        ("db2", g.b2.as_deref(), b2.len()),
        ("dsigma", g.sigma.as_deref(), 1),
    ];
    for (name, v, want) in checks {
        if !fits(v, want) {
            return Err(bad(name, v.map_or(0, <[f64]>::len)));
        }
    }
    let s = sigma[0];
    if s.is_nan() || s <= 0.0 {
        return Ok(f64::NAN);
    }
    let inv2 = 1.0 / (s * s);
    let b2v = b2.first().copied().unwrap_or(0.0);
    let grad = g.any();
    // The partial sums of the partials of `w2`, `b1` and `W1` (in that order, one row of
    // lanes per unit, `W1`'s as it is stored).
    let mut scratch = Scratch::take();
    let sc = &mut scratch;
    zeros(&mut sc.acc, if grad { hidden * (cols + 2) } else { 0 });
    let (ss, sr) = crate::simd::dispatch!([] [] (
        x: &[f64],
        rows: usize,
        cols: usize,
        y: &[f64],
        w1: &[f64],
        b1: &[f64],
        w2: &[f64],
        b2v: f64,
        inv2: f64,
        sc: &mut Scratch,
    ) -> ([f64; LANES], [f64; LANES]) {
        // One copy per small input width, so that its loops are unrolled.
        match cols {
            1 => pass(x, rows, 1, y, w1, b1, w2, b2v, inv2, sc),
            2 => pass(x, rows, 2, y, w1, b1, w2, b2v, inv2, sc),
            3 => pass(x, rows, 3, y, w1, b1, w2, b2v, inv2, sc),
            4 => pass(x, rows, 4, y, w1, b1, w2, b2v, inv2, sc),
            5 => pass(x, rows, 5, y, w1, b1, w2, b2v, inv2, sc),
            d => pass(x, rows, d, y, w1, b1, w2, b2v, inv2, sc),
        }
    });
    let ss = combine(ss);
    let n = rows as f64;
    let lp = -0.5 * ss * inv2 - n * (s.ln() + LN_SQRT_2PI);
    if grad {
        let (a2, rest) = sc.acc.split_at(hidden);
        let (ab1, aw1) = rest.split_at(hidden);
        let add = |out: Option<&mut [f64]>, from: &[[f64; LANES]]| {
            if let Some(out) = out {
                for (o, a) in out.iter_mut().zip(from) {
                    *o += combine(*a);
                }
            }
        };
        add(g.w2, a2);
        add(g.b1, ab1);
        add(g.w1, aw1);
        if let Some(gb) = g.b2 {
            gb[0] += combine(sr);
        }
        if let Some(gs) = g.sigma {
            gs[0] += (ss * inv2 - n) / s;
        }
    }
    scratch.give();
    Ok(lp)
}

/// The buffers of one call's blocks, kept per thread (taken at the start of a call, given
/// back at its end) so that after the first call a gradient allocates nothing.
#[derive(Default)]
struct Scratch {
    /// The partial sums of the partials of `w2`, `b1` and `W1` (in that order, one row of
    /// lanes per unit, `W1`'s as it is stored).
    acc: Vec<[f64; LANES]>,
    /// A block's inputs and hidden values ([`BLOCK`] rows).
    xb: Vec<[f64; BLOCK]>,
    t: Vec<[f64; BLOCK]>,
    /// The same for the last rows, [`LANES`] at a time.
    xl: Vec<[f64; LANES]>,
    tl: Vec<[f64; LANES]>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

impl Scratch {
    /// This thread's buffers (new ones while they are out or the thread is ending).
    fn take() -> Scratch {
        SCRATCH
            .try_with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)).ok())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Back to this thread, for the next call.
    fn give(self) {
        let _ = SCRATCH.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = self;
            }
        });
    }
}

/// `v` as `n` zeros, in its own storage.
fn zeros<const N: usize>(v: &mut Vec<[f64; N]>, n: usize) -> &mut [[f64; N]] {
    v.clear();
    v.resize(n, [0.0; N]);
    v
}

/// Rows per block of the main loop: four vectors of [`LANES`], so that four independent
/// `tanh` evaluations are in flight (one is a chain of some 40 dependent instructions).
pub const BLOCK: usize = 4 * LANES;

/// The body of [`normal_tanh_layer`], inlined into each compiled copy (and for each small
/// `d`): blocks of [`BLOCK`] rows, then of [`LANES`] for the rest, each forward then
/// backward; returns the lanes' sums of squared residuals and of scaled residuals. `acc`
/// empty: no backward pass.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pass(
    x: &[f64],
    rows: usize,
    d: usize,
    y: &[f64],
    w1: &[f64],
    b1: &[f64],
    w2: &[f64],
    b2: f64,
    inv2: f64,
    sc: &mut Scratch,
) -> ([f64; LANES], [f64; LANES]) {
    let acc = &mut sc.acc[..];
    let h = b1.len();
    let (w1, w2) = (&w1[..d * h], &w2[..h]);
    let mut sums = ([0.0; LANES], [0.0; LANES]);
    let wide = rows - rows % BLOCK;
    let (a21, aw1) = acc.split_at_mut(if acc.is_empty() { 0 } else { 2 * h });
    let xb = zeros(&mut sc.xb, d);
    let t = zeros(&mut sc.t, h);
    let mut start = 0;
    while start < wide {
        block::<BLOCK>(
            x, rows, d, start, BLOCK, y, w1, b1, w2, b2, inv2, xb, t, a21, aw1, &mut sums,
        );
        start += BLOCK;
    }
    let xb = zeros(&mut sc.xl, d);
    let t = zeros(&mut sc.tl, h);
    while start < rows {
        let m = LANES.min(rows - start);
        block::<LANES>(
            x, rows, d, start, m, y, w1, b1, w2, b2, inv2, xb, t, a21, aw1, &mut sums,
        );
        start += m;
    }
    sums
}

/// `c`'s `B` lanes added into [`LANES`] partial sums, chunk by chunk.
#[inline(always)]
fn fold<const B: usize>(acc: &mut [f64; LANES], c: &[f64; B]) {
    for k in (0..B).step_by(LANES) {
        for l in 0..LANES {
            acc[l] += c[k + l];
        }
    }
}

/// Rows `start..start + m` (`m <= B`, padded with zeros to `B`), forward then backward.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const B: usize>(
    x: &[f64],
    rows: usize,
    d: usize,
    start: usize,
    m: usize,
    y: &[f64],
    w1: &[f64],
    b1: &[f64],
    w2: &[f64],
    b2: f64,
    inv2: f64,
    xb: &mut [[f64; B]],
    t: &mut [[f64; B]],
    a21: &mut [[f64; LANES]],
    aw1: &mut [[f64; LANES]],
    sums: &mut ([f64; LANES], [f64; LANES]),
) {
    // `d` and `h` from the arguments (`d` a constant in the copies for small widths), not
    // from the buffers' lengths, which LLVM cannot see through.
    let h = w2.len();
    let (xb, t) = (&mut xb[..d], &mut t[..h]);
    // The block's inputs and outcomes, padded with zeros past the last row.
    for (k, xk) in xb.iter_mut().enumerate() {
        *xk = [0.0; B];
        xk[..m].copy_from_slice(&x[k * rows + start..k * rows + start + m]);
    }
    let mut yb = [0.0; B];
    yb[..m].copy_from_slice(&y[start..start + m]);
    // Forward: each unit's pre-activation (inputs in order, then the bias), its tanh, and
    // its term of the location.
    let mut mu = [0.0; B];
    for ((tj, wj), (&bj, &vj)) in t.iter_mut().zip(w1.chunks_exact(d)).zip(b1.iter().zip(w2)) {
        let mut a = [0.0; B];
        for l in 0..B {
            a[l] = xb[0][l] * wj[0];
        }
        for k in 1..d {
            for l in 0..B {
                a[l] += xb[k][l] * wj[k];
            }
        }
        for l in 0..B {
            let v = crate::math::tanh(a[l] + bj);
            tj[l] = v;
            mu[l] += v * vj;
        }
    }
    // Residuals; the padding rows count for nothing.
    let (mut e2, mut r) = ([0.0; B], [0.0; B]);
    for l in 0..B {
        let e = if l < m { yb[l] - (mu[l] + b2) } else { 0.0 };
        e2[l] = e * e;
        r[l] = e * inv2;
    }
    fold(&mut sums.0, &e2);
    fold(&mut sums.1, &r);
    if a21.is_empty() {
        return;
    }
    let (a2, ab1) = a21.split_at_mut(h);
    for (((tj, &vj), (a2j, ab1j)), aw1j) in t
        .iter()
        .zip(w2)
        .zip(a2.iter_mut().zip(ab1.iter_mut()))
        .zip(aw1.chunks_exact_mut(d))
    {
        let (mut rt, mut ga) = ([0.0; B], [0.0; B]);
        for l in 0..B {
            rt[l] = r[l] * tj[l];
            ga[l] = r[l] * vj * (1.0 - tj[l] * tj[l]);
        }
        fold(a2j, &rt);
        fold(ab1j, &ga);
        // `dW1[k, j] += sum_rows x_k ga`: the block's products summed in registers,
        // [`LANES`] at a time in order, then added once into the unit's partial sums.
        for (awk, xk) in aw1j.iter_mut().zip(xb.iter()) {
            // An optimisation barrier (no instructions): without it LLVM's AVX2 copy
            // vectorised this loop over the inputs, gathering `x`, rather than over the rows.
            std::hint::black_box(());
            let mut p = [0.0; LANES];
            for l in 0..LANES {
                p[l] = xk[l] * ga[l];
            }
            for c in (LANES..B).step_by(LANES) {
                for l in 0..LANES {
                    p[l] += xk[c + l] * ga[c + l];
                }
            }
            for l in 0..LANES {
                awk[l] += p[l];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::gradient_mismatch;

    /// The two statements written out as the rules compute them: the `N x H` layer, the
    /// locations, the Normal density and the partials, one row at a time, in a compensated
    /// (Neumaier) sum for the density. `th` is `(W1 column-major, b1, w2, b2, sigma)`.
    fn naive(x: &[f64], n: usize, d: usize, y: &[f64], h: usize, th: &[f64]) -> (f64, Vec<f64>) {
        let (w1, rest) = th.split_at(d * h);
        let (b1, rest) = rest.split_at(h);
        let (w2, rest) = rest.split_at(h);
        let (b2, s) = (rest[0], rest[1]);
        let mut g = vec![0.0; th.len()];
        let (mut lp, mut comp) = (0.0f64, 0.0f64);
        let mut add = |v: f64| {
            let t = lp + v;
            comp += if lp.abs() >= v.abs() {
                (lp - t) + v
            } else {
                (v - t) + lp
            };
            lp = t;
        };
        for i in 0..n {
            let hid: Vec<f64> = (0..h)
                .map(|j| {
                    let a: f64 = (0..d).map(|k| x[k * n + i] * w1[k + j * d]).sum();
                    (a + b1[j]).tanh()
                })
                .collect();
            let mu = hid.iter().zip(w2).map(|(a, b)| a * b).sum::<f64>() + b2;
            let z = (y[i] - mu) / s;
            add(-0.5 * z * z - s.ln() - LN_SQRT_2PI);
            let r = z / s;
            for j in 0..h {
                g[d * h + h + j] += r * hid[j];
                let ga = r * w2[j] * (1.0 - hid[j] * hid[j]);
                g[d * h + j] += ga;
                for k in 0..d {
                    g[k + j * d] += ga * x[k * n + i];
                }
            }
            g[d * h + 2 * h] += r;
            g[d * h + 2 * h + 1] += (z * z - 1.0) / s;
        }
        (lp + comp, g)
    }

    /// The kernel at `th` (same layout as [`naive`]): the density and every partial.
    fn kernel(x: &[f64], n: usize, d: usize, y: &[f64], h: usize, th: &[f64]) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; th.len()];
        let (w1, rest) = th.split_at(d * h);
        let (b1, rest) = rest.split_at(h);
        let (w2, rest) = rest.split_at(h);
        let (gw1, grest) = g.split_at_mut(d * h);
        let (gb1, grest) = grest.split_at_mut(h);
        let (gw2, grest) = grest.split_at_mut(h);
        let (gb2, gs) = grest.split_at_mut(1);
        let lp = normal_tanh_layer(
            x,
            n,
            d,
            y,
            w1,
            b1,
            w2,
            &rest[..1],
            &rest[1..2],
            LayerGrads {
                w1: Some(gw1),
                b1: Some(gb1),
                w2: Some(gw2),
                b2: Some(gb2),
                sigma: Some(gs),
            },
        )
        .expect("shapes fit");
        (lp, g)
    }

    /// A parameter vector of the layout above with weights of size `scale`.
    fn params(d: usize, h: usize, scale: f64, sigma: f64) -> Vec<f64> {
        let mut th: Vec<f64> = (0..d * h + 2 * h + 1)
            .map(|i| scale * (((i * 37 + 5) % 23) as f64 / 11.0 - 1.0))
            .collect();
        th.push(sigma);
        th
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    /// `n x d` inputs near 100 (93 to 107) and outcomes in (-1.4, 1.4).
    fn near_100(n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
        let x = (0..n * d)
            .map(|k| 100.0 + ((k * 37 + 11) % 113) as f64 / 8.0 - 7.0)
            .collect();
        let y = (0..n)
            .map(|i| ((i * 13) % 29) as f64 / 10.0 - 1.4)
            .collect();
        (x, y)
    }

    /// The peers' network (one input in (-3, 3), 50 units, N = 200, noise 0.1) and
    /// unstandardised ones: three inputs near 100, 20 units, N = 3001 (a tail block of one
    /// row); five inputs (the copy for five), N = 2503; thirteen (the general copy, odd and
    /// not a multiple of the lanes), N = 1500. The weights are scaled so that the `d` terms
    /// near 100 sum to order one.
    #[test]
    fn matches_the_rules_written_out_and_finite_differences() {
        let peers_x: Vec<f64> = (0..200).map(|i| -3.0 + 6.0 * i as f64 / 199.0).collect();
        let peers_y: Vec<f64> = peers_x
            .iter()
            .map(|x| x.sin() + 0.05 * (7.0 * x).cos())
            .collect();
        let (n, d) = (3001, 3);
        let big_x: Vec<f64> = (0..n * d)
            .map(|k| 100.0 + ((k * 37 + 11) % 101) as f64 / 7.0 - 7.0)
            .collect();
        let big_y: Vec<f64> = (0..n)
            .map(|i| ((i * 13) % 29) as f64 / 10.0 - 1.4)
            .collect();
        let (x5, y5) = near_100(2503, 5);
        let (x13, y13) = near_100(1500, 13);
        for (x, y, n, d, h, th) in [
            (&peers_x, &peers_y, 200, 1, 50, params(1, 50, 1.0, 0.1)),
            (&big_x, &big_y, n, d, 20, params(d, 20, 0.01, 0.7)),
            (&x5, &y5, 2503, 5, 16, params(5, 16, 0.004, 0.6)),
            (&x13, &y13, 1500, 13, 9, params(13, 9, 0.0015, 0.8)),
        ] {
            let (lp, g) = kernel(x, n, d, y, h, &th);
            let (want, wg) = naive(x, n, d, y, h, &th);
            assert!(close(lp, want, 1e-12), "{lp} against {want}");
            let scale = wg.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (a, b)) in g.iter().zip(&wg).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-11 * scale,
                    "partial {i}: {a} against {b}"
                );
            }
            let f = |t: &[f64]| kernel(x, n, d, y, h, t).0;
            assert_eq!(gradient_mismatch(f, &g, &th, 1e-5), None);
        }
    }

    /// Two inputs in (-1.5, 1.5), N = 37 (one block and a tail); five and thirteen inputs
    /// near 100 (the copy for five and the general one), N = 75 and 290.
    #[test]
    fn every_simd_level_gives_the_same_bits_and_no_adjoint_the_same_density() {
        for (n, d, h, scale) in [(75, 5, 10, 0.004), (290, 13, 6, 0.0015)] {
            let (x, y) = near_100(n, d);
            let th = params(d, h, scale, 0.5);
            let runs = crate::simd::tests::on_every_level(|| kernel(&x, n, d, &y, h, &th));
            let (lp0, g0) = &runs[0].1;
            for (level, (lp, g)) in &runs {
                assert_eq!(lp.to_bits(), lp0.to_bits(), "{level:?}, d = {d}");
                assert!(
                    g.iter().zip(g0).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{level:?}, d = {d}"
                );
            }
        }
        let (n, d, h) = (37, 2, 9);
        let x: Vec<f64> = (0..n * d)
            .map(|k| ((k * 7) % 13) as f64 / 4.0 - 1.5)
            .collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 5) % 11) as f64 / 5.0 - 1.0).collect();
        let th = params(d, h, 0.8, 0.3);
        let runs = crate::simd::tests::on_every_level(|| kernel(&x, n, d, &y, h, &th));
        let (lp0, g0) = &runs[0].1;
        for (level, (lp, g)) in &runs {
            assert_eq!(lp.to_bits(), lp0.to_bits(), "{level:?}");
            assert!(
                g.iter().zip(g0).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{level:?}"
            );
        }
        let (w1, rest) = th.split_at(d * h);
        let (b1, rest) = rest.split_at(h);
        let (w2, rest) = rest.split_at(h);
        let lp = normal_tanh_layer(
            &x,
            n,
            d,
            &y,
            w1,
            b1,
            w2,
            &rest[..1],
            &rest[1..2],
            LayerGrads::default(),
        );
        assert_eq!(lp.map(f64::to_bits), Ok(lp0.to_bits()));
    }

    #[test]
    fn lengths_that_do_not_fit_are_named_and_a_bad_scale_is_nan() {
        let (x, y) = ([0.1, 0.2, 0.3], [1.0, 2.0, 3.0]);
        let (w1, b1, w2) = ([1.0, 2.0], [0.0, 0.0], [1.0, 1.0]);
        let run = |y: &[f64], w2: &[f64], s: &[f64], gb1: Option<&mut [f64]>| {
            normal_tanh_layer(
                &x,
                3,
                1,
                y,
                &w1,
                &b1,
                w2,
                &[0.0],
                s,
                LayerGrads {
                    b1: gb1,
                    ..LayerGrads::default()
                },
            )
        };
        let e = run(&y[..2], &w2, &[1.0], None).unwrap_err();
        assert_eq!(e.operand, "y");
        assert_eq!(
            e.describe(["x", "y", "w1", "b1", "w2", "b2", "sigma"]),
            "`y` has length 2, expected 3, one per row of `x`"
        );
        let e = run(&y, &w2[..1], &[1.0], None).unwrap_err();
        assert_eq!(
            e.describe(["x", "y", "w1", "b1", "w2", "b2", "sigma"]),
            "`w2` has length 1, expected 2, the length of `b1`"
        );
        let mut short = [0.0];
        let e = run(&y, &w2, &[1.0], Some(&mut short)).unwrap_err();
        assert_eq!(e.operand, "db1");
        assert!(run(&y, &w2, &[0.0], None).is_ok_and(f64::is_nan));
        assert!(run(&y, &w2, &[-1.0], None).is_ok_and(f64::is_nan));
    }
}
