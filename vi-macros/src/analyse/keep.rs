//! `#[keep] let a = ..;`: a deterministic value the posterior reports like a latent (Stan's
//! transformed parameters and generated quantities). Kept values are declared at the top
//! level, bound to a plain name that no latent or other kept value has, and depend on a
//! latent; code generation computes them for every draw (`codegen/keep.rs`).

use super::Analyser;
use crate::ir::*;
use crate::parse;

impl Analyser {
    /// Records the `let` just analysed (its statement last in `out`) as kept, or reports why
    /// it cannot be.
    pub(super) fn keep(&mut self, l: &parse::LetStmt, span: proc_macro2::Span, out: &[Stmt]) {
        let syn::Pat::Ident(p) = &l.pat else {
            self.err(
                span,
                "`#[keep]` reports one named value: `#[keep] let a = ..;`",
            );
            return;
        };
        let name = p.ident.to_string();
        if p.mutability.is_some() {
            self.err(
                span,
                format!(
                    "a kept value cannot be `mut`: keep the final value instead, \
                     `#[keep] let {name}_final = {name};` after its last update"
                ),
            );
            return;
        }
        if self.depth > 0 {
            self.err(
                span,
                format!(
                    "`{name}` is kept but declared inside a loop or `if`; declare kept values at \
                     the top level of the model (build a vector in the loop and keep it after)"
                ),
            );
            return;
        }
        if self.latent_names.contains_key(&name) || self.kept.iter().any(|b| b.name == name) {
            self.err(
                p.ident.span(),
                format!("`{name}` is already a name in the posterior: give the kept value another"),
            );
            return;
        }
        match out.last() {
            Some(Stmt::Let { binding, .. }) if binding.name == p.ident => {
                self.kept.push(binding.clone());
            }
            _ => self.err(
                span,
                format!(
                    "`{name}` does not depend on a latent variable, so it is the same in every \
                     draw: `#[keep]` reports values computed from the latents"
                ),
            ),
        }
    }
}
