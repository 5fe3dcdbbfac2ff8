//! The default VI on real data sets as a user writes them (raw, unstandardised predictors,
//! interactions, N in the thousands, time series), against the library's own NUTS run long
//! enough: the fitted means within 0.1 NUTS posterior sd, the linear-response sds within
//! 10% of NUTS's, and the ELBO on fresh draws consistent with the optimised objective.
//!
//! Data: posteriordb (see tests/data/posteriordb/NOTICE.md); the models are our own.

use vi::prelude::*;
use vi::{Diagnostics, Posterior, ViDiagnostics};

// The time-series models of the macro's tests (AR(K) as a nested loop, ARMA(1,1) with its
// error recursion carried), and their posteriordb data.
use crate::macro_models::{ar_k, arma11, data};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("the data file is JSON")
}

fn column(v: &serde_json::Value, name: &str) -> Vec<f64> {
    v[name]
        .as_array()
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

model! {
    /// A regression with an intercept: `y ~ Normal(alpha + x beta, sigma)`.
    fn regression(x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) {
        let alpha ~ Normal(0.0, 100.0);
        let beta ~ Normal(0.0, 10.0).iid(x.ncols());
        let sigma ~ HalfNormal(scale);
        y ~ Normal(x * beta + alpha, sigma);
    }
}

fn vi_diag(post: &Posterior) -> &ViDiagnostics {
    match post.diagnostics() {
        Diagnostics::Vi(d) => d,
        other => panic!("expected VI diagnostics, got {}", other.method()),
    }
}

/// Fits `model` by the default VI and by NUTS (4 chains of 1500 after 1000 warmup), and
/// checks VI against NUTS on the unconstrained scale, where both the guide and the
/// linear-response covariance live.
pub(crate) fn check_against_nuts<M: Model>(name: &str, model: &M, lr_tol: f64) {
    let vi = Vi::default().seed(1).fit(model).unwrap();
    let d = vi_diag(&vi);
    assert!(d.converged, "{name}: {d}");
    assert!(
        matches!(d.start, Some(vi::ViStart::Laplace { .. })),
        "{name}: {d}"
    );
    assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings);
    assert!(d.linear_response, "{name}: {d}");
    // The optimised objective and the ELBO on fresh, independent draws agree within the
    // latter's Monte Carlo error (plus the objective's own small optimism).
    let objective = d.objective.unwrap();
    assert!(
        (objective - d.elbo).abs() < 4.0 * d.elbo_mcse + 0.05,
        "{name}: objective {objective} vs ELBO {} +- {}",
        d.elbo,
        d.elbo_mcse
    );

    let nuts = Nuts::default()
        .seed(1)
        .warmup(1000)
        .draws(1500)
        .progress(false)
        .fit(model)
        .unwrap();
    let dim = model.dim();
    let names = model.layout().flat_names();
    // NUTS draws back on the unconstrained scale.
    let mut unconstrained: Vec<Vec<f64>> = vec![Vec::new(); dim];
    let mut u = vec![0.0; dim];
    for chain in nuts.chains() {
        for row in chain.draws.chunks_exact(dim) {
            model.unconstrain(row, &mut u).unwrap();
            for (i, v) in u.iter().enumerate() {
                unconstrained[i].push(*v);
            }
        }
    }
    for i in 0..dim {
        let xs = &unconstrained[i];
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let z = (d.mean[i] - mean) / sd;
        assert!(
            z.abs() < 0.1,
            "{name} {}: VI mean {} vs NUTS {mean} (sd {sd}): {z:.3} sds",
            names[i],
            d.mean[i]
        );
        assert!(
            (d.lr_sd[i] / sd - 1.0).abs() < lr_tol,
            "{name} {}: linear-response sd {} vs NUTS sd {sd}",
            names[i],
            d.lr_sd[i]
        );
    }
}

#[test]
fn kidiq_with_raw_predictors_and_an_interaction() {
    // kid_score ~ mom_hs + mom_iq + mom_hs:mom_iq, mom_iq near 100 and not centred: the
    // intercept and the slopes are correlated near -1.
    let v = json(include_str!(
        "../data/posteriordb/kidiq-kidscore_interaction.json"
    ));
    let (y, hs, iq) = (
        column(&v, "kid_score"),
        column(&v, "mom_hs"),
        column(&v, "mom_iq"),
    );
    let x = DMatrix::from_fn(y.len(), 3, |i, j| [hs[i], iq[i], hs[i] * iq[i]][j]);
    let m = regression(&x, &DVector::from_vec(y), 50.0).unwrap();
    check_against_nuts("kidiq", &m, 0.1);
}

#[test]
fn earnings_on_raw_height_with_an_interaction() {
    // log(earn) ~ height + male + height:male, N = 1192, height in inches (about 66).
    let v = json(include_str!(
        "../data/posteriordb/earnings-logearn_interaction_z.json"
    ));
    let (earn, height, male) = (column(&v, "earn"), column(&v, "height"), column(&v, "male"));
    let y = DVector::from_iterator(earn.len(), earn.iter().map(|e| e.ln()));
    let x = DMatrix::from_fn(earn.len(), 3, |i, j| {
        [height[i], male[i], height[i] * male[i]][j]
    });
    let m = regression(&x, &y, 5.0).unwrap();
    check_against_nuts("earnings", &m, 0.1);
}

#[test]
fn nes_party_identification_with_eight_predictors() {
    // partyid7 ~ real_ideo + race_adj + age group + educ1 + gender + income, N = 1330.
    let v = json(include_str!("../data/posteriordb/nes1972-nes.json"));
    let y = column(&v, "partyid7");
    let cols: Vec<Vec<f64>> = ["real_ideo", "race_adj", "educ1", "gender", "income"]
        .iter()
        .map(|c| column(&v, c))
        .collect();
    let age = column(&v, "age_discrete");
    let x = DMatrix::from_fn(y.len(), 8, |i, j| match j {
        0..=4 => cols[j][i],
        _ => f64::from(u8::from(age[i] == (j - 3) as f64)),
    });
    let m = regression(&x, &DVector::from_vec(y), 5.0).unwrap();
    check_against_nuts("nes", &m, 0.1);
}

#[test]
fn ar5_time_series() {
    let m = ar_k(data::ARK_K, &data::ARK_Y).unwrap();
    check_against_nuts("AR(5)", &m, 0.1);
}

#[test]
fn arma11_time_series() {
    let m = arma11(&data::ARMA_Y).unwrap();
    check_against_nuts("ARMA(1,1)", &m, 0.1);
}
