//! Pareto k-hat and smoothed weights against ArviZ on fixed log-ratio vectors.
//!
//! The vectors in `tests/data/psis_*.txt` (S = 1000 each) and the reference values come from
//! `tests/data/psis_gen.py` (numpy 2.4.6, arviz 0.23.4): `lw, k = az.psislw(ratios)` (relative
//! efficiency 1), printing k, lw[0], lw[1] and lw.max().

use vi_runtime::infer::psis::psis;
use vi_runtime::pareto_k;

fn load(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().expect("a number"))
        .collect()
}

/// (file contents, k, lw[0], lw[1], lw.max()) from `az.psislw`.
const CASES: [(&str, f64, f64, f64, f64); 4] = [
    // rng.standard_t(df=3, size=1000): a very heavy right tail.
    (
        include_str!("../data/psis_t3.txt"),
        2.236849287057738,
        -12.849899001835878,
        -13.41023917214576,
        -0.14844957140931214,
    ),
    // rng.normal(size=1000)
    (
        include_str!("../data/psis_normal.txt"),
        0.4530216858397721,
        -7.097156426390867,
        -8.732608030962755,
        -3.8837437953478817,
    ),
    // rng.exponential(size=1000) * 2.0
    (
        include_str!("../data/psis_exp2.txt"),
        1.686312940942444,
        -11.31530454821178,
        -11.95708435774083,
        -1.0064952866947936,
    ),
    // rng.normal(size=1000) * 0.5: a light tail, k < 0.
    (
        include_str!("../data/psis_normal_half.txt"),
        -0.056515030008735624,
        -7.152003315956512,
        -7.093979500017933,
        -5.573404484568448,
    ),
];

#[test]
fn pareto_k_matches_arviz() {
    for (i, (text, k, ..)) in CASES.iter().enumerate() {
        let ratios = load(text);
        assert_eq!(ratios.len(), 1000);
        let got = pareto_k(&ratios);
        assert!((got - k).abs() < 1e-6, "case {i}: k = {got}, ArviZ {k}");
    }
}

#[test]
fn smoothed_log_weights_match_arviz() {
    for (i, (text, _, lw0, lw1, lw_max)) in CASES.iter().enumerate() {
        let r = psis(&load(text));
        let max = r
            .log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        for (got, want) in [
            (r.log_weights[0], lw0),
            (r.log_weights[1], lw1),
            (max, lw_max),
        ] {
            assert!((got - want).abs() < 1e-6, "case {i}: {got} vs ArviZ {want}");
        }
        // Normalised: the weights sum to one.
        let total: f64 = r.log_weights.iter().map(|w| w.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}

#[test]
fn k_is_invariant_to_a_constant_shift() {
    let ratios = load(CASES[1].0);
    let shifted: Vec<f64> = ratios.iter().map(|r| r - 1234.5).collect();
    assert!((pareto_k(&ratios) - pareto_k(&shifted)).abs() < 1e-9);
}
