//! The reverse sweep of blocks, `if`s and carried loops (replayed backwards from their
//! saved state), and how element writes into state written in place are undone.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use std::collections::HashSet;

use super::forward::{kernel_dispatch, seed_one, First};
use super::lower::{gname, span_of, uname, vname, WriteMode};
use super::pass::{Mode, Pass, ALL};
use super::Emitter;
use crate::ir::{Binding, BindingId, Carried, Joined, Operand, Stmt};

impl Emitter<'_> {
    pub(super) fn replay(
        &self,
        src: usize,
        pat: &syn::Pat,
        iter: &TokenStream,
        body: &[Stmt],
        carried: &[Carried],
        data_carried: &[Ident],
    ) -> TokenStream {
        let (written, carried) = self.split_carried(carried);
        let carried = &carried[..];
        let saves = format_ident!("__save{}", src);
        let gcs: Vec<Ident> = carried
            .iter()
            .map(|c| format_ident!("__gc{}", c.entry.id))
            .collect();
        let restored: Vec<Ident> = data_carried
            .iter()
            .map(|d| format_ident!("__restore_{}", d))
            .collect();
        let acc_flags = accumulators(body, carried);
        // Saved entry values; accumulators (`s += e` only) need no value in the sweep (the
        // rules of `+` and `-` do not read their operands' values): the exit value stands in.
        let entries: Vec<Ident> = carried
            .iter()
            .zip(&acc_flags)
            .filter(|(_, a)| !**a)
            .map(|(c, _)| vname(&c.entry))
            .collect();
        let stand_ins = carried
            .iter()
            .zip(&acc_flags)
            .filter(|(_, a)| **a)
            .map(|(c, _)| {
                let (e, x) = (vname(&c.entry), vname(&c.exit));
                quote!(let #e = ::vi::__private::copy_of(&#x);)
            });
        let needs_saves = !entries.is_empty() || !data_carried.is_empty() || !written.is_empty();
        // State written in place goes back to its value at the iteration's start (its log
        // entries stay for the sweep).
        let marks: Vec<Ident> = (0..written.len())
            .map(|k| format_ident!("__mark{}_{}", src, k))
            .collect();
        let rewind = written.iter().zip(&marks).map(|(b, mk)| {
            let (u, v) = (uname(b), vname(b));
            quote!(#u.rewind(&mut #v, #mk);)
        });
        let pop = if needs_saves {
            quote! {
                let ::core::option::Option::Some(((#(#entries,)*), (#(#restored,)*), (#(#marks,)*))) = #saves.pop() else {
                    break;
                };
                #(#data_carried = #restored;)*
                #(#rewind)*
            }
        } else {
            quote!()
        };
        let init = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.exit);
            quote!(let mut #gc = #g;)
        });
        let entry_adj = carried.iter().map(|c| {
            let (v, g) = (vname(&c.entry), gname(&c.entry));
            quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
        });
        let recompute = self.block(body, Mode::recompute(src));
        // The last version's adjoint is still zero here (the recomputation accumulates
        // nothing): it becomes the carried adjoint, its zeros go back to the pool.
        let seed = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.last);
            quote!(::vi::__private::seed(&mut #g, #gc);)
        });
        let sweep = self.sweep(body);
        let next = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.entry);
            quote!(#gc = #g;)
        });
        let out = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.outer);
            quote!(::vi::__private::acc(&mut #g, &#gc);)
        });
        let gcs_done = super::lower::recycle(gcs.iter().cloned());
        // The entries' adjoints are carried on (not `let`s of the body).
        let done = self.iteration_done(body, carried, true, &HashSet::new());
        quote! {
            #(#init)*
            for #pat in ::vi::__private::rev(#iter) {
                #pop
                #(#stand_ins)*
                #(#entry_adj)*
                #recompute
                #(#seed)*
                #sweep
                #(#next)*
                #done
            }
            #(#out)*
            #gcs_done
        }
    }

    pub(super) fn if_sweep(
        &self,
        c: &Ident,
        src: usize,
        then: &[Stmt],
        els: &[Stmt],
        joined: &[Joined],
    ) -> TokenStream {
        let (written, joined) = self.split_joined(joined);
        let joined = &joined[..];
        // State written in place goes back to its value before the `if`.
        let mk = format_ident!("__mk{}", src);
        let rewind: Vec<TokenStream> = written
            .iter()
            .enumerate()
            .map(|(k, b)| {
                let (u, v) = (uname(b), vname(b));
                let k = syn::Index::from(k);
                quote!(#u.rewind(&mut #v, #mk.#k);)
            })
            .collect();
        let branch = |stmts: &[Stmt], last: &dyn Fn(&Joined) -> &crate::analyse::Binding| {
            let recompute = self.block(stmts, Mode::recompute(src));
            let seed = joined.iter().map(|j| {
                let g = gname(last(j));
                let gx = gname(&j.exit);
                quote!(::vi::__private::acc(&mut #g, &#gx);)
            });
            let sweep = self.sweep(stmts);
            quote!(#(#rewind)* #recompute #(#seed)* #sweep)
        };
        let t = branch(then, &|j| &j.then_last);
        let e = branch(els, &|j| &j.else_last);
        quote!(if #c { #t } else { #e })
    }

    /// The reverse of a block that was just recomputed (values and adjoints in scope).
    pub(super) fn sweep(&self, stmts: &[Stmt]) -> TokenStream {
        let mut out = TokenStream::new();
        for s in stmts.iter().rev() {
            let part = match s {
                Stmt::Data(_) | Stmt::At(_) | Stmt::Latent { .. } => quote!(),
                Stmt::Observe {
                    lhs,
                    dist,
                    args,
                    src,
                    ..
                } => {
                    let (low, vals) = self.kernel_operands(*src, First::Data(lhs), args);
                    let adjs = low.adjoints();
                    let call = kernel_dispatch(*src, dist, &vals, true);
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    quote!(#adjs let _ = #call; #rev #done)
                }
                Stmt::Density {
                    value,
                    dist,
                    args,
                    src,
                    ..
                } => {
                    let (low, vals) = self.kernel_operands(*src, First::Active(value), args);
                    let adjs = low.adjoints();
                    let call = kernel_dispatch(*src, dist, &vals, true);
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    quote!(#adjs let _ = #call; #rev #done)
                }
                Stmt::Target { value, src } => match value {
                    Operand::Data(_) => quote!(),
                    Operand::Active(a) => {
                        let mut low = self.lowering(*src);
                        let v = low.lower(a, None);
                        let adjs = low.adjoints();
                        let seed = seed_one(&v);
                        let rev = low.reverse();
                        quote!(#adjs #seed #rev)
                    }
                },
                Stmt::Let {
                    binding, init, src, ..
                } => {
                    let mut low = self.lowering(*src);
                    low.lower(init, Some(binding));
                    let adjs = low.adjoints();
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    quote!(#adjs #rev #done)
                }
                Stmt::For {
                    pat,
                    iter,
                    body,
                    carried,
                    data_carried,
                    src,
                } => {
                    let iter_t = quote_spanned!(span_of(iter)=> #iter);
                    if carried.is_empty() {
                        let b = self.block(body, Mode::in_sweep(Pass::Sweep));
                        quote!(for #pat in #iter_t { #b })
                    } else {
                        self.replay(*src, pat, &iter_t, body, carried, data_carried)
                    }
                }
                Stmt::If {
                    then,
                    els,
                    joined,
                    src,
                    ..
                } => {
                    let c = format_ident!("__c{}", src);
                    if joined.is_empty() {
                        let gm = Mode::in_sweep(Pass::Sweep);
                        let t = self.block(then, gm);
                        let e = self.block(els, gm);
                        quote!(if #c { #t } else { #e })
                    } else {
                        self.if_sweep(&c, *src, then, els, joined)
                    }
                }
            };
            out.extend(part);
        }
        out
    }

    /// How an element write into state written in place (`root`) is emitted in mode `m`.
    pub(super) fn write_mode(&self, root: BindingId, m: Mode) -> WriteMode {
        let inside = |region: usize| {
            region == ALL || self.groups.get(&root).is_some_and(|p| p.contains(&region))
        };
        if m.plain_inside.is_some_and(inside) {
            WriteMode::Plain
        } else if m.redo_outside.is_some_and(|r| !inside(r)) {
            WriteMode::Redo
        } else {
            WriteMode::Tape
        }
    }

    /// State a loop carries: that written in place (not copied: its binding) and the rest.
    pub(super) fn split_carried(&self, carried: &[Carried]) -> (Vec<Binding>, Vec<Carried>) {
        let (written, rest): (Vec<&Carried>, Vec<&Carried>) = carried
            .iter()
            .partition(|c| self.groups.contains_key(&c.exit.id));
        (
            written.into_iter().map(|c| c.exit.clone()).collect(),
            rest.into_iter().cloned().collect(),
        )
    }

    /// State an `if` assigns: that written in place (its binding) and the rest.
    pub(super) fn split_joined(&self, joined: &[Joined]) -> (Vec<Binding>, Vec<Joined>) {
        let (written, rest): (Vec<&Joined>, Vec<&Joined>) = joined
            .iter()
            .partition(|j| self.groups.contains_key(&j.exit.id));
        (
            written.into_iter().map(|j| j.exit.clone()).collect(),
            rest.into_iter().cloned().collect(),
        )
    }
}

/// For each carried variable, whether the loop only accumulates into it: every version in
/// the body is used once, as the left operand of the `+` or `-` that makes the next version
/// (`s += e`, `s = s - e`), and the last version is not used in the body. The sweep of such a
/// loop never needs the variable's value.
pub(super) fn accumulators(body: &[Stmt], carried: &[Carried]) -> Vec<bool> {
    use crate::analyse::AExpr;
    use crate::catalogue::Binary;
    use std::collections::HashMap;
    pub(super) fn count_aexpr(e: &AExpr, uses: &mut HashMap<BindingId, usize>) {
        match e {
            AExpr::Var(b) => *uses.entry(b.id).or_default() += 1,
            AExpr::Data(_) => {}
            AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => count_aexpr(x, uses),
            AExpr::Binary(_, a, b, _) | AExpr::Set(a, _, b, _) => {
                count_aexpr(a, uses);
                count_aexpr(b, uses);
            }
            AExpr::Nary(_, xs, _) => xs.iter().for_each(|x| count_aexpr(x, uses)),
        }
    }
    pub(super) fn count_op(o: &Operand, uses: &mut HashMap<BindingId, usize>) {
        if let Operand::Active(a) = o {
            count_aexpr(a, uses);
        }
    }
    pub(super) fn count(stmts: &[Stmt], uses: &mut HashMap<BindingId, usize>) {
        for s in stmts {
            match s {
                Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
                    args.iter().for_each(|a| count_op(a, uses))
                }
                Stmt::Target { value, .. } => count_op(value, uses),
                Stmt::Density { value, args, .. } => {
                    count_aexpr(value, uses);
                    args.iter().for_each(|a| count_op(a, uses));
                }
                Stmt::Let { init, .. } => count_aexpr(init, uses),
                Stmt::Data(_) | Stmt::At(_) => {}
                Stmt::For { body, carried, .. } => {
                    count(body, uses);
                    for c in carried {
                        *uses.entry(c.outer.id).or_default() += 1;
                    }
                }
                Stmt::If {
                    then, els, joined, ..
                } => {
                    count(then, uses);
                    count(els, uses);
                    for j in joined {
                        *uses.entry(j.then_last.id).or_default() += 1;
                        *uses.entry(j.else_last.id).or_default() += 1;
                    }
                }
            }
        }
    }
    let mut uses = HashMap::new();
    count(body, &mut uses);
    let mut links: HashMap<BindingId, BindingId> = HashMap::new();
    for s in body {
        if let Stmt::Let {
            binding,
            init: AExpr::Binary(Binary::Add | Binary::Sub, a, _, _),
            ..
        } = s
        {
            if let AExpr::Var(v) = &**a {
                links.insert(v.id, binding.id);
            }
        }
    }
    carried
        .iter()
        .map(|c| {
            let mut v = c.entry.id;
            let mut steps = 0;
            while v != c.last.id {
                if uses.get(&v).copied().unwrap_or(0) != 1 || steps > body.len() {
                    return false;
                }
                match links.get(&v) {
                    Some(&next) => v = next,
                    None => return false,
                }
                steps += 1;
            }
            steps > 0 && uses.get(&c.last.id).copied().unwrap_or(0) == 0
        })
        .collect()
}
