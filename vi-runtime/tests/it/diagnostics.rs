//! R-hat, ESS and MCSE against ArviZ on fixed draws.
//!
//! `tests/data/ar1_draws.csv` holds 4 chains x 500 draws of two quantities: `x`, an AR(1)
//! with phi = 0.7 and chain offsets 0, 0.1, -0.1, 0.3; `y`, an AR(1) with phi = 0.95 rounded
//! to halves (many ties) with chain offsets 0, 0.5, 1, -0.5. `tests/data/gen_ar1.py` wrote
//! the file and computed the reference values below with ArviZ 0.23.4 (numpy 2.4.6,
//! scipy 1.17.1) on the values read back from the file:
//! `az.rhat(a)`, `az.ess(a, method="bulk")`, `az.ess(a, method="tail")`, `az.mcse(a)`,
//! `az.ess(a, method="mean")`, with `a` the (chain, draw) array.

use vi_runtime::infer::diagnostics::{ess_bulk, ess_mean, ess_tail, mcse_mean, rhat};

/// The agreement asked of every value: ArviZ computes autocovariances by FFT, we directly.
const REL_TOL: f64 = 1e-9;

/// (x chains, y chains), each 4 x 500.
fn draws() -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let text = include_str!("../data/ar1_draws.csv");
    let mut x = vec![Vec::new(); 4];
    let mut y = vec![Vec::new(); 4];
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        for c in 0..4 {
            x[c].push(v[c]);
            y[c].push(v[4 + c]);
        }
    }
    (x, y)
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= REL_TOL * want.abs(),
        "{what}: got {got}, ArviZ {want}"
    );
}

/// (rhat, ess_bulk, ess_tail, mcse_mean, ess_mean) as printed by gen_ar1.py.
fn check(a: &[Vec<f64>], want: [f64; 5], name: &str) {
    close(rhat(a), want[0], &format!("{name} rhat"));
    close(ess_bulk(a), want[1], &format!("{name} ess_bulk"));
    close(ess_tail(a), want[2], &format!("{name} ess_tail"));
    close(mcse_mean(a), want[3], &format!("{name} mcse_mean"));
    close(ess_mean(a), want[4], &format!("{name} ess_mean"));
}

#[test]
fn diagnostics_match_arviz_on_ar1_draws() {
    let (x, _) = draws();
    check(
        &x,
        [
            1.0121244456219707,
            354.2874043718625,
            826.2921164307288,
            0.07718339413381974,
            350.97382109859547,
        ],
        "x",
    );
}

#[test]
fn diagnostics_match_arviz_with_ties_and_poor_mixing() {
    let (_, y) = draws();
    check(
        &y,
        [
            1.0553691827935938,
            69.37961555648313,
            125.16379541743912,
            0.36547324774596146,
            69.05071150393562,
        ],
        "y",
    );
}

#[test]
fn diagnostics_match_arviz_with_odd_chain_length() {
    // x[:3, :101]: the middle draw of each chain is dropped when splitting.
    let (x, _) = draws();
    let a: Vec<Vec<f64>> = x[..3].iter().map(|c| c[..101].to_vec()).collect();
    check(
        &a,
        [
            1.0447476362204464,
            51.712861452768756,
            133.54631519084734,
            0.20671752943405028,
            52.016260812824584,
        ],
        "x[:3, :101]",
    );
}
