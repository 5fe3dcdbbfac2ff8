//! Multi-core likelihood (issue 16): above `vi::threads::MIN_ROWS` rows the products and
//! the observation kernels split the rows into fixed chunks whose partial sums are added in
//! chunk order, so the density, the gradient and the fits are bit-identical on any number of
//! threads.

use crate::helpers::unif;
use vi::prelude::*;

model! {
    fn linreg(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    fn linreg_student(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(10.0);
        y ~ StudentT(5.0, x * w + b, sigma);
    }
}

/// `n` rows of `d` unstandardised predictors near 100 (spread 10) and
/// `y = x w + b + noise` with `w = (0.3, -0.2, ..)`, `b = 5`, noise sd 2.
fn data(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let u = unif(n * (d + 1), 7);
    let x = DMatrix::from_fn(n, d, |i, j| 100.0 + 20.0 * (u[j * n + i] - 0.5));
    let w: Vec<f64> = (0..d).map(|j| 0.3 - 0.25 * j as f64).collect();
    let y = DVector::from_fn(n, |i, _| {
        let mu: f64 = 5.0 + (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>();
        // A uniform noise of sd 2.
        mu + 2.0 * 12f64.sqrt() * (u[d * n + i] - 0.5)
    });
    (x, y)
}

/// The log density and gradient with the kernels limited to `t` threads.
fn eval(m: &impl Model, th: &[f64], t: usize) -> (f64, Vec<f64>) {
    vi::threads::with_budget(t, || {
        let mut g = vec![0.0; th.len()];
        let lp = m.log_density_grad(th, &mut g);
        (lp, g)
    })
}

/// The same model's log density and gradient written out by hand, in plain sums: the
/// independent reference (the unconstrained `sigma` is `ln sigma`, with its Jacobian).
fn by_hand(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64]) -> (f64, Vec<f64>) {
    const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
    let d = x.ncols();
    let (w, b, s) = (&th[..d], th[d], th[d + 1].exp());
    let mut g = vec![0.0; d + 2];
    let mut lp = 0.0;
    for &wj in w {
        lp += -0.5 * wj * wj - LN_SQRT_2PI;
    }
    for j in 0..d {
        g[j] -= w[j];
    }
    lp += -0.5 * (b / 100.0).powi(2) - 100f64.ln() - LN_SQRT_2PI;
    g[d] -= b / 1e4;
    // HalfNormal(10) on sigma, plus ln sigma for the Jacobian.
    lp += -0.5 * (s / 10.0).powi(2) + 2f64.ln() - 10f64.ln() - LN_SQRT_2PI + th[d + 1];
    g[d + 1] += -s * s / 100.0 + 1.0;
    let mut ss = 0.0;
    for i in 0..x.nrows() {
        let mu = b + (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>();
        let z = (y[i] - mu) / s;
        ss += z * z;
        for j in 0..d {
            g[j] += z / s * x[(i, j)];
        }
        g[d] += z / s;
    }
    let n = x.nrows() as f64;
    lp += -0.5 * ss - n * (s.ln() + LN_SQRT_2PI);
    g[d + 1] += ss - n;
    (lp, g)
}

#[test]
fn linreg_density_and_gradient_are_bit_identical_on_1_2_4_threads() {
    let (n, d) = (600_000, 5);
    assert!(n >= vi::threads::MIN_ROWS);
    let (x, y) = data(n, d);
    let m = linreg(&x, &y).unwrap();
    let mut points = vec![vec![0.3, 0.05, -0.2, -0.45, -0.7, 5.0, 2f64.ln()]];
    points.push(vec![0.2, 0.1, -0.1, -0.5, -0.6, 20.0, 3f64.ln()]);
    for th in &points {
        let one = eval(&m, th, 1);
        assert!(one.0.is_finite());
        for t in [2, 4] {
            let many = eval(&m, th, t);
            assert_eq!(one.0.to_bits(), many.0.to_bits(), "value, {t} threads");
            let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one.1), bits(&many.1), "gradient, {t} threads");
        }
        // And the chunked sums are the density: against plain sums written out by hand.
        let (lp, g) = by_hand(&x, &y, th);
        assert!((one.0 - lp).abs() <= 1e-9 * lp.abs(), "{} vs {lp}", one.0);
        let scale = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, b) in one.1.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-9 * scale, "{a} vs {b}");
        }
    }
}

#[test]
fn per_element_kernel_is_bit_identical_on_1_2_threads() {
    // StudentT runs the shared per-element loop (`dist::scalar::slices`).
    let (x, y) = data(540_000, 2);
    let m = linreg_student(&x, &y).unwrap();
    let th = [0.3, 0.05, 5.0, 0.7];
    let (one, two) = (eval(&m, &th, 1), eval(&m, &th, 2));
    assert!(one.0.is_finite());
    assert_eq!(one.0.to_bits(), two.0.to_bits());
    let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.1), bits(&two.1));
}

/// The fits below share one data set: 600,000 rows (above `MIN_ROWS`, ten chunks, the last
/// one short) of two predictors near 100, built once.
fn fit_data() -> &'static (DMatrix<f64>, DVector<f64>) {
    static DATA: std::sync::OnceLock<(DMatrix<f64>, DVector<f64>)> = std::sync::OnceLock::new();
    DATA.get_or_init(|| data(600_000, 2))
}

/// Runs `fit` under a budget of 1, 2 and 4 threads and asserts that every draw and every
/// `lp__` of every chain is bit-identical, and so are the means. The budget is this
/// thread's ([`vi::threads::with_budget`]), so the tests running in parallel in this binary
/// do not change each other's setting; the engines hand shares of it to the threads they
/// start. Returns the one-thread fit.
fn same_on_1_2_4(fit: impl Fn() -> Posterior) -> Posterior {
    let bits = |p: &Posterior| {
        p.chains()
            .iter()
            .flat_map(|c| c.draws.iter().chain(&c.lp))
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    let means = |p: &Posterior| {
        ["w", "b", "sigma"]
            .iter()
            .flat_map(|n| p.mean(n).unwrap())
            .map(f64::to_bits)
            .collect::<Vec<_>>()
    };
    let one = vi::threads::with_budget(1, &fit);
    assert!(one.num_draws() > 0);
    assert!(one
        .chains()
        .iter()
        .flat_map(|c| &c.draws)
        .all(|v| v.is_finite()));
    for t in [2, 4] {
        let many = vi::threads::with_budget(t, &fit);
        assert_eq!(bits(&one), bits(&many), "draws, {t} threads");
        assert_eq!(means(&one), means(&many), "means, {t} threads");
    }
    one
}

#[test]
fn dadvi_fit_is_bit_identical_on_1_2_4_threads() {
    let (x, y) = fit_data();
    let m = linreg(x, y).unwrap();
    // Few fixed draws and L-BFGS steps from a random start keep it short (the Laplace
    // start is the Laplace fit, tested below); with 2 and 4 threads the objective also
    // spreads its draws over threads (an evaluation takes well over a millisecond).
    let one = same_on_1_2_4(|| {
        Vi::default()
            .seed(5)
            .laplace_start(false)
            .linear_response(false)
            .fixed_draws(4)
            .max_iterations(8)
            .draws(100)
            .fit(&m)
            .unwrap()
    });
    assert_eq!(one.method(), "VI");
}

#[test]
fn stochastic_vi_fit_is_bit_identical_on_1_2_4_threads() {
    let (x, y) = fit_data();
    let m = linreg(x, y).unwrap();
    let one = same_on_1_2_4(|| {
        Vi::stochastic()
            .seed(6)
            .progress(false)
            .adapt_iterations(5)
            .max_iterations(20)
            .eval_interval(10)
            .elbo_samples(5)
            .draws(100)
            .fit(&m)
            .unwrap()
    });
    assert_eq!(one.method(), "VI");
}

#[test]
fn laplace_fit_is_bit_identical_on_1_2_4_threads() {
    let (x, y) = fit_data();
    let m = linreg(x, y).unwrap();
    // Two starts: on 2 and 4 threads they climb in two threads, each on a share of them.
    let one = same_on_1_2_4(|| {
        Laplace::default()
            .seed(7)
            .starts(2)
            .tolerance(1e-6)
            .draws(100)
            .fit(&m)
            .unwrap()
    });
    // The fit is the regression's: the noise sd 2 and the slopes recovered (their
    // posterior sds are about 0.002 and 0.0005).
    let s = one.mean("sigma").unwrap()[0];
    assert!((s - 2.0).abs() < 0.02, "sigma {s}");
    let w = one.mean("w").unwrap();
    assert!(
        (w[0] - 0.3).abs() < 0.01 && (w[1] - 0.05).abs() < 0.01,
        "w {w:?}"
    );
}

#[test]
fn nuts_run_is_bit_identical_on_1_2_4_threads() {
    let (x, y) = fit_data();
    let m = linreg(x, y).unwrap();
    // Two chains: on a budget of 2 and 4 they run in two threads, each chain's kernels on a
    // share of 1 and 2 threads. Short and shallow to stay fast; the draws need not mix.
    let one = same_on_1_2_4(|| {
        Nuts::default()
            .seed(8)
            .chains(2)
            .warmup(15)
            .draws(15)
            .max_depth(3)
            .progress(false)
            .fit(&m)
            .unwrap()
    });
    assert_eq!(one.num_draws(), 30);
}
