//! Vectors and matrices written element by element (`v[i] = e`, `m[(i, j)] += e`) are
//! written in place, with an undo log for the reverse sweep. Each model here stresses one way
//! the log can go wrong; each is checked by `check_model`: log density against a hand-written
//! formula (1e-10), gradient against central finite differences (1e-6), at seeded points.

// The references index like the models they restate.
#![allow(clippy::needless_range_loop)]

use vi::prelude::*;

use crate::helpers::*;

// --- A non-centred random walk: a vector filled from latents in a loop, then observed ------

model! {
    fn ip_random_walk(y: &[f64]) {
        let sigma ~ HalfNormal(1.0);
        let s ~ HalfNormal(1.0);
        let eps ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        z[0] = sigma * eps[0];
        for t in 1..y.len() {
            z[t] = z[t - 1] + sigma * eps[t];
        }
        y ~ Normal(z, s);
    }
}

#[test]
fn random_walk_filled_in_a_loop() {
    let y = [0.3, -0.2, 0.8, 1.1, 0.4, -0.5, 0.0];
    let m = ip_random_walk(&y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let sigma = r.positive();
        let s = r.positive();
        let eps = r.reals(y.len());
        r.done();
        let mut lp = half_normal(sigma, 1.0) + half_normal(s, 1.0);
        lp += eps.iter().map(|&e| normal(e, 0.0, 1.0)).sum::<f64>();
        let mut z = 0.0;
        for t in 0..y.len() {
            z += sigma * eps[t];
            lp += normal(y[t], z, s);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 301, reference);
    check_model(&m, 0.3, 302, reference);
}

// --- The element written read by its own rhs; one element overwritten again and again; the
// --- vector read (by a kernel at once, and by a deferred `let`) before it is overwritten ---

model! {
    fn ip_self_reads(x: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0).iid(x.len());
        let s ~ HalfNormal(1.0);
        let mut v = b.clone();
        x ~ Normal(v, s);
        let snap = v * 2.0;
        for i in 0..x.len() {
            v[i] = v[i] * a + 1.0;
        }
        for i in 0..x.len() {
            v[0] = v[0] * 0.5 + v[i] * s;
        }
        target += sum(snap) * 0.1 - 0.5 * dot(v, v);
        x ~ Normal(v, s + 1.0);
    }
}

#[test]
fn element_read_by_its_own_rhs_and_overwritten_repeatedly() {
    let x = [0.5, -1.0, 2.0, 0.1];
    let m = ip_self_reads(&x).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let b = r.reals(4);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + b.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += half_normal(s, 1.0);
        lp += (0..4).map(|i| normal(x[i], b[i], s)).sum::<f64>();
        let snap: f64 = b.iter().map(|z| 2.0 * z).sum();
        let mut v: Vec<f64> = b.iter().map(|z| z * a + 1.0).collect();
        for i in 0..4 {
            v[0] = v[0] * 0.5 + v[i] * s;
        }
        lp += snap * 0.1 - 0.5 * v.iter().map(|z| z * z).sum::<f64>();
        lp += (0..4).map(|i| normal(x[i], v[i], s + 1.0)).sum::<f64>();
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 303, reference);
    check_model(&m, 0.4, 304, reference);
}

// --- Writes inside `if`s on data: in a loop (with other state), nested, and at the top level

model! {
    fn ip_branches(y: &[f64], flag: &[bool]) {
        let a ~ Normal(0.0, 1.0);
        let s ~ HalfNormal(1.0);
        let e ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        let mut level = a;
        for t in 0..y.len() {
            if flag[t] {
                z[t] = level + e[t] * s;
                level = level * 0.9;
            } else {
                z[t] = e[t];
                if t > 0 {
                    z[t - 1] += a * 0.1;
                }
            }
            y[t] ~ Normal(z[t], 1.0);
        }
        if flag[0] {
            z[0] = z[0] * a;
        }
        target += -0.5 * sum(z.powi(2)) + level;
    }
}

#[test]
fn writes_inside_branches_on_data() {
    let y = [0.4, -0.3, 1.2, 0.7, -0.9, 0.2];
    let reference = |flag: [bool; 6]| {
        move |th: &[f64], jac: bool| {
            let mut r = Reader::new(th);
            let a = r.real();
            let s = r.positive();
            let e = r.reals(6);
            r.done();
            let mut lp = normal(a, 0.0, 1.0) + half_normal(s, 1.0);
            lp += e.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
            let mut z = [0.0; 6];
            let mut level = a;
            for t in 0..6 {
                if flag[t] {
                    z[t] = level + e[t] * s;
                    level *= 0.9;
                } else {
                    z[t] = e[t];
                    if t > 0 {
                        z[t - 1] += a * 0.1;
                    }
                }
                lp += normal(y[t], z[t], 1.0);
            }
            if flag[0] {
                z[0] *= a;
            }
            lp += -0.5 * z.iter().map(|v| v * v).sum::<f64>() + level;
            lp + if jac { r.jac } else { 0.0 }
        }
    };
    for (k, flag) in [
        [true, false, false, true, false, true],
        [false, true, true, false, false, false],
    ]
    .into_iter()
    .enumerate()
    {
        let m = ip_branches(&y, &flag).unwrap();
        check_model(&m, 1.0, 305 + k as u64, reference(flag));
    }
}

// --- Nested loops writing a matrix element, reading the row before and the column before ---

model! {
    fn ip_matrix(y: &DMatrix<f64>) {
        let w ~ Normal(0.0, 1.0).iid(y.ncols());
        let c ~ Normal(0.0, 1.0).iid(y.nrows());
        let s ~ HalfNormal(1.0);
        let mut m = DMatrix::zeros(y.nrows(), y.ncols());
        for i in 0..y.nrows() {
            for j in 0..y.ncols() {
                m[(i, j)] = c[i] + w[j];
                if j > 0 {
                    m[(i, j)] += m[(i, j - 1)] * 0.5;
                }
            }
        }
        for i in 1..y.nrows() {
            for j in 0..y.ncols() {
                m[(i, j)] = m[(i, j)] * s + m[(i - 1, j)];
            }
        }
        y ~ Normal(m, s);
    }
}

#[test]
fn nested_loops_writing_matrix_elements() {
    let y = DMatrix::from_row_slice(3, 2, &[0.5, -0.2, 1.3, 0.7, 0.1, -0.9]);
    let m = ip_matrix(&y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.reals(2);
        let c = r.reals(3);
        let s = r.positive();
        r.done();
        let mut lp = w
            .iter()
            .chain(&c)
            .map(|&z| normal(z, 0.0, 1.0))
            .sum::<f64>();
        lp += half_normal(s, 1.0);
        let mut m = [[0.0; 2]; 3];
        for i in 0..3 {
            for j in 0..2 {
                m[i][j] = c[i] + w[j];
                if j > 0 {
                    m[i][j] += m[i][j - 1] * 0.5;
                }
            }
        }
        for i in 1..3 {
            for j in 0..2 {
                m[i][j] = m[i][j] * s + m[i - 1][j];
            }
        }
        for i in 0..3 {
            for j in 0..2 {
                lp += normal(y[(i, j)], m[i][j], s);
            }
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 307, reference);
    check_model(&m, 0.3, 308, reference);
}

// --- A vector declared inside a loop that carries it nowhere, written in an inner loop that
// --- also carries a scalar; another vector written once per outer iteration ---------------

model! {
    fn ip_nested_state(x: &[f64], k: usize) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0).iid(k);
        let s ~ HalfNormal(1.0);
        let mut acc = 0.0;
        let mut out = DVector::zeros(x.len());
        for i in 0..x.len() {
            let mut h = b.clone();
            for j in 0..k {
                h[j] = h[j] * x[i] + acc * a;
                acc = acc * 0.5 + h[j] * 0.1;
            }
            out[i] = sum(h) + acc;
            x[i] ~ Normal(out[i], s);
        }
        target += -0.05 * dot(out, out);
    }
}

#[test]
fn vectors_written_in_nested_loops_with_other_state() {
    let x = [0.5, -1.0, 2.0, 0.1, -0.4];
    let m = ip_nested_state(&x, 3).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let b = r.reals(3);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + b.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += half_normal(s, 1.0);
        let mut acc = 0.0;
        let mut out = [0.0; 5];
        for i in 0..5 {
            let mut h = b.clone();
            for j in 0..3 {
                h[j] = h[j] * x[i] + acc * a;
                acc = acc * 0.5 + h[j] * 0.1;
            }
            out[i] = h.iter().sum::<f64>() + acc;
            lp += normal(x[i], out[i], s);
        }
        lp -= 0.05 * out.iter().map(|z| z * z).sum::<f64>();
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 309, reference);
    check_model(&m, 0.4, 310, reference);
}

// --- Straight-line writes between reads, a copy taken in between, `Vec<f64>` and row state -

model! {
    fn ip_straight(y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0).iid(3);
        let mut v = DVector::zeros(3);
        v[0] = a;
        y ~ Normal(v, 1.0);
        v[0] = v[0] * b[0];
        v[1] = b[1];
        y ~ Normal(v, 2.0);
        let u = v.clone();
        v[1] += a;
        target += dot(u, v);
        let mut q = vec![0.0; 3];
        for i in 0..3 {
            q[i] = v[i] * b[2];
            q[2 - i] -= a;
        }
        y ~ Normal(q, 1.5);
        let mut row = RowDVector::zeros(2);
        row[0] = a;
        row[1] = row[0] * b[0] + q[1];
        target += sum(row.powi(2)) * -0.5;
    }
}

#[test]
fn straight_line_writes_between_reads() {
    let y = [0.3, -0.6, 1.1];
    let m = ip_straight(&y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let b = r.reals(3);
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + b.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        let mut v = [a, 0.0, 0.0];
        lp += (0..3).map(|i| normal(y[i], v[i], 1.0)).sum::<f64>();
        v[0] *= b[0];
        v[1] = b[1];
        lp += (0..3).map(|i| normal(y[i], v[i], 2.0)).sum::<f64>();
        let u = v;
        v[1] += a;
        lp += (0..3).map(|i| u[i] * v[i]).sum::<f64>();
        let mut q = [0.0; 3];
        for i in 0..3 {
            q[i] = v[i] * b[2];
            q[2 - i] -= a;
        }
        lp += (0..3).map(|i| normal(y[i], q[i], 1.5)).sum::<f64>();
        let row = [a, a * b[0] + q[1]];
        lp -= 0.5 * (row[0] * row[0] + row[1] * row[1]);
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 311, reference);
    check_model(&m, 0.3, 312, reference);
}

// --- Reads in an inner loop that writes nothing; a vector local to a loop that carries
// --- nothing, written in an `if` there

model! {
    fn ip_inner_reads(y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        for t in 0..y.len() {
            z[t] = b[t] + a;
            for j in 0..t {
                target += -0.05 * z[j] * z[t];
            }
            if t > 1 {
                z[t - 2] = z[t - 2] * 0.5;
            }
        }
        for i in 0..y.len() {
            let mut h = DVector::zeros(2);
            h[0] = z[i];
            h[1] = h[0] * a;
            if i % 2 == 0 {
                h[1] = h[1] * h[0];
            }
            h[0] += h[1];
            y[i] ~ Normal(h[0], 1.0);
        }
    }
}

#[test]
fn reads_in_inner_loops_and_vectors_local_to_an_iteration() {
    let y = [0.3, -0.6, 1.1, 0.2, 0.9];
    let m = ip_inner_reads(&y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let b = r.reals(5);
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + b.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        let mut z = [0.0; 5];
        for t in 0..5 {
            z[t] = b[t] + a;
            for j in 0..t {
                lp += -0.05 * z[j] * z[t];
            }
            if t > 1 {
                z[t - 2] *= 0.5;
            }
        }
        for i in 0..5 {
            let mut h1 = z[i] * a;
            if i % 2 == 0 {
                h1 *= z[i];
            }
            lp += normal(y[i], z[i] + h1, 1.0);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 314, reference);
    check_model(&m, 0.3, 315, reference);
}

// --- A vector filled in place, assigned as a whole, then written in place again -----------

model! {
    fn ip_segments(y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let s ~ HalfNormal(1.0);
        let e ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        for t in 0..y.len() {
            z[t] = a + e[t] * s;
        }
        z = z - mean(z);
        for t in 1..y.len() {
            z[t] += z[t - 1] * 0.5;
        }
        y ~ Normal(z, s);
    }
}

#[test]
fn a_whole_assignment_between_element_writes() {
    let y = [0.3, -0.6, 1.1, 0.2];
    let m = ip_segments(&y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let s = r.positive();
        let e = r.reals(4);
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + half_normal(s, 1.0);
        lp += e.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        let mut z: Vec<f64> = e.iter().map(|v| a + v * s).collect();
        let mean = z.iter().sum::<f64>() / 4.0;
        z.iter_mut().for_each(|v| *v -= mean);
        for t in 1..4 {
            z[t] += z[t - 1] * 0.5;
        }
        lp += (0..4).map(|t| normal(y[t], z[t], s)).sum::<f64>();
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 316, reference);
    check_model(&m, 0.3, 317, reference);
}

// --- A write out of bounds is a shape error naming its statement, not a panic -------------

model! {
    fn ip_out_of_bounds(y: &[f64], n: usize) {
        let a ~ Normal(0.0, 1.0);
        let mut z = DVector::zeros(y.len());
        for t in 0..n {
            z[t] = a * (t as f64);
        }
        y ~ Normal(z, 1.0);
    }
}

#[test]
fn a_write_out_of_bounds_names_its_statement() {
    let y = [0.1, 0.2, 0.3];
    match ip_out_of_bounds(&y, 4) {
        Err(ModelError::Shape { statement, .. }) => {
            assert_eq!(statement, "z[t] = a * (t as f64)")
        }
        Err(e) => panic!("expected a shape error, got {e}"),
        Ok(_) => panic!("a write out of bounds was accepted"),
    }
    let m = ip_out_of_bounds(&y, 3).unwrap();
    check_model(&m, 1.0, 313, |th, _| {
        let a = th[0];
        normal(a, 0.0, 1.0) + (0..3).map(|t| normal(y[t], a * t as f64, 1.0)).sum::<f64>()
    });
}
