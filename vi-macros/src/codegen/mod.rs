//! The analysed model -> Rust: the struct, its constructor, `impl Model`, `simulate`.
//!
//! One emitter writes the body in several modes: the forward pass alone (`log_density_jac`),
//! with per-statement terms, the constructor's checking run (which also builds the layout),
//! the posterior-predictive run, and the gradient (forward code with each statement's reverse
//! sweep right after it, and the sweeps of values that outlive a statement at the end of their
//! block, in reverse order). A `for` loop that carries active state is run forward once
//! saving its state at each iteration, and replayed backwards in the sweep. State written only
//! element by element is not saved but written in place, each write logging the old element
//! in the state's undo log ([`WriteMode`](lower::WriteMode); a replayed iteration rewinds
//! the vector to where its log stood when the iteration began).
//!
//! `items.rs` writes the struct, its constructor and its impls; `pass.rs` says which of the
//! bodies is being written; `forward.rs` the statements of a body; `reverse.rs` the sweeps of
//! blocks and carried loops; `lower.rs` one statement in A-normal form with its forward and
//! backward calls.

mod forward;
mod fused;
mod glm;
mod items;
mod keep;
mod kernel_call;
mod lower;
mod multi;
mod pass;
mod reverse;
pub mod rows;
mod tanh_layer;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

use std::collections::{HashMap, HashSet};

use crate::ir::{AExpr, Binding, BindingId, Model, Stmt};
use lower::CacheSlots;

pub use items::fallback;
pub use lower::{span_of, vname};

struct Emitter<'a> {
    m: &'a Model,
    /// Slots of the model's `DataCache` (see [`Model::cached`]).
    slots: CacheSlots,
    /// Slots of the `DataCache` after those, for values computed from the arguments only.
    values: std::rc::Rc<lower::ValueSlots>,
    /// State written in place (see `analyse::StateVersions`): its binding id -> the loops
    /// and `if`s (statement indices) around its root, outermost first.
    groups: HashMap<BindingId, Vec<usize>>,
    /// The versions a loop or `if` moves out of its body (last versions of loop state, the
    /// branches' versions of what an `if` assigns).
    moved: HashSet<BindingId>,
    /// The variables of the loops over integer ranges around each statement (by index), for
    /// index errors.
    loops: HashMap<usize, Vec<syn::Ident>>,
}

/// [`Emitter::loops`] of a block inside the loops `around`.
fn loop_vars(
    stmts: &[Stmt],
    around: &mut Vec<syn::Ident>,
    out: &mut HashMap<usize, Vec<syn::Ident>>,
) {
    for s in stmts {
        let src = match s {
            Stmt::Latent { src, .. }
            | Stmt::Observe { src, .. }
            | Stmt::Density { src, .. }
            | Stmt::Target { src, .. }
            | Stmt::Let { src, .. }
            | Stmt::For { src, .. }
            | Stmt::If { src, .. } => Some(*src),
            Stmt::Data(_) | Stmt::At(_) => None,
        };
        if let (Some(src), false) = (src, around.is_empty()) {
            out.insert(src, around.clone());
        }
        match s {
            Stmt::For {
                pat, iter, body, ..
            } => {
                let var = match (pat, iter) {
                    (syn::Pat::Ident(p), syn::Expr::Range(_)) => Some(p.ident.clone()),
                    _ => None,
                };
                let pushed = var.is_some();
                around.extend(var);
                loop_vars(body, around, out);
                if pushed {
                    around.pop();
                }
            }
            Stmt::If { then, els, .. } => {
                loop_vars(then, around, out);
                loop_vars(els, around, out);
            }
            _ => {}
        }
    }
}

/// [`Emitter::moved`] of a block, at any depth.
fn moved_versions(stmts: &[Stmt], out: &mut HashSet<BindingId>) {
    for s in stmts {
        match s {
            Stmt::For { body, carried, .. } => {
                out.extend(carried.iter().map(|c| c.last.id));
                moved_versions(body, out);
            }
            Stmt::If {
                then, els, joined, ..
            } => {
                out.extend(joined.iter().flat_map(|j| [j.then_last.id, j.else_last.id]));
                moved_versions(then, out);
                moved_versions(els, out);
            }
            _ => {}
        }
    }
}

/// The generated code for a model that analysed without errors.
pub fn expand(m: &Model) -> TokenStream {
    let slots = m
        .cached
        .iter()
        .cloned()
        .enumerate()
        .map(|(k, key)| (key, k))
        .collect();
    let e = Emitter {
        m,
        slots: std::rc::Rc::new(slots),
        values: lower::ValueSlots::new(m.cached.len()),
        groups: in_place_groups(&m.body),
        moved: {
            let mut moved = HashSet::new();
            moved_versions(&m.body, &mut moved);
            moved
        },
        loops: {
            let mut loops = HashMap::new();
            loop_vars(&m.body, &mut Vec::new(), &mut loops);
            loops
        },
    };
    e.model()
}

/// Whether `init` writes one element of `binding` in place (`v[i] = x` on state written in
/// place: the vector written and the result are one binding).
fn writes_in_place(binding: &Binding, init: &AExpr) -> bool {
    matches!(init, AExpr::Set(v, ..) if matches!(&**v, AExpr::Var(b) if b.id == binding.id))
}

/// State written in place, with the regions around its root.
fn in_place_groups(body: &[Stmt]) -> HashMap<BindingId, Vec<usize>> {
    fn targets(stmts: &[Stmt], out: &mut HashSet<BindingId>) {
        for s in stmts {
            match s {
                Stmt::Let { binding, init, .. } if writes_in_place(binding, init) => {
                    out.insert(binding.id);
                }
                Stmt::For { body, .. } => targets(body, out),
                Stmt::If { then, els, .. } => {
                    targets(then, out);
                    targets(els, out);
                }
                _ => {}
            }
        }
    }
    fn roots(
        stmts: &[Stmt],
        targets: &HashSet<BindingId>,
        path: &mut Vec<usize>,
        out: &mut HashMap<BindingId, Vec<usize>>,
    ) {
        for s in stmts {
            match s {
                Stmt::Let { binding, init, .. }
                    if targets.contains(&binding.id) && !writes_in_place(binding, init) =>
                {
                    out.insert(binding.id, path.clone());
                }
                Stmt::For { body, src, .. } => {
                    path.push(*src);
                    roots(body, targets, path, out);
                    path.pop();
                }
                Stmt::If { then, els, src, .. } => {
                    path.push(*src);
                    roots(then, targets, path, out);
                    roots(els, targets, path, out);
                    path.pop();
                }
                _ => {}
            }
        }
    }
    let mut t = HashSet::new();
    targets(body, &mut t);
    let mut out = HashMap::new();
    if !t.is_empty() {
        roots(body, &t, &mut Vec::new(), &mut out);
    }
    out
}
