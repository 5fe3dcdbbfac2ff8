//! What the two statement hooks that call one fused runtime kernel share (`glm.rs`:
//! `normal_id_glm`; `tanh_layer.rs`: `normal_tanh_layer`): how a body runs the statement,
//! the operands as slices and adjoint slices, the code around the call, and the small
//! syntax helpers their pattern matches use.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, Ident, Type};

use super::forward::{term_acc, First};
use super::lower::{Lowering, V};
use super::pass::Mode;
use super::Emitter;
use crate::catalogue::{Binary, DistInfo};
use crate::ir::{AExpr, Operand};

/// How a fused statement is emitted in a body; each hook maps a body's [`Mode`] to one
/// (or to none, where the rules' form runs).
#[derive(PartialEq)]
pub(super) enum Run {
    /// The constructor's run: the rules' checks and value, then the fused kernel once.
    Build,
    /// The gradient: the fused kernel with the adjoints, the operands' sweep right after.
    Grad,
    /// The value alone.
    Value,
}

impl Emitter<'_> {
    /// The declared type of the model argument `e` names, without `&` and parentheses.
    pub(super) fn arg_type(&self, e: &Expr) -> Option<&Type> {
        let Expr::Path(p) = strip(e) else {
            return None;
        };
        let id = p.path.get_ident()?;
        let a = self.m.args.iter().find(|a| a.name == *id)?;
        let mut t = &a.ty;
        while let Type::Reference(r) = t {
            t = &r.elem;
        }
        while let Type::Paren(p) = t {
            t = &p.elem;
        }
        Some(t)
    }

    /// In the constructor's run the statement's rules run first (their checks and
    /// messages), then the fused kernel once; elsewhere the fused code alone.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn with_rules(
        &self,
        run: &Run,
        src: usize,
        lhs: &Expr,
        dist: &DistInfo,
        args: &[Operand],
        m: Mode,
        fused: TokenStream,
    ) -> TokenStream {
        match run {
            Run::Build => {
                let rules = self.kernel(src, First::Data(lhs), dist, args, m, true);
                quote!(#rules { #fused })
            }
            _ => fused,
        }
    }
}

/// A lowered operand as the `&[f64]` a fused kernel reads.
pub(super) fn kernel_slice(v: &V) -> TokenStream {
    match v {
        V::Data(d, span) => quote::quote_spanned!(*span=> &*#d.f64s()),
        v => {
            let a = v.arg();
            quote!(::vi::__private::ad::flat(#a))
        }
    }
}

/// A lowered operand's adjoint as the `Option<&mut [f64]>` a fused kernel adds into: `None`
/// outside the gradient and for data.
pub(super) fn kernel_adjoint(v: &V, grad: bool) -> TokenStream {
    match v.grad() {
        Some(g) if grad => {
            quote!(::core::option::Option::Some(::vi::__private::ad::flat_mut(&mut #g)))
        }
        _ => quote!(::core::option::Option::None),
    }
}

/// The operands' forward code `fwd`, the kernel's `call` (which binds its term to `lp`),
/// and what follows it in this run: the adjoints declared before the call and the
/// operands' sweep after it in the gradient, the term's accumulation, the temporaries'
/// recycling.
pub(super) fn around_call(
    run: &Run,
    src: usize,
    m: Mode,
    low: &Lowering,
    fwd: TokenStream,
    call: TokenStream,
    lp: &Ident,
) -> TokenStream {
    match run {
        Run::Build => quote!(#fwd #call let _ = #lp;),
        Run::Grad => {
            let adjs = low.adjoints();
            let acc = if m.pass.density() {
                quote!(__lp += #lp;)
            } else {
                quote!()
            };
            let rev = low.reverse();
            let done = low.recycle_temps(true);
            quote!(#fwd #adjs #call #acc #rev #done)
        }
        Run::Value => {
            let acc = term_acc(src, lp, m);
            let done = low.recycle_temps(false);
            quote!(#fwd #call #acc #done)
        }
    }
}

/// The terms of a sum, in order: `a + b + c` (`(a + b) + c`) gives `a`, `b`, `c`.
pub(super) fn addends<'a>(e: &'a AExpr, out: &mut Vec<&'a AExpr>) {
    match e {
        AExpr::Binary(Binary::Add, l, r, _) => {
            addends(l, out);
            addends(r, out);
        }
        e => out.push(e),
    }
}

/// `e` without parentheses, groups and a leading `&`.
pub(super) fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        Expr::Reference(r) => strip(&r.expr),
        e => e,
    }
}

/// What the hooks' unit tests share.
#[cfg(test)]
pub(super) mod tests {
    /// A model's whole expansion, as text (no `compile_error!` in it).
    pub(in crate::codegen) fn expand(src: &str) -> String {
        let out = crate::run(src.parse().expect("tokens")).to_string();
        assert!(!out.contains("compile_error"), "{out}");
        out
    }

    /// The text of `out` from `start` to the first `end` after it.
    pub(in crate::codegen) fn section<'a>(out: &'a str, start: &str, end: &str) -> &'a str {
        let s = out.find(start).expect("the start");
        let e = out[s..].find(end).expect("the end");
        &out[s..s + e]
    }
}
