//! User functions (issue 13 items 2 and 5): a `match` on data whose arms or guards call a
//! user function runs only the arm taken, as an `if` does; a function returning an integer
//! (`usize`, `i64`) may give the value of an `if` or a `match` and index with it; a panic
//! inside an inlined body names the statement that called the function.
//!
//! Data: the posteriordb garch11 returns (T = 200, tests/data/posteriordb.rs) repeated five
//! times (T = 1000) and shifted by 95, a series near 100, as in `macro_userfn3.rs`. Each model
//! goes through `check_near` (log density against the formula written out, 1e-10; gradient
//! against central finite differences, 1e-6) near plausible parameter values.

use vi::prelude::*;
use vi::Model;

use crate::helpers::*;
use crate::macro_userfn2::check_near;
// The same series and centre as the conditional calls' tests (garch11 near 100, T = 1000).
use crate::macro_userfn3::{centre, series};

/// Regime codes: 0 every 50th step (the first included), 1 at odd steps, 2 otherwise. A
/// regime other than 0 reads the lag, which does not exist at `t = 0`.
fn regimes(n: usize) -> Vec<usize> {
    (0..n)
        .map(|t| match t {
            t if t % 50 == 0 => 0,
            t if t % 2 == 1 => 1,
            _ => 2,
        })
        .collect()
}

model! {
    /// The AR(1) mean after `prev`, through a statement (so the body is placed before the
    /// statement that calls it).
    fn pull(prev: f64, mu: f64, phi: f64) -> f64 {
        let dev = prev - mu;
        mu + phi * dev
    }

    /// How far `x` is above `c`, through a statement.
    fn excess(x: f64, c: f64) -> f64 {
        let d = x - c;
        d
    }

    /// The mean of each step chosen by `match` on a data regime code, on a latent's path: a
    /// literal arm, an arm that calls a function, a bound code with a guard that calls a
    /// function (the code is the lag), and a catch-all.
    fn ar_regimes(y: &[f64], regime: &[usize], c: f64) {
        let mu ~ Normal(100.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let psi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for t in 0..y.len() {
            let m = match regime[t] {
                0 => mu,
                1 => pull(y[t - 1], mu, phi),
                k if excess(y[t - 1], c) > 0.0 => pull(y[t - k], mu, psi),
                _ => mu + 0.5 * psi * (y[t - 1] - mu),
            };
            y[t] ~ Normal(m, sigma);
        }
    }
}

fn ar_regimes_reference(y: &[f64], regime: &[usize], c: f64, th: &[f64], jac: bool) -> f64 {
    let mut r = Reader::new(th);
    let mu = r.real();
    let phi = r.interval(-1.0, 1.0);
    let psi = r.interval(-1.0, 1.0);
    let sigma = r.positive();
    r.done();
    let mut lp = normal(mu, 100.0, 10.0)
        + uniform(phi, -1.0, 1.0)
        + uniform(psi, -1.0, 1.0)
        + half_normal(sigma, 5.0);
    for t in 0..y.len() {
        let m = match regime[t] {
            0 => mu,
            1 => mu + phi * (y[t - 1] - mu),
            k if y[t - 1] - c > 0.0 => mu + psi * (y[t - k] - mu),
            _ => mu + 0.5 * psi * (y[t - 1] - mu),
        };
        lp += normal(y[t], m, sigma);
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn a_match_on_regimes_runs_only_the_arm_taken_on_a_latent_path() {
    let y = series();
    let regime = regimes(y.len());
    let c = 100.0;
    // Every arm is taken somewhere: the guard both holds and fails in regime 2.
    let guard = |want: bool| (0..y.len()).any(|t| regime[t] == 2 && (y[t - 1] > c) == want);
    assert!(guard(true) && guard(false));
    let m = ar_regimes(&y, &regime, c).expect("the arms that read the lag are not run at t = 0");
    let (mean, log_sd) = centre(&y);
    check_near(&m, &[mean, 0.5, 0.3, log_sd], 0.3, 41, |th, jac| {
        ar_regimes_reference(&y, &regime, c, th, jac)
    });
    // One observation: only the first arm, which reads no lag.
    let one = ar_regimes(&y[..1], &regime[..1], c).unwrap();
    check_near(&one, &[100.0, 0.0, 0.0, 1.0], 0.3, 42, |th, jac| {
        ar_regimes_reference(&y[..1], &regime[..1], c, th, jac)
    });
}

model! {
    /// The previous value's relative deviation from a base, through a statement.
    fn rel_dev(prev: f64, base: f64) -> f64 {
        let d = prev - base;
        d / base
    }

    /// Regression on the lagged relative deviation, a data-only value chosen by `match`.
    fn lag_regression_match(y: &[f64], regime: &[usize], base: f64) {
        let alpha ~ Normal(100.0, 10.0);
        let beta ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(5.0);
        for t in 0..y.len() {
            let x = match regime[t] {
                0 => 0.0,
                1 | 2 => rel_dev(y[t - 1], base),
                _ => 1.0,
            };
            y[t] ~ Normal(alpha + beta * x, sigma);
        }
    }
}

#[test]
fn a_data_value_chosen_by_match_calls_the_function_only_in_its_arm() {
    let y = series();
    let mut regime = regimes(y.len());
    // A code no arm names but the last.
    regime[7] = 5;
    let base = 100.0;
    let m = lag_regression_match(&y, &regime, base).unwrap();
    let (mean, log_sd) = centre(&y);
    check_near(&m, &[mean, 10.0, log_sd], 0.3, 43, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let beta = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp =
            normal(alpha, 100.0, 10.0) + normal(beta, 0.0, 100.0) + half_normal(sigma, 5.0);
        for t in 0..y.len() {
            let x = match regime[t] {
                0 => 0.0,
                1 | 2 => (y[t - 1] - base) / base,
                _ => 1.0,
            };
            lp += normal(y[t], alpha + beta * x, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    /// Which of three bands `v` is in: an integer chosen by `if`.
    fn bucket(v: f64, lo: f64, hi: f64) -> usize {
        if v < lo {
            0
        } else if v < hi {
            1
        } else {
            2
        }
    }

    /// The lag to read: one step above `c`, two below, as an `i64`.
    fn lag_of(v: f64, c: f64) -> i64 {
        if v > c {
            1
        } else {
            2
        }
    }

    /// A level per band of the previous value (indexed by an integer-valued function inside
    /// an `if`), plus an AR term whose lag an `i64`-valued function chooses inside a
    /// `match`.
    fn banded(y: &[f64], regime: &[usize], lo: f64, hi: f64) {
        let level ~ Normal(100.0, 10.0).iid(3);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for t in 0..y.len() {
            let b = if t > 0 { bucket(y[t - 1], lo, hi) } else { 1 };
            let k = match regime[t] {
                0 => 0,
                _ => lag_of(y[t - 1], lo),
            };
            let back = if (t as i64) >= k { y[(t as i64 - k) as usize] } else { y[t] };
            y[t] ~ Normal(level[b] + phi * (back - 100.0), sigma);
        }
    }
}

#[test]
fn integer_valued_functions_give_an_index_and_a_lag_inside_if_and_match() {
    let y = series();
    let regime = regimes(y.len());
    let (lo, hi) = (99.0, 101.0);
    let band = |v: f64| usize::from(v >= lo) + usize::from(v >= hi);
    // Every band and both lags occur.
    for want in 0..3 {
        assert!(y.iter().any(|&v| band(v) == want), "band {want}");
    }
    let m = banded(&y, &regime, lo, hi).unwrap();
    let (mean, log_sd) = centre(&y);
    check_near(
        &m,
        &[mean - 1.0, mean, mean + 1.0, 0.3, log_sd],
        0.3,
        44,
        |th, jac| {
            let mut r = Reader::new(th);
            let level = r.reals(3);
            let phi = r.interval(-1.0, 1.0);
            let sigma = r.positive();
            r.done();
            let mut lp = level.iter().map(|&l| normal(l, 100.0, 10.0)).sum::<f64>()
                + uniform(phi, -1.0, 1.0)
                + half_normal(sigma, 5.0);
            for t in 0..y.len() {
                let b = if t > 0 { band(y[t - 1]) } else { 1 };
                let k = match regime[t] {
                    0 => 0,
                    _ if y[t - 1] > lo => 1,
                    _ => 2,
                };
                let back = if t >= k { y[t - k] } else { y[t] };
                lp += normal(y[t], level[b] + phi * (back - 100.0), sigma);
            }
            lp + if jac { r.jac } else { 0.0 }
        },
    );
}

model! {
    /// The value before step `t`: `t - 1` overflows at `t = 0`, inside the function.
    fn before(y: &[f64], t: usize) -> f64 {
        let k = t - 1;
        y[k]
    }

    /// The function called at every step, the first included.
    fn lag_everywhere(y: &[f64]) {
        let mu ~ Normal(100.0, 10.0);
        for t in 0..y.len() {
            let level = mu * 1.0;
            let p = before(y, t);
            y[t] ~ Normal(level + 0.1 * (p - 100.0), 1.0);
        }
    }
}

model! {
    /// The value `w` steps ahead, read inside the function.
    fn ahead(y: &[f64], t: usize, w: usize) -> f64 {
        let v = y[t + w];
        v
    }

    /// Reads past the end of the series at the last steps.
    fn lead(y: &[f64], w: usize) {
        let mu ~ Normal(100.0, 10.0);
        for t in 0..y.len() {
            let next = ahead(y, t, w);
            y[t] ~ Normal(mu + 0.1 * (next - 100.0), 1.0);
        }
    }
}

model! {
    /// A data `let` of the model itself that overflows at `t = 0`.
    fn own_lag(y: &[f64]) {
        let mu ~ Normal(100.0, 10.0);
        for t in 0..y.len() {
            let m = mu * 1.0;
            let j = t - 1;
            y[t] ~ Normal(m + 0.0 * y[j], 1.0);
        }
    }
}

#[test]
fn a_panic_inside_an_inlined_body_names_the_calling_statement_and_the_function() {
    let y = series();
    let e = lag_everywhere(&y).err().expect("t - 1 overflows at t = 0");
    assert_eq!(
        e.to_string(),
        "in `let p = before(y, t) (inside before: let k = t - 1)`: attempt to subtract with \
         overflow"
    );
    let e = lead(&y, 1)
        .err()
        .expect("y[t + 1] is past the end at the last step");
    assert_eq!(
        e.to_string(),
        "in `let next = ahead(y, t, w) (inside ahead: let v = y[t + w])`: index out of bounds: \
         the len is 1000 but the index is 1000"
    );
    // With no lead the model builds, and its density is the formula.
    let m = lead(&y, 0).unwrap();
    let th = [100.5];
    let want = normal(100.5, 100.0, 10.0)
        + y.iter()
            .map(|&v| normal(v, 100.5 + 0.1 * (v - 100.0), 1.0))
            .sum::<f64>();
    assert!(close(m.log_density(&th), want, 1e-10));
    // A data `let` of the model names its own statement, not the one before it.
    let e = own_lag(&y).err().expect("t - 1 overflows at t = 0");
    assert_eq!(
        e.to_string(),
        "in `let j = t - 1`: attempt to subtract with overflow"
    );
}
