// Longer than 800 lines: one `impl Emitter` over the statement kinds (latent, observe, let,
// assignment, `for`, `if`, `target +=`), each arm next to the sweep the gradient emits right
// after it; the reverse sweep of blocks is in reverse.rs.
//! The statements of a body, forward: each statement's lowering, kernel calls, latent
//! reads, and in the gradient the sweep of a statement right after it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use std::collections::HashSet;

use super::lower::{gname, span_of, uname, vname, Lowering, V};
use super::pass::{Mode, Pass};
use super::reverse::accumulators;
use super::{writes_in_place, Emitter};
use crate::ir::{BindingId, Blocks, Carried, Constraint, Latent, Operand, Shape, Stmt};

impl Emitter<'_> {
    /// A block: forward code, and in gradient mode the deferred sweeps at its end.
    pub(super) fn block(&self, stmts: &[Stmt], m: Mode) -> TokenStream {
        let mut out = TokenStream::new();
        let mut deferred: Vec<TokenStream> = Vec::new();
        for s in stmts {
            out.extend(self.stmt(s, m, &mut deferred));
        }
        for d in deferred.into_iter().rev() {
            out.extend(d);
        }
        if m.pass.adjoints() {
            // Swept: the values of the block's `let`s and their adjoints are done with.
            out.extend(self.recycle_lets(stmts, true));
        }
        out
    }

    /// Hands the storage of the values of the `let`s of a block (with `adjoints`, of their
    /// adjoints too) back to the pool, at the end of the block. Not state written in place
    /// (its log refers to it) nor versions a loop or `if` carries (they are moved), which are
    /// not plain `let`s of the block.
    pub(super) fn recycle_lets(&self, stmts: &[Stmt], adjoints: bool) -> TokenStream {
        self.recycle_lets_but(stmts, adjoints, &HashSet::new())
    }

    /// What a loop iteration is done with at its end: the entry versions of the state the
    /// body replaced (saved values or stand-ins in the sweep), and the body's `let`s (with
    /// `adjoints`, theirs too) but those in `keep`.
    pub(super) fn iteration_done(
        &self,
        body: &[Stmt],
        carried: &[Carried],
        adjoints: bool,
        keep: &HashSet<BindingId>,
    ) -> TokenStream {
        let entries = carried
            .iter()
            .filter(|c| c.entry.id != c.last.id)
            .map(|c| vname(&c.entry));
        let mut out = super::lower::recycle(entries);
        out.extend(self.recycle_lets_but(body, adjoints, keep));
        out
    }

    /// [`Emitter::recycle_lets`] but for the bindings in `keep` (moved elsewhere).
    pub(super) fn recycle_lets_but(
        &self,
        stmts: &[Stmt],
        adjoints: bool,
        keep: &HashSet<BindingId>,
    ) -> TokenStream {
        let names = stmts.iter().filter_map(|s| match s {
            Stmt::Let { binding, init, .. }
                if !writes_in_place(binding, init)
                    && !self.groups.contains_key(&binding.id)
                    && !keep.contains(&binding.id)
                    && !self.layer_fused_let(binding.id) =>
            {
                Some(if adjoints {
                    vec![vname(binding), gname(binding)]
                } else {
                    vec![vname(binding)]
                })
            }
            // A loop's exit versions, unless a loop or `if` around moves them on.
            Stmt::For { carried, .. } => Some(
                carried
                    .iter()
                    .filter(|c| {
                        !self.groups.contains_key(&c.exit.id)
                            && !keep.contains(&c.exit.id)
                            && !self.moved.contains(&c.exit.id)
                    })
                    // (Their adjoints are moved into the loop's sweep.)
                    .map(|c| vname(&c.exit))
                    .collect(),
            ),
            _ => None,
        });
        super::lower::recycle(names.flatten())
    }

    pub(super) fn stmt(&self, s: &Stmt, m: Mode, deferred: &mut Vec<TokenStream>) -> TokenStream {
        let code = self.stmt_code(s, m, deferred);
        // The constructor's run records which statement it is in, so that a panic in the
        // model's code (an index past the data) is reported with the statement.
        let src = match s {
            Stmt::Latent { src, .. }
            | Stmt::Observe { src, .. }
            | Stmt::Target { src, .. }
            | Stmt::Let { src, .. }
            | Stmt::At(src) => Some(*src),
            _ => None,
        };
        match src {
            Some(k) if m.pass == Pass::Build => quote!(::vi::__private::at_statement(#k); #code),
            _ => code,
        }
    }

    fn stmt_code(&self, s: &Stmt, m: Mode, deferred: &mut Vec<TokenStream>) -> TokenStream {
        match s {
            Stmt::Data(ts) => ts.clone(),
            Stmt::At(_) => quote!(),
            Stmt::Latent {
                latent,
                dist,
                args,
                src,
            } => {
                let l = &self.m.latents[*latent];
                if let Some(mi) = crate::catalogue::multi_of(dist) {
                    return self.multi_latent(*latent, l, dist, mi, args, *src, m);
                }
                let read = self.read_latent(*latent, l, *src, m, None);
                let kernel =
                    if m.pass.simulates() || dist.support == crate::catalogue::Support::Flat {
                        quote!()
                    } else {
                        self.kernel(*src, First::Latent(&l.binding), dist, args, m, true)
                    };
                quote!(#read #kernel)
            }
            Stmt::Observe {
                lhs,
                dist,
                args,
                src,
                obs,
            } => {
                if m.pass == Pass::Derive {
                    return quote!();
                }
                if let Some(mi) = crate::catalogue::multi_of(dist) {
                    return self.multi_observe(lhs, dist, mi, args, *src, *obs, m);
                }
                if m.pass.simulates() {
                    return self.sample(*src, lhs, dist, args, *obs);
                }
                // The output of a hidden tanh layer: one pass over the rows (tanh_layer.rs).
                if let Some(fused) = self.layer_observe(*src, lhs, dist, args, m) {
                    return fused;
                }
                // `y ~ Normal(x * w + b, sigma)` on a data matrix: one pass over `x` (glm.rs).
                if let Some(fused) = self.glm_observe(*src, lhs, dist, args, m) {
                    return fused;
                }
                self.kernel(
                    *src,
                    First::Data(lhs),
                    dist,
                    args,
                    m,
                    m.pass.density() || m.pass.adjoints(),
                )
            }
            Stmt::Density {
                value,
                dist,
                args,
                src,
            } => {
                if m.pass.simulates() {
                    return quote!();
                }
                self.kernel(*src, First::Active(value), dist, args, m, true)
            }
            Stmt::Target { value, src } => self.target(*src, value, m),
            Stmt::Let {
                binding,
                ty,
                init,
                src,
            } => {
                // A hidden layer the fused observation computes itself (tanh_layer.rs).
                if self.layer_skips_let(binding.id, m) {
                    return quote!();
                }
                let in_place = writes_in_place(binding, init);
                let mut low = self.lowering(*src);
                if !m.pass.saves() {
                    low.without_partials();
                }
                if in_place {
                    low.write_mode(self.write_mode(binding.id, m));
                }
                low.lower(init, Some(binding));
                let mut fwd = low.forward();
                if m.pass == Pass::Build {
                    fwd.extend(low.density_checks(&self.m.srcs[*src]));
                }
                let v = vname(binding);
                let g = gname(binding);
                let ty_check = ty
                    .as_ref()
                    .map(|t| quote_spanned!(span_of_ty(t)=> let _: &#t = &#v;));
                let mut adj = if m.pass.saves() && !in_place {
                    quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
                } else {
                    quote!()
                };
                if !in_place && self.groups.contains_key(&binding.id) {
                    // The root of state written in place (`let mut` or whole assignment): the
                    // one vector, its adjoint and, when a sweep follows, its undo log.
                    let u = uname(binding);
                    adj = if m.pass.saves() {
                        quote!(let mut #v = #v; #adj let mut #u = ::vi::__private::Undo::new();)
                    } else {
                        quote!(let mut #v = #v;)
                    };
                }
                if m.pass.adjoints() {
                    let adjs = low.adjoints();
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    deferred.push(quote!(#adjs #rev #done));
                }
                // Without a sweep to come, the temporaries are done with once the value is.
                let done = if m.pass.saves() {
                    quote!()
                } else {
                    low.recycle_temps(false)
                };
                let keep = self.keep_after(binding, m);
                quote!(#fwd #ty_check #adj #done #keep)
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
                    if m.pass.adjoints() {
                        let b = self.block(body, m);
                        return quote!(for #pat in #iter_t { #b });
                    }
                    if m.pass.saves() && !m.pass.density() && data_carried.is_empty() {
                        // Recomputing a loop whose only effects are density terms: nothing to do.
                        return quote!();
                    }
                    let b = self.block(body, m.forward_only().plain_in(*src));
                    return quote!(for #pat in #iter_t { #b });
                }
                let save = m.pass.saves();
                let fwd =
                    self.carried_forward(*src, pat, &iter_t, body, carried, data_carried, m, save);
                if m.pass.adjoints() {
                    deferred.push(self.replay(*src, pat, &iter_t, body, carried, data_carried));
                }
                fwd
            }
            Stmt::If {
                cond,
                then,
                els,
                joined,
                src,
            } => {
                let c = format_ident!("__c{}", src);
                let cond_t = quote_spanned!(span_of(cond)=> #cond);
                let save_cond = quote!(let #c: bool = #cond_t;);
                if joined.is_empty() {
                    let inner = if m.pass.adjoints() {
                        m
                    } else {
                        m.forward_only().plain_in(*src)
                    };
                    let t = self.block(then, inner);
                    let e = self.block(els, inner);
                    return quote!(#save_cond if #c { #t } else { #e });
                }
                let inner = m.forward_only().plain_in(*src);
                let t = self.block(then, inner);
                let e = self.block(els, inner);
                let (written, kept) = self.split_joined(joined);
                // Where the undo logs of state written in place stand before the branch.
                let marks = if m.pass.saves() && !written.is_empty() {
                    let mk = format_ident!("__mk{}", src);
                    let us = written.iter().map(uname);
                    quote!(let #mk = (#(#us.mark(),)*);)
                } else {
                    quote!()
                };
                let exits: Vec<Ident> = kept.iter().map(|j| vname(&j.exit)).collect();
                let then_lasts = kept.iter().map(|j| {
                    let v = vname(&j.then_last);
                    quote!(::core::clone::Clone::clone(&#v))
                });
                let else_lasts = kept.iter().map(|j| {
                    let v = vname(&j.else_last);
                    quote!(::core::clone::Clone::clone(&#v))
                });
                let adjs = if m.pass.saves() {
                    let gs = kept.iter().map(|j| {
                        let (v, g) = (vname(&j.exit), gname(&j.exit));
                        quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
                    });
                    quote!(#(#gs)*)
                } else {
                    quote!()
                };
                if m.pass.adjoints() {
                    deferred.push(self.if_sweep(&c, *src, then, els, joined));
                }
                quote! {
                    #save_cond
                    #marks
                    let (#(#exits,)*) = if #c { #t (#(#then_lasts,)*) } else { #e (#(#else_lasts,)*) };
                    #adjs
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn carried_forward(
        &self,
        src: usize,
        pat: &syn::Pat,
        iter: &TokenStream,
        body: &[Stmt],
        carried: &[Carried],
        data_carried: &[Ident],
        m: Mode,
        save: bool,
    ) -> TokenStream {
        let (written, carried) = self.split_carried(carried);
        let carried = &carried[..];
        let saves = format_ident!("__save{}", src);
        let carriers: Vec<Ident> = carried
            .iter()
            .map(|c| format_ident!("__cv{}", c.entry.id))
            .collect();
        // The carrier holds the state between iterations: a pooled copy of the value before
        // the loop, moved into each iteration's entry version and replaced by its last.
        let init = carried.iter().zip(&carriers).map(|(c, cv)| {
            let o = vname(&c.outer);
            quote!(let mut #cv = ::vi::__private::copy_of(&#o);)
        });
        let entry = carried.iter().zip(&carriers).map(|(c, cv)| {
            let e = vname(&c.entry);
            quote!(let #e = #cv;)
        });
        let back = carried.iter().zip(&carriers).map(|(c, cv)| {
            let l = vname(&c.last);
            quote!(#cv = #l;)
        });
        // The last versions are moved into the carriers.
        let lasts: HashSet<BindingId> = carried.iter().map(|c| c.last.id).collect();
        let done = self.iteration_done(body, carried, false, &lasts);
        let exit = carried.iter().zip(&carriers).map(|(c, cv)| {
            let x = vname(&c.exit);
            quote!(let #x = #cv;)
        });
        let body_mode = m.forward_only().plain_in(src);
        let b = self.block(body, body_mode);
        let acc_flags = accumulators(body, carried);
        let saved: Vec<&Ident> = carriers
            .iter()
            .zip(&acc_flags)
            .filter(|(_, a)| !**a)
            .map(|(c, _)| c)
            .collect();
        // State written in place is not copied: where its undo log stands at each iteration.
        let marks = written.iter().map(|b| {
            let u = uname(b);
            quote!(#u.mark())
        });
        let needs_saves = !saved.is_empty() || !data_carried.is_empty() || !written.is_empty();
        let it = format_ident!("__it{}", src);
        let (decl_saves, push, adjs) = if save {
            let adjs = carried.iter().map(|c| {
                let (v, g) = (vname(&c.exit), gname(&c.exit));
                quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
            });
            if needs_saves {
                (
                    // One allocation, of the iterator's length, rather than one per doubling.
                    quote!(let mut #saves = ::std::vec::Vec::with_capacity(::core::iter::Iterator::size_hint(&#it).0);),
                    quote!(#saves.push(((#(::core::clone::Clone::clone(&#saved),)*), (#(::core::clone::Clone::clone(&#data_carried),)*), (#(#marks,)*)));),
                    quote!(#(#adjs)*),
                )
            } else {
                (quote!(), quote!(), quote!(#(#adjs)*))
            }
        } else {
            (quote!(), quote!(), quote!())
        };
        quote! {
            #(#init)*
            let #it = ::core::iter::IntoIterator::into_iter(#iter);
            #decl_saves
            for #pat in #it {
                #push
                #(#entry)*
                #b
                #(#back)*
                #done
            }
            #(#exit)*
            #adjs
        }
    }

    /// The type of a latent's value.
    pub(super) fn latent_ty(l: &Latent) -> TokenStream {
        match &l.shape {
            Shape::Scalar => quote!(f64),
            Shape::Vector(_)
            | Shape::Multi {
                rows: None,
                matrix: false,
                ..
            } => quote!(::vi::__private::nalgebra::DVector<f64>),
            Shape::Matrix(..) | Shape::Multi { .. } => {
                quote!(::vi::__private::nalgebra::DMatrix<f64>)
            }
        }
    }

    /// Reads latent `k` (declared by statement `src`): in the constructor's run, adds it to
    /// the layout. `dim` is `K` of a multivariate prior's draw (an expression of the
    /// statement's operands, already computed).
    pub(super) fn read_latent(
        &self,
        k: usize,
        l: &Latent,
        src: usize,
        m: Mode,
        dim: Option<TokenStream>,
    ) -> TokenStream {
        let v = vname(&l.binding);
        let g = gname(&l.binding);
        let ty = Self::latent_ty(l);
        let name = l.binding.name.to_string();
        let stmt = &self.m.srcs[src];
        let read = if m.pass == Pass::Build {
            let shape = match &l.shape {
                Shape::Scalar => quote!(::std::vec::Vec::new()),
                Shape::Vector(n) => {
                    let n = quote_spanned!(span_of(n)=> ::vi::__private::size(#n, #src, #name)?);
                    quote!(::std::vec![#n])
                }
                Shape::Matrix(r, c) => {
                    let r = quote_spanned!(span_of(r)=> ::vi::__private::size(#r, #src, #name)?);
                    let c = quote_spanned!(span_of(c)=> ::vi::__private::size(#c, #src, #name)?);
                    quote!(::std::vec![#r, #c])
                }
                Shape::Multi { rows, matrix, .. } => {
                    let kk = dim.clone().unwrap_or_else(|| quote!(0usize));
                    match (rows, matrix) {
                        (_, true) => quote!(::std::vec![#kk, #kk]),
                        (None, false) => quote!(::std::vec![#kk]),
                        (Some(j), false) => {
                            let j = quote_spanned!(span_of(j)=> ::vi::__private::len(#j));
                            quote!(::std::vec![#j, #kk])
                        }
                    }
                }
            };
            let bound = |e: &Option<Box<syn::Expr>>| match e {
                Some(e) => {
                    let s = span_of(e);
                    quote_spanned!(s=> ::core::option::Option::Some(::vi::__private::bound(&(#e))))
                }
                None => quote!(::core::option::Option::None),
            };
            let tr = match &l.constraint {
                Constraint::Identity => quote!(::vi::__private::Transform::Identity),
                Constraint::Positive => quote!(::vi::__private::Transform::LowerBound(0.0)),
                Constraint::Unit => quote!(::vi::__private::Transform::Interval(0.0, 1.0)),
                Constraint::Interval(a, b) => {
                    let (sa, sb) = (span_of(a), span_of(b));
                    let a = quote_spanned!(sa=> ::vi::__private::bound(&(#a)));
                    let b = quote_spanned!(sb=> ::vi::__private::bound(&(#b)));
                    quote!(::vi::__private::Transform::Interval(#a, #b))
                }
                Constraint::Bounded(a, b) => {
                    let (a, b) = (bound(a), bound(b));
                    quote!(::vi::__private::bounded(#stmt, #a, #b)?)
                }
                Constraint::Blocks(b) => {
                    let t = format_ident!("{}", b.transform());
                    // An ordered vector's length is the last side of its shape.
                    let kk = match (b, &l.shape) {
                        (Blocks::Ordered | Blocks::PositiveOrdered, _) => {
                            quote!(*__shape.last().unwrap_or(&0))
                        }
                        _ => dim.clone().unwrap_or_else(|| quote!(0usize)),
                    };
                    return {
                        let adj = if m.pass.adjoints() {
                            quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
                        } else {
                            quote!()
                        };
                        quote! {
                            let #v: #ty = {
                                let __shape: ::std::vec::Vec<usize> = #shape;
                                let __t = ::vi::__private::VectorTransform::#t(#kk);
                                ::vi::__private::build_blocks::<#ty>(#stmt, &mut __layout, #name, __shape, __t)?
                            };
                            #adj
                        }
                    };
                }
            };
            quote!(<#ty as ::vi::__private::Latent>::build(&mut __layout, #name, #shape, #tr))
        } else if m.pass.simulates() {
            quote!(<#ty as ::vi::__private::Latent>::read_constrained(constrained, &__params[#k]))
        } else if m.pass == Pass::Terms {
            quote!(<#ty as ::vi::__private::Latent>::read(theta, &__params[#k], &mut __terms[#src], jacobian))
        } else {
            quote!(<#ty as ::vi::__private::Latent>::read(theta, &__params[#k], &mut __lp, jacobian))
        };
        let adj = if m.pass.adjoints() {
            quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
        } else {
            quote!()
        };
        quote!(let #v: #ty = #read; #adj)
    }

    /// Lowers a distribution statement's operands: the value first, then the arguments.
    pub(super) fn kernel_operands(
        &self,
        src: usize,
        first: First<'_>,
        args: &[Operand],
    ) -> (Lowering, Vec<V>) {
        let mut low = self.lowering(src);
        let mut vals = Vec::new();
        match first {
            First::Latent(b) => vals.push(V::Var(b.clone())),
            First::Data(e) => vals.push(low.data(e)),
            First::Active(x) => vals.push(low.lower(x, None)),
        }
        for a in args {
            vals.push(match a {
                Operand::Data(e) => low.data(e),
                Operand::Active(x) => low.lower(x, None),
            });
        }
        low.distinct_kernel(&mut vals);
        (low, vals)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn kernel(
        &self,
        src: usize,
        first: First<'_>,
        dist: &crate::catalogue::DistInfo,
        args: &[Operand],
        m: Mode,
        call: bool,
    ) -> TokenStream {
        // A statement of a vectorised loop, in the gradient: one loop over the lanes.
        if let Some(code) = self.fused_kernel(src, first, dist, args, m) {
            return code;
        }
        let latent = matches!(first, First::Latent(_));
        let (low, vals) = self.kernel_operands(src, first, args);
        let fwd = low.forward();
        let lp = format_ident!("__lp{}", src);
        let mut out = quote!(#fwd);
        if m.pass == Pass::Build {
            out.extend(self.check(src, dist, &vals, latent));
        }
        if !call && !m.pass.adjoints() {
            return out;
        }
        if m.pass.adjoints() {
            let adjs = low.adjoints();
            let c = kernel_dispatch(src, dist, &vals, true);
            let rev = low.reverse();
            let acc = if m.pass.density() {
                quote!(__lp += #lp;)
            } else {
                quote!()
            };
            let done = low.recycle_temps(true);
            out.extend(quote!(#adjs let #lp = #c; #acc #rev #done));
        } else {
            let c = kernel_dispatch(src, dist, &vals, false);
            let acc = term_acc(src, &lp, m);
            let done = if m.pass.saves() {
                quote!()
            } else {
                low.recycle_temps(false)
            };
            out.extend(quote!(let #lp = #c; #acc #done));
        }
        out
    }

    pub(super) fn check(
        &self,
        src: usize,
        dist: &crate::catalogue::DistInfo,
        vals: &[V],
        latent: bool,
    ) -> TokenStream {
        let module = format_ident!("{}", dist.module);
        let stmt = &self.m.srcs[src];
        let opts = vals.iter().enumerate().map(|(i, v)| match v {
            V::Data(..) | V::Value(_) if !(latent && i == 0) => {
                let f = v.flat();
                quote!(::core::option::Option::Some(#f))
            }
            // A whole-vector parameter that depends on a latent (Categorical's `theta`,
            // OrderedLogistic's cutpoints) is checked at the constructor's point too: its
            // length bounds the observed categories, and a `theta` that is not a simplex
            // there is a mistake in the model, named now rather than a -inf density later.
            V::Var(_) | V::Temp(..) if i > 0 && dist.whole_vectors().contains(&(i - 1)) => {
                let f = v.flat();
                quote!(::core::option::Option::Some(&*#f))
            }
            _ => quote!(::core::option::Option::None),
        });
        let lens = vals.iter().enumerate().map(|(i, v)| {
            // A whole-vector parameter (Categorical's `theta`) does not broadcast.
            if i > 0 && dist.whole_vectors().contains(&(i - 1)) {
                return quote!(1usize);
            }
            let f = v.flat();
            quote!((#f).len())
        });
        let names = self.arg_names(src, vals.len(), dist);
        let mut checked = quote!(::vi::__private::dist::#module::check(#(#opts),*));
        // A statement of a vectorised loop: an element's index is the loop's.
        if let Some((_, r, lanes)) = self.m.lane_stmts.iter().find(|(s, ..)| *s == src) {
            checked = quote!(::vi::__private::lane_check(#checked, &#r, &[#(#lanes),*]));
        }
        quote! {
            ::vi::__private::check_statement(
                #stmt,
                &[#(#names),*],
                &[#(#lens),*],
                #checked,
            )?;
        }
    }

    /// The user's text of each operand of statement `src` (the value first).
    pub(super) fn arg_names(
        &self,
        src: usize,
        n: usize,
        dist: &crate::catalogue::DistInfo,
    ) -> Vec<String> {
        let text = &self.m.srcs[src];
        let mut names = Vec::with_capacity(n);
        // Split "lhs ~ Dist(a, b)" at the top level.
        let (lhs, rest) = text.split_once(" ~ ").unwrap_or((text.as_str(), ""));
        let lhs = lhs.trim_start_matches("let ").trim();
        names.push(lhs.to_string());
        let inner = rest
            .find('(')
            .map(|i| &rest[i + 1..])
            .and_then(|s| s.rfind(')').map(|j| &s[..j]))
            .unwrap_or("");
        let mut depth = 0i32;
        let mut cur = String::new();
        let mut parts = Vec::new();
        for ch in inner.chars() {
            match ch {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(cur.trim().to_string());
                    cur.clear();
                    continue;
                }
                _ => {}
            }
            cur.push(ch);
        }
        if !cur.trim().is_empty() {
            parts.push(cur.trim().to_string());
        }
        for k in 0..n.saturating_sub(1) {
            names.push(
                parts
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| dist.params.get(k).copied().unwrap_or("?").to_string()),
            );
        }
        names
    }

    pub(super) fn sample(
        &self,
        src: usize,
        lhs: &syn::Expr,
        dist: &crate::catalogue::DistInfo,
        args: &[Operand],
        obs: usize,
    ) -> TokenStream {
        let (low, vals) = self.kernel_operands(src, First::Data(lhs), args);
        let fwd = low.forward();
        let module = format_ident!("{}", dist.module);
        let n = vals[0].flat();
        let params = vals[1..].iter().map(|v| v.flat());
        quote! {
            #fwd
            let __n = (#n).len();
            let __draws = ::vi::__private::dist::#module::sample(__rng, #(#params,)* __n);
            __sims[#obs].extend(__draws);
        }
    }

    pub(super) fn target(&self, src: usize, value: &Operand, m: Mode) -> TokenStream {
        let acc = |v: TokenStream| match m.pass {
            Pass::Terms => quote!(__terms[#src] += #v;),
            Pass::Density | Pass::Build | Pass::Gradient => quote!(__lp += #v;),
            _ => quote!(),
        };
        if m.pass.simulates() {
            return quote!();
        }
        match value {
            Operand::Data(e) => {
                let span = span_of(e);
                let v = quote_spanned!(span=> { let __t: f64 = #e; __t });
                acc(v)
            }
            Operand::Active(a) => {
                let mut low = self.lowering(src);
                if !m.pass.saves() {
                    low.without_partials();
                }
                let v = low.lower(a, None);
                let mut fwd = low.forward();
                if m.pass == Pass::Build {
                    fwd.extend(low.density_checks(&self.m.srcs[src]));
                }
                let val = match &v {
                    V::Var(b) => {
                        let x = vname(b);
                        quote!(#x)
                    }
                    V::Temp(t, _) | V::Value(t) => quote!(#t),
                    V::Data(d, _) => quote!(*#d),
                };
                let add = acc(quote!({ let __t: f64 = #val; __t }));
                if m.pass.adjoints() {
                    let adjs = low.adjoints();
                    let seed = seed_one(&v);
                    let rev = low.reverse();
                    quote!(#fwd #add #adjs #seed #rev)
                } else {
                    quote!(#fwd #add)
                }
            }
        }
    }
}

/// The value of a distribution statement, the kernel's first operand.
#[derive(Clone, Copy)]
pub(super) enum First<'a> {
    /// A latent's prior: the latent.
    Latent(&'a crate::ir::Binding),
    /// An observation: the data.
    Data(&'a syn::Expr),
    /// `~` on a latent's expression: the expression, differentiated.
    Active(&'a crate::ir::AExpr),
}

/// Where a statement's term `lp` goes in a body without a sweep: its slot of `__terms` in
/// the terms body, `__lp` where the body sums the density, nowhere otherwise.
pub(super) fn term_acc(src: usize, lp: &Ident, m: Mode) -> TokenStream {
    match m.pass {
        Pass::Terms => quote!(__terms[#src] += #lp;),
        Pass::Density | Pass::Build | Pass::Gradient => quote!(__lp += #lp;),
        _ => quote!(),
    }
}

pub(super) fn seed_one(v: &V) -> TokenStream {
    match v.grad() {
        Some(g) => quote!(#g += 1.0;),
        None => quote!(),
    }
}

/// A distribution statement's kernel call, by method dispatch on its operands (see
/// `__private::Ops3`): when all are numbers, the inlined scalar kernel; otherwise the
/// vectorised one. Either way through the statement's memo `__k{src}`.
pub(super) fn kernel_dispatch(
    src: usize,
    dist: &crate::catalogue::DistInfo,
    vals: &[V],
    grads: bool,
) -> TokenStream {
    if dist.slice_kernel() {
        // A whole-vector parameter: the module's kernel on flat slices, no memo.
        let module = format_ident!("{}", dist.module);
        let xs = vals.iter().map(|v| match v {
            V::Data(d, span) => quote_spanned!(*span=> &*::vi::__private::ad::to_f64s(#d)),
            v => {
                let x = v.arg();
                quote!(&*::vi::__private::ad::to_f64s(#x))
            }
        });
        let gs = vals.iter().map(|v| match v.grad() {
            Some(g) if grads => {
                quote!(::core::option::Option::Some(::vi::__private::ad::flat_mut(&mut #g)))
            }
            _ => quote!(::core::option::Option::None),
        });
        return quote!(::vi::__private::dist::#module::lpdf(#(#xs,)* #(#gs),*));
    }
    let n = vals.len();
    let ops = format_ident!("Ops{}", n);
    let sc = format_ident!("ScalarKernel{}", n);
    let sl = format_ident!("SliceKernel{}", n);
    let k = format_ident!("__k{}", src);
    let args = vals.iter().map(|v| match v {
        V::Var(b) => {
            let v = vname(b);
            quote!(&#v)
        }
        V::Temp(t, _) | V::Value(t) => quote!(&#t),
        V::Data(d, span) => quote_spanned!(*span=> ::vi::__private::obs(#d)),
    });
    let gs = vals.iter().map(|v| match v.grad() {
        Some(g) if grads => quote!(::core::option::Option::Some(&mut #g)),
        _ => quote!(::core::option::Option::None::<&mut f64>),
    });
    quote!({
        use ::vi::__private::{#sc as _, #sl as _};
        (&::vi::__private::#ops(#(#args),*)).lpdf(&mut #k, #(#gs),*)
    })
}

pub(super) fn span_of_ty(t: &syn::Type) -> Span {
    use quote::ToTokens;
    t.to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}
