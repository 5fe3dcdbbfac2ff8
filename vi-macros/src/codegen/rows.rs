//! Data subsampling (`Vi::stochastic().minibatch(b)`): which arguments hold the
//! observations' rows, so that `Model::subsample` can rebuild the model on a subset of them,
//! or why the model's observations cannot be split into rows.
//!
//! The plan is made on the analysed model before hoisting and vectorising, from the
//! statements as written. Observations qualify when each is
//! - a whole-vector statement at the top level observing an argument (`y ~ Normal(x * w +
//!   b, sigma)`), or
//! - `a[i] ~ ..` inside a top-level `for i in 0..E` that carries no state from one
//!   iteration to the next and reads the arguments only at row `i` (`y[i]`, `x[(i, j)]`,
//!   `x.row(i)`); an argument `E` (`for i in 0..n`) is set to the batch's size and may
//!   appear nowhere else.
//!
//! At run time every argument whose leading dimension is the observations' number of rows
//! is gathered (a data `let` may stand between an argument and the observation), the rest
//! kept whole. The
//! runtime then checks, once, that the log density on all the rows equals the sum over a
//! partition of them (`vi_runtime::infer::minibatch`), which catches what the tokens do not
//! show (a mean of a column computed inside the model, per-row latents).

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{Expr, Ident, Pat};

use crate::ir::{walk, Model, Stmt, Stored};

/// What `plan` found.
pub enum Plan {
    /// The observations are rows.
    Rows {
        /// The observed arguments (their leading dimension is the number of rows).
        observed: Vec<Ident>,
        /// Arguments read by the observations' statements.
        row_args: BTreeSet<String>,
        /// Arguments that are a row loop's length.
        counts: BTreeSet<String>,
    },
    /// Why not, in words.
    Refused(String),
}

/// The plan of `m`'s observations (see the module's documentation).
pub fn plan(m: &Model) -> Plan {
    match rows(m) {
        Ok(p) => p,
        Err(why) => Plan::Refused(why),
    }
}

fn arg_names(m: &Model) -> BTreeSet<String> {
    m.args.iter().map(|a| a.name.to_string()).collect()
}

/// The tokens of a statement as written.
fn tokens(m: &Model, s: &Stmt) -> TokenStream {
    let src = match s {
        Stmt::Data(ts) => return ts.clone(),
        Stmt::Latent { src, .. }
        | Stmt::Observe { src, .. }
        | Stmt::Density { src, .. }
        | Stmt::Target { src, .. }
        | Stmt::Let { src, .. }
        | Stmt::For { src, .. }
        | Stmt::If { src, .. }
        | Stmt::At(src) => *src,
    };
    m.srcs
        .get(src)
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

/// Every identifier in `ts`, nested groups included.
fn idents(ts: TokenStream, out: &mut Vec<String>) {
    for t in ts {
        match t {
            TokenTree::Ident(i) => out.push(i.to_string()),
            TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The first `arg[..]` in `ts` whose index is not row `i` (`[i]`, `[(i, ..)]`).
fn other_row(ts: TokenStream, args: &BTreeSet<String>, i: &str) -> Option<String> {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    for (k, t) in toks.iter().enumerate() {
        match t {
            TokenTree::Ident(a) if args.contains(&a.to_string()) => {
                if let Some(TokenTree::Group(g)) = toks.get(k + 1) {
                    if g.delimiter() == Delimiter::Bracket && !at_row(g.stream(), i) {
                        return Some(format!("{a}[{}]", g.stream()));
                    }
                }
            }
            TokenTree::Group(g) => {
                if let Some(bad) = other_row(g.stream(), args, i) {
                    return Some(bad);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether an index is `i` or a tuple starting with `i`.
fn at_row(index: TokenStream, i: &str) -> bool {
    let toks: Vec<TokenTree> = index.into_iter().collect();
    match toks.as_slice() {
        [TokenTree::Ident(v)] => v == i,
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::Parenthesis => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            matches!(inner.as_slice(), [TokenTree::Ident(v), TokenTree::Punct(p), ..]
                if v == i && p.as_char() == ',')
        }
        _ => false,
    }
}

/// The argument an expression names, if it is one.
fn arg_of(e: &Expr, args: &BTreeSet<String>) -> Option<Ident> {
    match e {
        Expr::Path(p) => p
            .path
            .get_ident()
            .filter(|i| args.contains(&i.to_string()))
            .cloned(),
        Expr::Paren(p) => arg_of(&p.expr, args),
        _ => None,
    }
}

fn has_observe(stmts: &[Stmt]) -> bool {
    let mut found = false;
    walk(stmts, &mut |s| found |= matches!(s, Stmt::Observe { .. }));
    found
}

fn rows(m: &Model) -> Result<Plan, String> {
    let args = arg_names(m);
    let copies: BTreeSet<String> = m
        .args
        .iter()
        .filter(|a| matches!(a.stored, Stored::Copy))
        .map(|a| a.name.to_string())
        .collect();
    let mut observed: Vec<Ident> = Vec::new();
    let mut row_args = BTreeSet::new();
    let mut counts = BTreeSet::new();
    let mut bounds = 0usize;
    let multivariate = |dist: &crate::catalogue::DistInfo| {
        crate::catalogue::multi_of(dist).is_some() || dist.support.multivariate()
    };
    for s in &m.body {
        match s {
            Stmt::Observe { lhs, dist, src, .. } => {
                let text = &m.srcs[*src];
                if multivariate(dist) {
                    return Err(format!(
                        "`{text}` observes a multivariate distribution, whose rows the \
                         minibatch does not split"
                    ));
                }
                let Some(y) = arg_of(lhs, &args) else {
                    return Err(format!(
                        "`{text}` observes an expression, not one of the model's arguments"
                    ));
                };
                observed.push(y);
            }
            Stmt::For {
                pat,
                iter,
                body,
                carried,
                data_carried,
                src,
            } if has_observe(body) => {
                let head = &m.srcs[*src];
                let Pat::Ident(p) = pat else {
                    return Err(format!("`{head}`: a loop over rows binds one index"));
                };
                let i = p.ident.to_string();
                let Expr::Range(r) = iter else {
                    return Err(format!("`{head}`: a loop over rows runs over `0..n`"));
                };
                let zero = matches!(r.start.as_deref(),
                    Some(Expr::Lit(l)) if quote!(#l).to_string() == "0");
                let half_open = matches!(r.limits, syn::RangeLimits::HalfOpen(_));
                let (true, true, Some(end)) = (zero, half_open, r.end.as_deref()) else {
                    return Err(format!("`{head}`: a loop over rows runs over `0..n`"));
                };
                if !carried.is_empty() || !data_carried.is_empty() {
                    return Err(format!(
                        "`{head}` carries state from one row to the next (a recursion), so its \
                         rows cannot be taken apart"
                    ));
                }
                if let Some(n) = arg_of(end, &copies) {
                    counts.insert(n.to_string());
                    bounds += 1;
                }
                let mut bad = None;
                let mut nested = false;
                for st in body {
                    if matches!(st, Stmt::For { body, .. } if has_observe(body)) {
                        nested = true;
                    }
                }
                if nested {
                    return Err(format!("`{head}` observes inside an inner loop"));
                }
                walk(body, &mut |st| {
                    if let Stmt::Observe { lhs, src, .. } = st {
                        let ok = matches!(lhs, Expr::Index(ix)
                            if arg_of(&ix.expr, &args).is_some()
                                && matches!(&*ix.index, Expr::Path(q) if q.path.is_ident(&i)));
                        if !ok && bad.is_none() {
                            bad = Some(format!(
                                "`{}` inside `{head}` observes something other than an \
                                 argument's row `{i}`",
                                m.srcs[*src]
                            ));
                        }
                        if let Stmt::Observe {
                            lhs: Expr::Index(ix),
                            ..
                        } = st
                        {
                            if let Some(y) = arg_of(&ix.expr, &args) {
                                observed.push(y);
                            }
                        }
                    }
                    let ts = tokens(m, st);
                    if bad.is_none() {
                        if let Some(b) = other_row(ts, &args, &i) {
                            bad = Some(format!(
                                "`{b}` inside `{head}` reads another row than row `{i}`"
                            ));
                        }
                    }
                });
                if let Some(b) = bad {
                    return Err(b);
                }
            }
            Stmt::If { then, els, src, .. } if has_observe(then) || has_observe(els) => {
                return Err(format!(
                    "`{}` observes inside an `if` at the top level; only whole-vector \
                     observations and loops over rows can be subsampled",
                    m.srcs[*src]
                ));
            }
            Stmt::For { body, src, .. } if has_observe(body) => {
                return Err(format!("`{}` observes in a loop", m.srcs[*src]));
            }
            _ => {}
        }
    }
    if observed.is_empty() {
        return Err("the model observes no data".into());
    }
    // A row loop's length may appear nowhere but in its bound.
    for n in &counts {
        let mut uses = 0usize;
        walk(&m.body, &mut |s| {
            let mut ids = Vec::new();
            idents(tokens(m, s), &mut ids);
            uses += ids.iter().filter(|i| *i == n).count();
        });
        if uses > bounds {
            return Err(format!(
                "`{n}` is the length of the loop over rows and is also used elsewhere; write \
                 the loop as `for i in 0..y.len()` and use `{n}` only there, or not at all"
            ));
        }
    }
    // Every argument is a candidate: a data `let` (`let xi = x.row(i)`, `let xc = ..`) may
    // stand between an argument and the observation that reads it. Those whose leading
    // dimension is not the observations' are kept whole at run time.
    row_args.extend(args.iter().cloned());
    for n in &counts {
        row_args.remove(n);
    }
    Ok(Plan::Rows {
        observed,
        row_args,
        counts,
    })
}

/// The methods `Model::subsample_rows` and `Model::subsample` call: `__subsample_rows`
/// (the observations' number of rows) and `__subsample` (the model built by its own
/// constructor on rows `__rows` of the row arguments).
pub fn methods(m: &Model, plan: &Plan) -> TokenStream {
    let sname = super::items::struct_name(&m.name);
    let name = &m.name;
    let (observed, row_args, counts) = match plan {
        Plan::Refused(why) => {
            let why = format!("`{name}` cannot be subsampled: {why}");
            return quote! {
                const _: () = {
                    impl #sname {
                        fn __subsample_rows(&self) -> ::core::result::Result<usize, ::std::string::String> {
                            ::core::result::Result::Err(::std::string::ToString::to_string(#why))
                        }
                        fn __subsample(&self, _: &[usize]) -> ::core::result::Result<Self, ::std::string::String> {
                            ::core::result::Result::Err(::std::string::ToString::to_string(#why))
                        }
                    }
                };
            };
        }
        Plan::Rows {
            observed,
            row_args,
            counts,
        } => (observed, row_args, counts),
    };
    let mut seen = BTreeSet::new();
    let observed: Vec<&Ident> = observed
        .iter()
        .filter(|y| seen.insert(y.to_string()))
        .collect();
    let obs_names: Vec<String> = observed.iter().map(|y| y.to_string()).collect();
    let name_s = name.to_string();
    let count_checks = m.args.iter().filter(|a| counts.contains(&a.name.to_string())).map(|a| {
        let n = &a.name;
        let s = n.to_string();
        quote! {
            if ::core::convert::TryInto::<usize>::try_into(self.#n).ok() != ::core::option::Option::Some(__n) {
                return ::core::result::Result::Err(::std::format!(
                    "`{}` cannot be subsampled: the loop over rows runs to `{}` = {:?}, but the \
                     observations have {} rows", #name_s, #s, self.#n, __n));
            }
        }
    });
    let count_checks: Vec<TokenStream> = count_checks.collect();
    let mut lets = Vec::new();
    let mut call = Vec::new();
    for a in &m.args {
        let n = &a.name;
        let s = n.to_string();
        let v = format_ident!("__a_{}", n);
        let is_row = row_args.contains(&s);
        if counts.contains(&s) {
            lets.push(quote! {
                let #v = ::core::convert::TryFrom::try_from(__rows.len()).map_err(|_| {
                    ::std::format!("`{}`: a batch of {} rows does not fit `{}`", #name_s, __rows.len(), #s)
                })?;
            });
            call.push(quote!(#v));
            continue;
        }
        match &a.stored {
            Stored::Copy => call.push(quote!(self.#n)),
            Stored::Ref(_) => {
                if is_row {
                    lets.push(quote! {
                        let #v = (&::vi::__private::RowsOf(&self.#n, #s)).gather_rows(__rows, __n)?;
                    });
                    call.push(quote! {
                        match &#v {
                            ::core::option::Option::Some(v) => ::std::borrow::Borrow::borrow(v),
                            ::core::option::Option::None => ::std::borrow::Borrow::borrow(&self.#n),
                        }
                    });
                } else {
                    call.push(quote!(::std::borrow::Borrow::borrow(&self.#n)));
                }
            }
            Stored::Owned => {
                let gathered = if is_row {
                    quote!((&::vi::__private::RowsOf(&self.#n, #s)).gather_rows(__rows, __n)?)
                } else {
                    quote!(::core::option::Option::None)
                };
                lets.push(quote! {
                    let #v = match #gathered {
                        ::core::option::Option::Some(v) => v,
                        ::core::option::Option::None => (&::vi::__private::RowsOf(&self.#n, #s)).clone_arg()?,
                    };
                });
                call.push(quote!(#v));
            }
        }
    }
    quote! {
        const _: () = {
            #[allow(unused_imports)]
            use ::vi::__private::{GatherRows as _, GatherNone as _, CloneArg as _, CloneNone as _};
            impl #sname {
                fn __subsample_rows(&self) -> ::core::result::Result<usize, ::std::string::String> {
                    let mut __n: ::core::option::Option<usize> = ::core::option::Option::None;
                    #(
                        let __r = (&::vi::__private::RowsOf(&self.#observed, #obs_names)).n_rows()?;
                        match __n {
                            ::core::option::Option::Some(n) if n != __r => {
                                return ::core::result::Result::Err(::std::format!(
                                    "`{}` cannot be subsampled: its observations have different \
                                     numbers of rows ({} and {} in `{}`)", #name_s, n, __r, #obs_names));
                            }
                            _ => __n = ::core::option::Option::Some(__r),
                        }
                    )*
                    let __n = __n.unwrap_or(0);
                    #(#count_checks)*
                    ::core::result::Result::Ok(__n)
                }

                #[allow(clippy::needless_borrow)]
                fn __subsample(&self, __rows: &[usize]) -> ::core::result::Result<Self, ::std::string::String> {
                    let __n = self.__subsample_rows()?;
                    if let ::core::option::Option::Some(r) = __rows.iter().find(|&&r| r >= __n) {
                        return ::core::result::Result::Err(::std::format!(
                            "`{}`: row {} is past the {} rows", #name_s, r, __n));
                    }
                    #(#lets)*
                    #name(#(#call),*).map_err(|e| ::std::format!(
                        "`{}` could not be built on a subset of its rows: {}", #name_s, e))
                }
            }
        };
    }
}
