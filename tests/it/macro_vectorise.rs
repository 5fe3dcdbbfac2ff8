//! Loops over observations run as whole-vector statements (the macro's `vectorise` stage):
//! rows of the lanes against row vectors and matrices, numbers per lane from integer and
//! boolean data, `target +=` per lane, state that goes from a scalar to a number per lane,
//! loops over observations inside a loop over groups (lanes that change between groups).
//! Checked by `check_model`: log density against a hand-written formula (1e-10), gradient
//! against central finite differences (1e-6), at seeded points. Then what the vectorised
//! loop must keep of the loop: errors about observed data name the element the loop would
//! have read, and `simulate` draws one value per iteration.

use rand::rngs::StdRng;
use rand::SeedableRng;
use vi::prelude::*;
use vi::ModelError;

use crate::helpers::*;

model! {
    fn vec_rows(x: &DMatrix<f64>, y: &[f64]) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), 3));
        let b1 ~ Normal(0.0, 1.0).iid(3);
        let v ~ Normal(0.0, 1.0).iid(x.ncols());
        let w2 ~ Normal(0.0, 1.0).iid(3);
        let s ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let xi = x.row(i).clone_owned();
            // A row per lane against a row vector: `-`, `/`, `*` on either side.
            let a = (xi - v.transpose()) / (v.transpose() * v.transpose() + 1.0);
            let h = sigmoid(a * w1 + b1.transpose()) * 2.0 - 1.0;
            let q = v.transpose() * xi;
            let mu = dot(h, w2) + dot(b1.transpose(), h) * 0.5 + dot(q, v);
            y[i] ~ Normal(mu, s + 0.1);
            target += -0.05 * mu.powi(2);
        }
    }
}

#[test]
fn rows_per_lane_with_row_vectors_and_matrices() {
    let x = DMatrix::from_fn(5, 2, |i, j| ((i * 3 + j * 5) % 7) as f64 / 3.0 - 1.0);
    let y = [0.3, -0.2, 1.1, 0.0, -0.7];
    let m = vec_rows(&x, &y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let w1 = rd.reals(6); // row-major 2 x 3 (the layout of matrix latents)
        let b1 = rd.reals(3);
        let v = rd.reals(2);
        let w2 = rd.reals(3);
        let s = rd.positive();
        rd.done();
        let mut lp = w1
            .iter()
            .chain(&b1)
            .chain(&v)
            .chain(&w2)
            .map(|&t| normal(t, 0.0, 1.0))
            .sum::<f64>()
            + half_normal(s, 1.0);
        for i in 0..5 {
            let a: Vec<f64> = (0..2)
                .map(|j| (x[(i, j)] - v[j]) / (v[j] * v[j] + 1.0))
                .collect();
            let h: Vec<f64> = (0..3)
                .map(|k| {
                    let z = a[0] * w1[k] + a[1] * w1[3 + k] + b1[k];
                    2.0 * sigmoid(z) - 1.0
                })
                .collect();
            let mu = (0..3)
                .map(|k| h[k] * w2[k] + 0.5 * b1[k] * h[k])
                .sum::<f64>()
                + (0..2).map(|j| v[j] * x[(i, j)] * v[j]).sum::<f64>();
            lp += normal(y[i], mu, s + 0.1) - 0.05 * mu * mu;
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 31, reference);
}

model! {
    fn vec_counts(x: &DMatrix<i64>, k: &[i64], z: &Vec<bool>, t: &DVector<f64>) {
        let a ~ Normal(0.0, 1.0);
        let w ~ Normal(0.0, 1.0).iid(2);
        let s ~ HalfNormal(1.0);
        for i in 0..k.len() {
            let eta = a + x[(i, 0)] * w[0] + (x[(i, 1)] * w[1]).tanh();
            k[i] ~ PoissonLog(eta);
            z[i] ~ BernoulliLogit(eta / (s + 1.0));
            t[i] ~ Normal(eta.exp().ln() * 0.5, s.powf(0.5));
            target += -(eta - t[i]).powi(2) * 0.01;
        }
    }
}

fn counts_data() -> (DMatrix<i64>, Vec<i64>, Vec<bool>, DVector<f64>) {
    let x = DMatrix::from_fn(6, 2, |i, j| ((i * 2 + j * 3) % 5) as i64 - 2);
    let k = vec![0, 3, 1, 0, 2, 5];
    let z = vec![true, false, false, true, true, false];
    let t = DVector::from_fn(6, |i, _| (i as f64 * 0.7).sin());
    (x, k, z, t)
}

/// `vec_counts`'s latents read from `th`, and their prior's log density.
fn counts_prior(th: &[f64]) -> (f64, Vec<f64>, f64, f64, Reader<'_>) {
    let mut rd = Reader::new(th);
    let a = rd.real();
    let w = rd.reals(2);
    let s = rd.positive();
    rd.done();
    let lp =
        normal(a, 0.0, 1.0) + normal(w[0], 0.0, 1.0) + normal(w[1], 0.0, 1.0) + half_normal(s, 1.0);
    (a, w, s, lp, rd)
}

#[test]
fn numbers_per_lane_from_integer_and_boolean_data() {
    let (x, k, z, t) = counts_data();
    let m = vec_counts(&x, &k, &z, &t).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let (a, w, s, mut lp, rd) = counts_prior(th);
        for i in 0..6 {
            let eta = a + x[(i, 0)] as f64 * w[0] + (x[(i, 1)] as f64 * w[1]).tanh();
            lp += poisson_log(k[i] as f64, eta)
                + bernoulli_logit(f64::from(u8::from(z[i])), eta / (s + 1.0))
                + normal(t[i], 0.5 * eta, s.sqrt())
                - 0.01 * (eta - t[i]).powi(2);
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 32, reference);
}

model! {
    fn vec_state(x: &DMatrix<f64>, y: &DVector<f64>, d: usize) {
        let w ~ Normal(0.0, 1.0).iid(d);
        let b ~ Normal(0.0, 1.0);
        let s ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            // Starts as a scalar and becomes a number per lane in the loop over `j`, whose
            // range is not written as `w`'s length: a pass per column of the lanes.
            let mut mu = b * 2.0;
            for j in 0..x.ncols() {
                mu = mu * 0.5 + x[(i, j)] * w[j];
            }
            let mut acc = b;
            for j in 0..x.ncols() {
                acc += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu + acc, s);
        }
    }
}

#[test]
fn state_that_becomes_a_number_per_lane() {
    let x = DMatrix::from_fn(7, 3, |i, j| ((i * 5 + j * 2) % 9) as f64 / 4.0 - 1.0);
    let y = DVector::from_fn(7, |i, _| (i as f64 * 0.4).cos());
    let m = vec_state(&x, &y, 3).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let w = rd.reals(3);
        let b = rd.real();
        let s = rd.positive();
        rd.done();
        let mut lp = w.iter().map(|&t| normal(t, 0.0, 1.0)).sum::<f64>()
            + normal(b, 0.0, 1.0)
            + half_normal(s, 1.0);
        for i in 0..7 {
            let mut mu = 2.0 * b;
            let mut acc = b;
            for j in 0..3 {
                mu = 0.5 * mu + x[(i, j)] * w[j];
                acc += x[(i, j)] * w[j];
            }
            lp += normal(y[i], mu + acc, s);
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 33, reference);
}

model! {
    fn vec_groups(x: &DMatrix<f64>, c: &[i64], n: &[usize]) {
        let mu ~ Normal(0.0, 1.0).iid(n.len());
        let s ~ HalfNormal(1.0);
        for g in 0..n.len() {
            // Lanes that change from one group to the next (their data is not kept).
            for i in 0..n[g] {
                x[(i, g)] ~ Normal(mu[g] * 2.0, s);
                c[i] ~ Poisson(exp(mu[g]));
            }
        }
    }
}

#[test]
fn lanes_that_change_between_groups() {
    let x = DMatrix::from_fn(4, 3, |i, g| ((i * 3 + g * 7) % 5) as f64 / 2.0 - 1.0);
    let c = [2, 0, 1, 4];
    let n = [4, 1, 3];
    let m = vec_groups(&x, &c, &n).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let mu = rd.reals(3);
        let s = rd.positive();
        rd.done();
        let mut lp = mu.iter().map(|&t| normal(t, 0.0, 1.0)).sum::<f64>() + half_normal(s, 1.0);
        for g in 0..3 {
            for i in 0..n[g] {
                lp += normal(x[(i, g)], 2.0 * mu[g], s) + poisson(c[i] as f64, mu[g].exp());
            }
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 34, reference);
}

model! {
    fn vec_group_counts(c: &[i64], n: &[usize]) {
        let mu ~ Normal(0.0, 1.0).iid(n.len());
        for g in 0..n.len() {
            // Lanes up to a binding made in the loop over groups: different in every group.
            let m = n[g];
            for i in 0..m {
                c[i] ~ Poisson(exp(mu[g]));
            }
        }
    }
}

#[test]
fn lanes_up_to_a_binding_of_an_outer_loop() {
    let c = [2, 0, 1, 4];
    let n = [1, 4, 3];
    let m = vec_group_counts(&c, &n).unwrap();
    let reference = |th: &[f64], _: bool| {
        let mut rd = Reader::new(th);
        let mu = rd.reals(3);
        rd.done();
        let mut lp = mu.iter().map(|&t| normal(t, 0.0, 1.0)).sum::<f64>();
        for g in 0..3 {
            for &k in &c[..n[g]] {
                lp += poisson(k as f64, mu[g].exp());
            }
        }
        lp
    };
    check_model(&m, 1.0, 36, reference);
}

#[test]
fn an_observed_value_outside_its_support_is_named_by_its_index_in_the_loop() {
    let (x, mut k, z, t) = counts_data();
    k[3] = -1;
    match vec_counts(&x, &k, &z, &t) {
        Err(ModelError::Statement {
            statement,
            argument,
            index,
            ..
        }) => {
            assert_eq!(statement, "k[i] ~ PoissonLog(eta)");
            assert_eq!(argument.as_deref(), Some("k[i]"));
            assert_eq!(index, Some(3));
        }
        Err(other) => panic!("expected the statement's error, got {other}"),
        Ok(_) => panic!("a count of -1 was accepted"),
    }
}

#[test]
fn a_loop_longer_than_its_data_is_an_error_not_a_panic() {
    let (x, k, z, _) = counts_data();
    // `t` has 5 elements, the loop runs over the 6 of `k`.
    let t = DVector::from_fn(5, |i, _| i as f64);
    let e = vec_counts(&x, &k, &z, &t).err().expect("an error");
    let msg = e.to_string();
    assert!(
        msg.contains("a loop over 0..6 reads a vector of length 5"),
        "{msg}"
    );
}

#[test]
fn simulate_draws_one_value_per_iteration() {
    let (x, k, z, t) = counts_data();
    let m = vec_counts(&x, &k, &z, &t).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let sims = m.simulate(&[0.1, 0.2, -0.3, 0.8], &mut rng);
    let names: Vec<&str> = sims.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["k[i]", "z[i]", "t[i]"]);
    for (name, v) in &sims {
        assert_eq!(v.len(), 6, "{name}");
    }
    // Counts and booleans.
    assert!(sims[0].1.iter().all(|c| *c >= 0.0 && c.fract() == 0.0));
    assert!(sims[1].1.iter().all(|b| *b == 0.0 || *b == 1.0));
}

#[test]
fn a_loop_over_no_observations_adds_nothing() {
    let x = DMatrix::<i64>::zeros(0, 2);
    let m = vec_counts(&x, &[], &Vec::new(), &DVector::zeros(0)).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let (_, _, _, lp, rd) = counts_prior(th);
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 35, reference);
}
