//! NUTS's default metric (`Metric::Auto` with nutpie's adaptation) on real time-series
//! posteriors (posteriordb arma11, arK with K = 5, garch11; see tests/data/posteriordb.rs):
//! 4 chains of 1000 + 1000 converge (R-hat below 1.01, no divergent transition) with step
//! sizes of order 1.

use vi::prelude::*;
use vi::{Diagnostics, Metric, NutsDiagnostics, Posterior};

use crate::macro_models::{ar_k, arma11, data, garch11};

fn fit(m: &dyn Model) -> Posterior {
    fit_seed(m, 1)
}

fn fit_seed(m: &dyn Model, seed: u64) -> Posterior {
    let nuts = Nuts::default().seed(seed).progress(false);
    assert_eq!(
        nuts,
        Nuts::default()
            .seed(seed)
            .progress(false)
            .metric(Metric::Auto)
    );
    nuts.fit(m).unwrap()
}

fn nuts(post: &Posterior) -> &NutsDiagnostics {
    match post.diagnostics() {
        Diagnostics::Nuts(d) => d,
        other => panic!("expected NUTS diagnostics, got {}", other.method()),
    }
}

fn assert_converged(name: &str, d: &NutsDiagnostics) {
    assert_eq!(d.chains.len(), 4);
    for p in &d.params {
        assert!(p.rhat < 1.01, "{name} {}: R-hat {}\n{d}", p.name, p.rhat);
    }
    assert_eq!(d.total_divergences(), 0, "{name}\n{d}");
    // A chain that adapted in a transient ends with a step size far from 1 (ARMA(1,1)
    // gave 1e-150 and, with the diagonal metric, 7865): in unconstrained coordinates
    // scaled by the metric, a posterior like these wants a step of order 1.
    for s in d.step_sizes() {
        assert!(
            (0.1..5.0).contains(&s),
            "{name}: step sizes {:?}",
            d.step_sizes()
        );
    }
}

/// ARMA(1,1): two of the four chains start with the MA coefficient beyond 1, where the
/// error recursion explodes (log density near -1e80, step size 1e-33 at the start). They
/// must climb out before any dense metric is estimated.
#[test]
fn default_metric_on_arma11_converges() {
    let m = arma11(&data::ARMA_Y).unwrap();
    let post = fit(&m);
    assert_converged("ARMA(1,1)", nuts(&post));
}

/// AR(5): the lag coefficients are correlated, and the default picks the dense metric.
/// ARMA(1,1) with seed 2: from a single uniform(-2, 2) point one chain started at
/// theta = -1.08, adapted a near-zero scale for mu, phi and theta there and moved only
/// sigma (R-hat 1.59 under every metric, Stan's diagonal default included). The best of
/// ten initial points per chain starts every chain where the recursion is stable; seed 3
/// for a third draw of the initial points (seed 1 is the test above).
#[test]
fn default_metric_on_arma11_converges_from_any_seed() {
    let m = arma11(&data::ARMA_Y).unwrap();
    for seed in [2, 3] {
        let post = fit_seed(&m, seed);
        assert_converged(&format!("ARMA(1,1) seed {seed}"), nuts(&post));
    }
    // The cause, pinned: the same run from one initial point per chain does not converge.
    let single = Nuts::default()
        .seed(2)
        .progress(false)
        .init_candidates(1)
        .fit(&m)
        .unwrap();
    let d = nuts(&single);
    assert!(d.params.iter().any(|p| p.rhat > 1.1), "{d}");
}

#[test]
fn default_metric_on_ar5_converges_and_is_dense() {
    let m = ar_k(data::ARK_K, &data::ARK_Y).unwrap();
    let post = fit(&m);
    let d = nuts(&post);
    assert_converged("AR(5)", d);
    assert!(d.chains.iter().all(|c| c.metric == Metric::Dense), "{d}");
}

#[test]
fn default_metric_on_garch11_converges() {
    let m = garch11(&data::GARCH_Y, data::GARCH_SIGMA1).unwrap();
    let post = fit(&m);
    assert_converged("GARCH(1,1)", nuts(&post));
}
