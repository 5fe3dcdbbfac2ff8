//! Loop invariants moved out of their loops (the macro's `hoist` pass): a model where they
//! sit in a loop that carries state (replayed in the sweep), in nested loops, next to an
//! `if` (which keeps its own), in observations and in `target +=`. Checked by `check_model`:
//! log density against a hand-written formula (1e-10), gradient against central finite
//! differences (1e-6), at seeded points.

use vi::prelude::*;

use crate::helpers::*;

model! {
    fn hoist_mix(x: &DMatrix<f64>, y: &DMatrix<f64>, on: &[bool]) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 1.0);
        let s ~ HalfNormal(1.0);
        let r ~ Normal(0.0, 0.5);
        for i in 0..x.nrows() {
            let mut acc = b * 2.0;
            for j in 0..x.ncols() {
                acc = acc * r.tanh() + x[(i, j)] * w[j];
            }
            for k in 0..y.ncols() {
                let scale = s * s + 0.1;
                if on[k] {
                    y[(i, k)] ~ Normal(acc + exp(r) * 0.5, scale);
                } else {
                    target += -(b * b) * 0.01;
                }
            }
        }
    }
}

#[test]
fn invariants_in_replayed_nested_and_branching_loops() {
    let x = DMatrix::from_fn(4, 3, |i, j| ((i * 5 + j * 3) % 7) as f64 / 3.0 - 1.0);
    let y = DMatrix::from_fn(4, 3, |i, k| ((i * 2 + k * 5) % 9) as f64 / 4.0 - 1.0);
    let on = [true, false, true];
    let m = hoist_mix(&x, &y, &on).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let w = rd.reals(3);
        let b = rd.real();
        let s = rd.positive();
        let r = rd.real();
        rd.done();
        let mut lp = w.iter().map(|&v| normal(v, 0.0, 1.0)).sum::<f64>()
            + normal(b, 0.0, 1.0)
            + half_normal(s, 1.0)
            + normal(r, 0.0, 0.5);
        for i in 0..4 {
            let mut acc = 2.0 * b;
            for j in 0..3 {
                acc = acc * r.tanh() + x[(i, j)] * w[j];
            }
            for (k, &o) in on.iter().enumerate() {
                if o {
                    lp += normal(y[(i, k)], acc + 0.5 * r.exp(), s * s + 0.1);
                } else {
                    lp -= 0.01 * b * b;
                }
            }
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 21, reference);
}

model! {
    fn hoist_two_parts(y: &[f64], on: &[bool]) {
        let s ~ HalfNormal(1.0);
        let r ~ Normal(0.0, 1.0);
        for i in 0..y.len() {
            if on[i] {
                target += -0.5 * r * r;
            }
            // Two invariant parts of one statement, each with its own literal: each moved
            // `let` keeps its own operands (they once shared one name, and the sweep of
            // `r * 2.0` read the 3.0 of `s * 3.0`).
            y[i] ~ Normal(r * 2.0, s * 3.0);
        }
    }
}

#[test]
fn two_parts_moved_out_of_one_statement_keep_their_own_operands() {
    let y = [0.4, -1.2, 0.9];
    let on = [true, false, true];
    let m = hoist_two_parts(&y, &on).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let s = rd.positive();
        let r = rd.real();
        rd.done();
        let mut lp = half_normal(s, 1.0) + normal(r, 0.0, 1.0);
        for i in 0..3 {
            if on[i] {
                lp -= 0.5 * r * r;
            }
            lp += normal(y[i], 2.0 * r, 3.0 * s);
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 22, reference);
}
