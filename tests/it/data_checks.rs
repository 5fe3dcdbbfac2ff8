//! The constructor checks every data type `model!` accepts: NaN and infinity in nested
//! containers, arrays, nalgebra vectors and views, `f32`; integers too large for the model's
//! `f64` arithmetic. The error names the argument and the full index. Sizes must be
//! non-negative integers.

use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

model! {
    /// Covariates as rows of a `&[Vec<f64>]`.
    fn nested_rows(xs: &[Vec<f64>], y: &[f64]) {
        let w ~ Normal(0.0, 1.0).iid(2);
        for i in 0..y.len() {
            y[i] ~ Normal(xs[i][0] * w[0] + xs[i][1] * w[1], 1.0);
        }
    }
}

model! {
    /// Every other container type, each read once.
    fn containers(
        vv: &Vec<Vec<f64>>,
        vd: &Vec<DVector<f64>>,
        arr: [f64; 3],
        grid: [[f64; 2]; 3],
        small: &[f32],
        counts: &[u64],
    ) {
        let a = vv[0][0] + vd[0][0] + arr[0] + grid[0][0];
        let b = small[0] as f64 + counts[0] as f64;
        let mu ~ Normal(a + b, 1.0);
    }
}

model! {
    fn sized_by(y: &[f64], k: i64) {
        let w ~ Normal(0.0, 1.0).iid(k);
        y ~ Normal(0.0, 1.0);
    }
}

model! {
    fn literal_size(y: &[f64]) {
        let w ~ Normal(0.0, 1.0).iid(-1);
        y ~ Normal(0.0, 1.0);
    }
}

model! {
    fn real_size(y: &[f64], k: f64) {
        let w ~ Normal(0.0, 1.0).iid(k);
        y ~ Normal(0.0, 1.0);
    }
}

fn non_finite(e: &ModelError) -> (String, String, f64) {
    match e {
        ModelError::NonFiniteData { name, index, value } => (name.clone(), index.clone(), *value),
        other => panic!("expected NonFiniteData, got {other:?}"),
    }
}

#[test]
fn nan_in_a_slice_of_vectors_names_the_full_index() {
    let mut xs: Vec<Vec<f64>> = (0..5).map(|i| vec![i as f64, 100.0 + i as f64]).collect();
    xs[3][1] = f64::NAN;
    let e = nested_rows(&xs, &[1.0; 5]).err().unwrap();
    let (name, index, value) = non_finite(&e);
    assert_eq!((name.as_str(), index.as_str()), ("xs", "[3][1]"));
    assert!(value.is_nan());
    assert_eq!(e.to_string(), "data `xs[3][1]` is NaN: data must be finite");
}

struct Data {
    vv: Vec<Vec<f64>>,
    vd: Vec<DVector<f64>>,
    arr: [f64; 3],
    grid: [[f64; 2]; 3],
    small: Vec<f32>,
    counts: Vec<u64>,
}

impl Data {
    fn good() -> Data {
        Data {
            vv: vec![vec![1.0, 2.0], vec![3.0]],
            vd: vec![DVector::from_vec(vec![1.0, 2.0]); 3],
            arr: [1.0, 2.0, 3.0],
            grid: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            small: vec![0.5, 1.5],
            counts: vec![3, 4],
        }
    }
    /// The constructor's error, if any.
    fn error(&self) -> Option<ModelError> {
        containers(
            &self.vv,
            &self.vd,
            self.arr,
            self.grid,
            &self.small,
            &self.counts,
        )
        .err()
    }
}

#[test]
fn every_container_is_checked_with_its_full_index() {
    assert!(Data::good().error().is_none());
    type Spoil = fn(&mut Data);
    let cases: Vec<(Spoil, &str, &str)> = vec![
        (|d| d.vv[1][0] = f64::INFINITY, "vv", "[1][0]"),
        (|d| d.vd[2][1] = f64::NEG_INFINITY, "vd", "[2][1]"),
        (|d| d.arr[2] = f64::NAN, "arr", "[2]"),
        (|d| d.grid[2][1] = f64::NAN, "grid", "[2][1]"),
        (|d| d.small[1] = f32::NAN, "small", "[1]"),
    ];
    for (spoil, name, index) in cases {
        let mut d = Data::good();
        spoil(&mut d);
        let e = d.error().unwrap();
        let (n, i, v) = non_finite(&e);
        assert_eq!((n.as_str(), i.as_str()), (name, index), "{e}");
        assert!(!v.is_finite());
    }
}

#[test]
fn integers_too_large_for_f64_are_an_error() {
    let mut d = Data::good();
    // 2^53 + 1 is the first integer an f64 cannot represent.
    d.counts[1] = (1 << 53) + 1;
    let e = d.error().unwrap();
    assert_eq!(
        e.to_string(),
        "data `counts[1]` is 9007199254740993, too large in size for the model's arithmetic \
         in f64 (at most 2^53 = 9007199254740992)"
    );
    d.counts[1] = 1 << 53;
    assert!(d.error().is_none());
}

#[test]
fn a_negative_or_fractional_size_names_the_declaration() {
    let e = sized_by(&[0.5], -3).err().unwrap();
    assert_eq!(
        e.to_string(),
        "in `let w ~ Normal(0.0, 1.0).iid(k)`: the size -3 of `w` is negative"
    );
    let e = literal_size(&[0.5]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "in `let w ~ Normal(0.0, 1.0).iid(-1)`: the size -1 of `w` is negative"
    );
    let e = real_size(&[0.5], 2.5).err().unwrap();
    assert_eq!(
        e.to_string(),
        "in `let w ~ Normal(0.0, 1.0).iid(k)`: the size 2.5 of `w` is not a whole number"
    );
    assert_eq!(real_size(&[0.5], 2.0).unwrap().dim(), 2);
    assert_eq!(sized_by(&[0.5], 0).unwrap().dim(), 0);
}

#[test]
fn nalgebra_views_are_checked_as_the_data_they_show() {
    // The check the constructor runs, on views (which a Rust caller may hold as data).
    use vi::__private::FiniteCheck;
    let mut m = DMatrix::from_fn(4, 3, |i, j| (i * 3 + j) as f64);
    m[(3, 2)] = f64::NAN;
    // Column 1 does not hold the NaN; column 2 holds it at element 3.
    assert!(FiniteCheck(&m.column(1)).check_finite("c").is_ok());
    let e = FiniteCheck(&m.column(2)).check_finite("c").unwrap_err();
    assert_eq!(e.to_string(), "data `c[3]` is NaN: data must be finite");
    let e = FiniteCheck(&m.view((1, 1), (3, 2)))
        .check_finite("block")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "data `block[(2, 1)]` is NaN: data must be finite"
    );
}
