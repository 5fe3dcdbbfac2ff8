//! Gathers whose codes are checked once per model (issue 13, item 6, speed): a gather
//! `a[county[i] - off]` in a vectorised loop whose codes, offset and lanes are built from
//! the model's arguments keeps the check its constructor's run made, and later evaluations
//! skip the pass over the codes (`__private::gather_index_kept`). What must not change: the
//! constructor still names a code out of range with the statement, the vector, its length,
//! the index and the loops' values, and the density and gradient are the loop's. Checked
//! against formulas written here (1e-10) and central finite differences (`check_model`),
//! and against the same model kept per iteration.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;

use crate::helpers::*;

model! {
    /// Two intercepts per county read through codes with an offset given as an argument
    /// (`county[i] - off`), and the same gather again in every round of a loop over seasons
    /// (the inner loop's lanes and codes are the same in every round).
    fn seasons(county: &[usize], x: &[f64], y: &[f64], j: usize, off: usize, k: usize) {
        let a ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 1.0).iid(j);
        let s ~ Normal(0.0, 1.0).iid(k);
        let sigma ~ HalfNormal(1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i] - off] + b[county[i] - off] * x[i], sigma);
        }
        for t in 0..k {
            for i in 0..y.len() {
                y[i] ~ Normal(a[county[i] - off] + s[t], 2.0);
            }
        }
    }
}

model! {
    /// The same, kept per iteration by a data statement in the loops' bodies.
    fn seasons_loop(county: &[usize], x: &[f64], y: &[f64], j: usize, off: usize, k: usize) {
        let a ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 1.0).iid(j);
        let s ~ Normal(0.0, 1.0).iid(k);
        let sigma ~ HalfNormal(1.0);
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(a[county[i] - off] + b[county[i] - off] * x[i], sigma);
        }
        for t in 0..k {
            for i in 0..y.len() {
                let _iteration = i;
                y[i] ~ Normal(a[county[i] - off] + s[t], 2.0);
            }
        }
    }
}

/// 1-based codes of 12 groups of unequal sizes (every group present), a predictor near 100
/// (unstandardised) and outcomes near 100.
fn data(n: usize, seed: u64) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let j = 12;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut county: Vec<usize> = (1..=j).collect();
    while county.len() < n {
        let u: f64 = rng.random();
        county.push(1 + (u * u * j as f64) as usize);
    }
    let x: Vec<f64> = (0..n).map(|_| 95.0 + 10.0 * rng.random::<f64>()).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| 100.0 + 0.1 * county[i] as f64 + 0.5 * rng.random::<f64>())
        .collect();
    (county, x, y)
}

#[test]
fn a_gather_checked_once_gives_the_loops_density_and_gradient() {
    let (county, x, y) = data(300, 7);
    let (j, k) = (12, 3);
    let m = seasons(&county, &x, &y, j, 1, k).unwrap();
    // Several evaluations: the first ones after the constructor's run read the kept check.
    check_model(&m, 0.05, 71, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.reals(j);
        let b = r.reals(j);
        let s = r.reals(k);
        let sigma = r.positive();
        r.done();
        let mut lp = a
            .iter()
            .chain(&b)
            .chain(&s)
            .map(|&v| normal(v, 0.0, 1.0))
            .sum::<f64>();
        lp += half_normal(sigma, 1.0);
        for i in 0..y.len() {
            let c = county[i] - 1;
            lp += normal(y[i], a[c] + b[c] * x[i], sigma);
        }
        for st in &s {
            for i in 0..y.len() {
                lp += normal(y[i], a[county[i] - 1] + st, 2.0);
            }
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    let l = seasons_loop(&county, &x, &y, j, 1, k).unwrap();
    let mut rng = StdRng::seed_from_u64(72);
    for _ in 0..3 {
        let th: Vec<f64> = (0..m.dim())
            .map(|_| rng.random_range(-0.05..0.05))
            .collect();
        let (mut gm, mut gl) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let (lm, ll) = (
            m.log_density_grad(&th, &mut gm),
            l.log_density_grad(&th, &mut gl),
        );
        assert!(close(lm, ll, 1e-12), "{lm} vs {ll}");
        for (p, q) in gm.iter().zip(&gl) {
            assert!((p - q).abs() <= 1e-10 * (1.0 + p.abs()), "{p} vs {q}");
        }
    }
}

#[test]
fn a_code_out_of_range_is_still_named_by_the_constructor() {
    let (county, x, y) = data(300, 8);
    // Codes are 1-based: with `off = 1` a 0 is index -1, a 13 is index 12 of 12.
    for (at, code, index) in [(40, 0usize, -1i64), (299, 13, 12)] {
        let mut bad = county.clone();
        bad[at] = code;
        let e = seasons(&bad, &x, &y, 12, 1, 3)
            .err()
            .expect("an index error");
        assert_eq!(
            e.to_string(),
            format!(
                "in `y[i] ~ Normal(a[county[i] - off] + b[county[i] - off] * x[i], sigma)`: \
                 index {index} is out of range for `a` of length 12 at i = {at}"
            )
        );
        if code > 0 {
            // The loop's own message names the same index and lane (it reads `b`'s element
            // first; a code 0 would underflow its `usize` subtraction).
            let l = seasons_loop(&bad, &x, &y, 12, 1, 3)
                .err()
                .expect("an index error");
            assert!(
                l.to_string().ends_with(&format!(
                    "index {index} is out of range for `b` of length 12 at i = {at}"
                )),
                "{l}"
            );
        }
    }
    // The same codes with `off = 0` and one group fewer: the check runs with the other
    // offset and length, and names the second loop's gather inside the loop over seasons.
    let zero: Vec<usize> = county.iter().map(|c| c - 1).collect();
    assert!(seasons(&zero, &x, &y, 12, 0, 3).is_ok());
    let e = seasons(&zero, &x, &y, 11, 0, 3)
        .err()
        .expect("an index error");
    let first = zero.iter().position(|&c| c == 11).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "in `y[i] ~ Normal(a[county[i] - off] + b[county[i] - off] * x[i], sigma)`: index \
             11 is out of range for `a` of length 11 at i = {first}"
        )
    );
}
