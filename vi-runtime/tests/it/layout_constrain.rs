//! `ParamLayout::constrain` (which cuts each parameter's block once and picks its transform
//! once per parameter) gives, to the bit, what each element's own transform gives
//! (`Transform::constrain` element by element, `Param::constrain_blocks` for a vector
//! transform's blocks), for every transform kind, over values from the far tails to the
//! infinities and NaN.

use vi_runtime::{ParamLayout, Transform, VectorTransform};

/// Unconstrained values where the transforms over- and underflow, cross zero, or are not
/// finite.
const VALUES: [f64; 16] = [
    -800.0,
    -745.5,
    -40.0,
    -1.0,
    -1e-300,
    -0.0,
    0.0,
    1e-300,
    0.5,
    3.0,
    40.0,
    709.9,
    800.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

/// The element-by-element map, written out independently of `ParamLayout::constrain`.
fn by_element(layout: &ParamLayout, theta: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; layout.dim()];
    for p in layout.params() {
        let r = p.range();
        match &p.vector {
            Some(t) => {
                p.constrain_blocks(t, &theta[r.clone()], &mut out[r]);
            }
            None => {
                for i in r {
                    out[i] = p.transform.constrain(theta[i]);
                }
            }
        }
    }
    out
}

#[test]
fn constrain_is_the_element_wise_map_to_the_bit() {
    let mut layout = ParamLayout::new();
    layout.push("a", vec![], Transform::Identity);
    layout.push("w", vec![2, 3], Transform::Identity);
    layout.push("empty", vec![0], Transform::POSITIVE);
    layout.push("sigma", vec![3], Transform::POSITIVE);
    layout.push("lo", vec![2], Transform::LowerBound(-2.5));
    layout.push("hi", vec![2], Transform::UpperBound(3.0));
    layout.push("hi0", vec![], Transform::UpperBound(0.0));
    layout.push("p", vec![3], Transform::UNIT);
    layout.push("ab", vec![2], Transform::Interval(-1.0, 2.0));
    layout.push("wide", vec![], Transform::Interval(-1e300, 1e300));
    layout.push_vector("theta", vec![4], VectorTransform::Simplex(4));
    layout.push_vector("c", vec![3], VectorTransform::Ordered(3));
    layout.push_vector("L", vec![3, 3], VectorTransform::CholeskyCorr(3));
    layout.push("tail", vec![2], Transform::POSITIVE);
    let d = layout.dim();
    // Every value at every position: theta shifted through VALUES, d times.
    for shift in 0..VALUES.len() + d {
        let theta: Vec<f64> = (0..d).map(|i| VALUES[(i + shift) % VALUES.len()]).collect();
        let mut got = vec![f64::NAN; d];
        layout.constrain(&theta, &mut got);
        let want = by_element(&layout, &theta);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "element {i} ({}) at theta {}: {g} against {w}",
                layout.flat_names()[i],
                theta[i]
            );
        }
    }
}
