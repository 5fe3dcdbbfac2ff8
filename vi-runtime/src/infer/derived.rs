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
