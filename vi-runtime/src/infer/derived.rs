//! Derived quantities in a posterior: the model's [`Model::derive`] applied to every draw,
//! appended to each draw's row and to the layout ([`ParamLayout::push_derived`]), so that
//! `mean`, `sd`, `quantile`, `draws`, the summary (with R-hat and ESS for NUTS) and the CSV
//! report them like parameters.

use super::posterior::Chain;
use crate::model::{Model, ParamLayout};

/// `layout` and `chains` (draws of `model`'s parameters) with `model`'s derived quantities
/// appended: to the layout after its parameters, to each draw after its values. Unchanged
/// when the model has none.
pub(crate) fn with_derived<M: Model + ?Sized>(
    model: &M,
    layout: ParamLayout,
    chains: Vec<Chain>,
) -> (ParamLayout, Vec<Chain>) {
    let derived = model.derived_layout();
    let k = derived.dim();
    if derived.params().is_empty() {
        return (layout, chains);
    }
    let mut wide = layout.clone();
    for p in derived.params() {
        wide.push_derived(p.name.clone(), p.shape.clone());
    }
    let d = layout.dim();
    let mut out = vec![0.0; k];
    let chains = chains
        .into_iter()
        .map(|c| {
            let mut draws = Vec::with_capacity(c.len() * (d + k));
            for i in 0..c.len() {
                let row = &c.draws[i * d..(i + 1) * d];
                out.fill(f64::NAN);
                model.derive(row, &mut out);
                draws.extend_from_slice(row);
                draws.extend_from_slice(&out);
            }
            Chain { draws, lp: c.lp }
        })
        .collect();
    (wide, chains)
}

/// The layout of an engine's streamed CSV file (`output(dir)`): `model`'s parameters, then
/// its derived quantities, as in the posterior the engine returns.
pub(crate) fn csv_layout<M: Model + ?Sized>(model: &M) -> ParamLayout {
    let mut layout = model.layout().clone();
    for p in model.derived_layout().params() {
        layout.push_derived(p.name.clone(), p.shape.clone());
    }
    layout
}

/// One row of a streamed CSV file: the constrained draw `x`, then `model`'s derived
/// quantities at it (NaN where the model cannot compute them), in `row` (reused).
pub(crate) fn csv_row<'a, M: Model + ?Sized>(
    model: &M,
    x: &[f64],
    row: &'a mut Vec<f64>,
) -> &'a [f64] {
    row.clear();
    row.extend_from_slice(x);
    let k = model.derived_layout().dim();
    if k > 0 {
        let start = row.len();
        row.resize(start + k, f64::NAN);
        model.derive(x, &mut row[start..]);
    }
    row
}
