//! (Longer than 800 lines: about 900 lines of the pass, whose cases (shifted and gathered
//! reads, rows of a matrix, inner loops of a lane's `let`) each need a look at the others,
//! and its tests, about 300 lines. The shapes it reads are in the IR (`shape.rs`).)
//!
//! Loops over observations turned into whole-vector statements: the iterations of
//! `for i in 0..n` become *lanes*, a number per iteration becomes a column with a number
//! per lane, and a row vector per iteration a matrix with a row per lane. The loop
//!
//! ```text
//! for i in 0..x.nrows() {
//!     let mut mu = b;
//!     for j in 0..x.ncols() { mu += x[(i, j)] * w[j]; }
//!     y[i] ~ Normal(mu, sigma);
//! }
//! ```
//!
//! runs as `mu` = a column of `b`s, `mu += x[:, j] * w[j]` for each `j` and one vectorised
//! observation of `y`; `let xi = x.row(i).clone_owned(); dot(tanh(xi * w1 + c), w2)` runs as
//! `tanh(x * w1 + c) * w2`. The density and its gradient are those of the loop (sums in
//! another order); the gradient then costs what the vectorised model's does.
//!
//! A loop is vectorised only when every value in it has a shape the macro can tell and
//! every operation means, lane by lane, what the loop meant; any other loop is left as it
//! is. What it takes:
//! * `for i in lo..hi` over data, carrying no state and writing no data from one iteration
//!   to the next, with no `if` (lane `k` is iteration `lo + k`: an error about an observed
//!   value names its index `i`, see `Model::lane_stmts`);
//! * data read through the loop variable only as `y[i]` or `y[i - k]`, `y[i + k]` (a vector
//!   argument; `k` not depending on `i`: a shifted slice, as an autoregression's lags),
//!   `x[(i, j)]` (a matrix argument, `j` not depending on `i`) or `let xi = x.row(i)`
//!   (optionally `.clone_owned()`), and no other data statement;
//! * a vector made before the loop read as `h[i]`, `h[i - k]` (a segment of `h`: stochastic
//!   volatility's `h[t - 1]`) or `a[g[i]]`, `a[g[i] - c]` (`g` a vector argument of
//!   `usize` codes: one gather, whose backward rule is a scatter-add; radon's
//!   `a[county[i]]`). Each is checked by a data statement emitted before the statement
//!   that uses it (`__private::lane_segment`, `gather_index`), whose error names the
//!   vector, its length, the index and the values of the loop variables, as the loop's
//!   `index_at` would;
//! * each operation one of: elementwise functions and `+ - * / powf powi` of a lane value
//!   with a scalar made before the loop or another lane value of the same kind; a row of
//!   the lanes plus, minus, times or over a row vector made before the loop, times a matrix
//!   made before the loop, or `dot` with a vector made before the loop;
//! * observations `y[i] ~ D(..)` and densities `h[i] ~ D(..)` whose arguments are numbers
//!   per lane or scalars, `target +=` a number per lane; inner loops (`for j ..`) of such `let`s, whose state may go from a
//!   scalar to a number per lane (it then starts as a column of that scalar).
//!
//! The shapes of values made before a loop, and of the arguments, are read from the IR
//! ([`Model::shapes`], `shape.rs`); an argument a data statement shadows has no known shape.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{Expr, Ident, Pat};

use crate::catalogue::{Binary, Unary, WithData};
use crate::ir::{AExpr, Binding, BindingId, Ids, Model, Operand, Stmt};
use crate::shape::{binary_ty, ident_of, idents, unary_ty, with_data_ty, Shapes, Ty};

/// What a value in a loop body is, iteration by iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The same in every iteration: its shape, when known.
    Inv(Option<Ty>),
    /// A number per iteration: a column with one element per lane once vectorised.
    Lane,
    /// A row vector per iteration: a matrix with one row per lane once vectorised.
    Rows,
}

const SCALAR: Kind = Kind::Inv(Some(Ty::Scalar));

/// Vectorises every loop of the model that can be (see the module's documentation).
pub fn vectorise(mut m: Model) -> Model {
    let mut cx = Cx {
        shapes: std::mem::take(&mut m.shapes),
        ids: std::mem::take(&mut m.ids),
        loops: 0,
        cached: Vec::new(),
        outer: Vec::new(),
        lane_stmts: Vec::new(),
        gathers: 0,
    };
    let body = std::mem::take(&mut m.body);
    m.body = cx.block(body);
    for key in cx.cached {
        if !m.cached.contains(&key) {
            m.cached.push(key);
        }
    }
    m.ids = cx.ids;
    m.shapes = cx.shapes;
    m.lane_stmts = cx.lane_stmts;
    m.gathers = cx.gathers;
    m
}

struct Cx {
    /// [`Model::shapes`]: the arguments' and the bindings' shapes, the index vectors and
    /// the latent vectors' lengths.
    shapes: Shapes,
    /// [`Model::ids`].
    ids: Ids,
    /// Loops vectorised so far (names their lane ranges).
    loops: usize,
    /// Data operands whose value depends only on the arguments: cache keys for the model.
    cached: Vec<(usize, String)>,
    /// The variables of the loops over integer ranges around the statements being read,
    /// outermost first (named in index errors).
    outer: Vec<Ident>,
    /// [`Model::lane_stmts`].
    lane_stmts: Vec<(usize, Ident, Vec<bool>)>,
    /// [`Model::gathers`]: gathers checked once per model so far.
    gathers: usize,
}

impl Cx {
    fn block(&mut self, stmts: Vec<Stmt>) -> Vec<Stmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match s {
                Stmt::For {
                    pat,
                    iter,
                    body,
                    carried,
                    data_carried,
                    src,
                } => {
                    if carried.is_empty() && data_carried.is_empty() {
                        if let Some(v) = self.lane_loop(&pat, &iter, &body) {
                            out.extend(v);
                            continue;
                        }
                    }
                    let var = match (&pat, &iter) {
                        (Pat::Ident(p), Expr::Range(_)) => Some(p.ident.clone()),
                        _ => None,
                    };
                    let pushed = var.is_some();
                    self.outer.extend(var);
                    let body = self.block(body);
                    if pushed {
                        self.outer.pop();
                    }
                    out.push(Stmt::For {
                        pat,
                        iter,
                        body,
                        carried,
                        data_carried,
                        src,
                    });
                }
                Stmt::If {
                    cond,
                    then,
                    els,
                    joined,
                    src,
                } => out.push(Stmt::If {
                    cond,
                    then: self.block(then),
                    els: self.block(els),
                    joined,
                    src,
                }),
                s => out.push(s),
            }
        }
        out
    }

    /// The statements that replace `for pat in iter { body }`, when it can be vectorised.
    fn lane_loop(&mut self, pat: &Pat, iter: &Expr, body: &[Stmt]) -> Option<Vec<Stmt>> {
        let Pat::Ident(p) = pat else { return None };
        if p.by_ref.is_some() || p.subpat.is_some() {
            return None;
        }
        let Expr::Range(r) = iter else { return None };
        let (Some(lo), Some(hi), syn::RangeLimits::HalfOpen(_)) = (&r.start, &r.end, &r.limits)
        else {
            return None;
        };
        // Lane `k` is iteration `lo + k`: an error about an element of the lanes names the
        // index the loop would have (`Model::lane_stmts`).
        let range = format_ident!("__lanes{}", self.loops);
        let fixed = self.fixed(iter);
        let mut l = Lanes {
            cx: self,
            i: p.ident.to_string(),
            rows: HashSet::new(),
            range: range.clone(),
            fixed,
            src: 0,
            kinds: HashMap::new(),
            cached: Vec::new(),
            pre: Vec::new(),
            checks: 0,
            lane_stmts: Vec::new(),
        };
        let stmts = l.block(body, true)?;
        let cached = std::mem::take(&mut l.cached);
        let lane_stmts = std::mem::take(&mut l.lane_stmts);
        if !stmts.iter().any(|s| {
            matches!(
                s,
                Stmt::Observe { .. } | Stmt::Target { .. } | Stmt::Density { .. }
            )
        }) {
            return None;
        }
        self.loops += 1;
        self.cached.extend(cached);
        self.lane_stmts.extend(lane_stmts);
        let mut out = vec![Stmt::Data(
            quote!(let #range: ::core::ops::Range<usize> = (#lo)..(#hi);),
        )];
        out.extend(stmts);
        Some(out)
    }

    /// Whether `e`'s value is the same on every call: built from the arguments no data
    /// statement shadows, constants and literals (`analyse::built_from_arguments`; any other
    /// name is a binding of the model).
    fn fixed(&self, e: &Expr) -> bool {
        let name = |n: &str| {
            if self.shapes.args.contains_key(n) {
                Some(true)
            } else if n.starts_with(|c: char| c.is_uppercase()) {
                None
            } else {
                Some(false)
            }
        };
        crate::analyse::built_from_arguments(e, &name, &mut false)
    }

    fn binding(&mut self, name: &Ident) -> Binding {
        self.ids.binding(name)
    }
}

/// One loop being vectorised.
struct Lanes<'a> {
    cx: &'a mut Cx,
    /// The loop variable.
    i: String,
    /// Data `let`s of the body holding a row per lane (`let xi = x.row(i)`).
    rows: HashSet<String>,
    /// The name of the lane range (`0..n`).
    range: Ident,
    /// Whether the range is the same on every call.
    fixed: bool,
    /// The statement being vectorised.
    src: usize,
    /// What the body's bindings are, iteration by iteration.
    kinds: HashMap<BindingId, Kind>,
    /// Cache keys of the lane data whose value depends only on the arguments.
    cached: Vec<(usize, String)>,
    /// The checks of the gathers and segments of the statement being vectorised, emitted
    /// before it.
    pre: Vec<Stmt>,
    /// Checks made so far (names them).
    checks: usize,
    /// [`Model::lane_stmts`] of the loop.
    lane_stmts: Vec<(usize, Ident, Vec<bool>)>,
}

/// What a lane's index into a vector is.
enum LaneIndex {
    /// The loop variable shifted back by a constant (`t`, `t - k`, `t + k`): the `i64`
    /// shift back.
    Shift(Expr),
    /// An element of an integer data vector for the lane, less a constant (`g[i]`,
    /// `g[i] - c`): the data vector and the constant.
    Gather(Ident, Expr),
}

impl Lanes<'_> {
    /// Whether `ts` reads the loop variable or a row of the lanes.
    fn mentions(&self, ts: TokenStream) -> bool {
        let mut found = false;
        idents(ts, &mut |n| {
            let n = n.to_string();
            found |= n == self.i || self.rows.contains(&n);
        });
        found
    }

    fn kind_of(&self, b: &Binding) -> Kind {
        match self.kinds.get(&b.id) {
            Some(k) => *k,
            None => Kind::Inv(self.cx.shapes.of(b.id)),
        }
    }

    /// The vectorised statements of a block (`top`: the loop's own body, else an inner
    /// loop's).
    fn block(&mut self, stmts: &[Stmt], top: bool) -> Option<Vec<Stmt>> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match s {
                Stmt::Data(ts) if top => out.push(self.row_let(ts)?),
                // The constructor's run marks statements in the loop as written.
                Stmt::At(_) => {}
                Stmt::Let {
                    binding,
                    ty: None,
                    init,
                    src,
                } => {
                    self.src = *src;
                    let (k, init) = self.expr(init)?;
                    self.kinds.insert(binding.id, k);
                    out.append(&mut self.pre);
                    out.push(Stmt::Let {
                        binding: binding.clone(),
                        ty: None,
                        init,
                        src: *src,
                    });
                }
                Stmt::Observe {
                    lhs,
                    dist,
                    args,
                    src,
                    obs,
                } if top => {
                    self.src = *src;
                    if dist.support.multivariate() {
                        // One draw per row: not an elementwise lane.
                        return None;
                    }
                    let (Kind::Lane, lhs) = self.data(lhs)? else {
                        return None;
                    };
                    let (new, mut lanes) = self.dist_args(args)?;
                    lanes.insert(0, true);
                    self.lane_stmts.push((*src, self.range.clone(), lanes));
                    out.append(&mut self.pre);
                    out.push(Stmt::Observe {
                        lhs,
                        dist,
                        args: new,
                        src: *src,
                        obs: *obs,
                    });
                }
                Stmt::Density {
                    value,
                    dist,
                    args,
                    src,
                } if top => {
                    // `h[t] ~ Normal(.., h[t - 1], ..)`: the density of a segment.
                    self.src = *src;
                    if dist.support.multivariate() {
                        return None;
                    }
                    let (Kind::Lane, value) = self.expr(value)? else {
                        return None;
                    };
                    let (new, mut lanes) = self.dist_args(args)?;
                    lanes.insert(0, true);
                    self.lane_stmts.push((*src, self.range.clone(), lanes));
                    out.append(&mut self.pre);
                    out.push(Stmt::Density {
                        value,
                        dist,
                        args: new,
                        src: *src,
                    });
                }
                Stmt::Target {
                    value: Operand::Active(e),
                    src,
                } if top => {
                    self.src = *src;
                    let (Kind::Lane, e) = self.expr(e)? else {
                        return None;
                    };
                    let sum = AExpr::Unary(Unary::Named("sum"), Box::new(e), Span::call_site());
                    out.append(&mut self.pre);
                    out.push(Stmt::Target {
                        value: Operand::Active(sum),
                        src: *src,
                    });
                }
                Stmt::For {
                    pat,
                    iter,
                    body,
                    carried,
                    data_carried,
                    src,
                } if data_carried.is_empty() => {
                    let Pat::Ident(p) = pat else { return None };
                    if self.mentions(iter.to_token_stream())
                        || self.mentions(p.ident.to_token_stream())
                    {
                        return None;
                    }
                    if let Some(s) = self.dot_loop(&p.ident, iter, body, carried) {
                        out.push(s);
                        continue;
                    }
                    let mut carried = carried.clone();
                    let mut entry: Vec<Kind> =
                        carried.iter().map(|c| self.kind_of(&c.outer)).collect();
                    let mut rounds = 0;
                    let body = loop {
                        for (c, k) in carried.iter().zip(&entry) {
                            self.kinds.insert(c.entry.id, *k);
                        }
                        let body = self.block(body, false)?;
                        let mut same = true;
                        for (c, k) in carried.iter().zip(entry.iter_mut()) {
                            match (*k, self.kind_of(&c.last)) {
                                (Kind::Inv(_), Kind::Inv(_)) | (Kind::Lane, Kind::Lane) => {}
                                (Kind::Rows, Kind::Rows) => {}
                                // State that starts as a scalar and becomes a number per
                                // lane starts as a column of that scalar.
                                (SCALAR, Kind::Lane) => {
                                    *k = Kind::Lane;
                                    same = false;
                                }
                                _ => return None,
                            }
                        }
                        if same {
                            break body;
                        }
                        rounds += 1;
                        if rounds > carried.len() {
                            return None;
                        }
                    };
                    for (c, k) in carried.iter_mut().zip(&entry) {
                        let last = self.kind_of(&c.last);
                        self.kinds.insert(c.exit.id, last);
                        if *k == Kind::Lane && self.kind_of(&c.outer) != Kind::Lane {
                            let b = self.cx.binding(&c.outer.name);
                            let zeros: Expr = {
                                let r = &self.range;
                                syn::parse_quote!(::vi::__private::lane_zeros(&#r))
                            };
                            self.cache(*src, &zeros);
                            out.push(Stmt::Let {
                                binding: b.clone(),
                                ty: None,
                                init: AExpr::Binary(
                                    Binary::Add,
                                    Box::new(AExpr::Var(c.outer.clone())),
                                    Box::new(AExpr::Data(zeros)),
                                    Span::call_site(),
                                ),
                                src: *src,
                            });
                            self.kinds.insert(b.id, Kind::Lane);
                            c.outer = b;
                        }
                    }
                    out.push(Stmt::For {
                        pat: pat.clone(),
                        iter: iter.clone(),
                        body,
                        carried,
                        data_carried: Vec::new(),
                        src: *src,
                    });
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// `for j in 0..x.ncols() { mu += x[(i, j)] * w[j]; }`, with `w` a latent declared with
    /// `.iid(x.ncols())`: a dot product per lane, so the rows of the lanes times `w` (one
    /// matrix-vector product, where the loop would make a column pass per `j`).
    fn dot_loop(
        &mut self,
        j: &Ident,
        iter: &Expr,
        body: &[Stmt],
        carried: &[crate::ir::Carried],
    ) -> Option<Stmt> {
        let (
            [c],
            [Stmt::Let {
                binding,
                ty: None,
                init,
                src,
            }],
        ) = (carried, body)
        else {
            return None;
        };
        if binding.id != c.last.id || !matches!(self.kind_of(&c.outer), SCALAR | Kind::Lane) {
            return None;
        }
        let AExpr::Binary(Binary::Add, a, b, sp) = init else {
            return None;
        };
        let product = match (&**a, &**b) {
            (AExpr::Var(v), p) | (p, AExpr::Var(v)) if v.id == c.entry.id => p,
            _ => return None,
        };
        let AExpr::Binary(Binary::Mul, a, b, _) = product else {
            return None;
        };
        let (data, coef) = match (&**a, &**b) {
            (AExpr::Data(d), w) | (w, AExpr::Data(d)) => (d, w),
            _ => return None,
        };
        // `w[j]`, `w` a latent vector whose length is written as the range's end.
        let AExpr::WithData(WithData::Index, w, idx, _) = coef else {
            return None;
        };
        let AExpr::Var(w) = &**w else { return None };
        let [idx] = &idx[..] else { return None };
        if ident_of(idx)? != j {
            return None;
        }
        let len = self.cx.shapes.lengths.get(&w.id)?;
        // `x[(i, j)]`, `x` a matrix argument whose columns the range runs over.
        let Expr::Index(ix) = data else { return None };
        let x = ident_of(&ix.expr)?;
        let Expr::Tuple(t) = &*ix.index else {
            return None;
        };
        if t.elems.len() != 2
            || ident_of(&t.elems[0])? != self.i.as_str()
            || ident_of(&t.elems[1])? != j
            || self.cx.shapes.args.get(&x.to_string()) != Some(&Some(Ty::Mat))
        {
            return None;
        }
        let Expr::Range(r) = iter else { return None };
        let (Some(lo), Some(hi), syn::RangeLimits::HalfOpen(_)) = (&r.start, &r.end, &r.limits)
        else {
            return None;
        };
        let ncols = quote!(#x.ncols()).to_string();
        if lo.to_token_stream().to_string() != "0"
            || hi.to_token_stream().to_string() != ncols
            || *len != ncols
        {
            return None;
        }
        let range = &self.range;
        let rows: Expr = syn::parse_quote!(::vi::__private::lane_rows(#x, &#range));
        self.cache(*src, &rows);
        self.kinds.insert(c.exit.id, Kind::Lane);
        let mv = AExpr::Binary(
            Binary::Mul,
            Box::new(AExpr::Data(rows)),
            Box::new(AExpr::Var(w.clone())),
            *sp,
        );
        Some(Stmt::Let {
            binding: c.exit.clone(),
            ty: None,
            init: AExpr::Binary(
                Binary::Add,
                Box::new(AExpr::Var(c.outer.clone())),
                Box::new(mv),
                *sp,
            ),
            src: *src,
        })
    }

    /// A distribution's arguments in the loop, vectorised (each a number per lane or a
    /// scalar), and which are numbers per lane.
    fn dist_args(&mut self, args: &[Operand]) -> Option<(Vec<Operand>, Vec<bool>)> {
        let mut new = Vec::with_capacity(args.len());
        let mut lanes = Vec::with_capacity(args.len() + 1);
        for a in args {
            let (k, a) = match a {
                Operand::Data(d) => {
                    let (k, d) = self.data(d)?;
                    (k, Operand::Data(d))
                }
                Operand::Active(e) => {
                    let (k, e) = self.expr(e)?;
                    (k, Operand::Active(e))
                }
            };
            if k != Kind::Lane && k != SCALAR {
                return None;
            }
            lanes.push(k == Kind::Lane);
            new.push(a);
        }
        Some((new, lanes))
    }

    /// Whether `e` is the loop variable.
    fn is_var(&self, e: &Expr) -> bool {
        ident_of(e).is_some_and(|i| i == self.i.as_str())
    }

    /// Whether the shift of the index `e` (`t - k`, `t + k`) is the same on every call.
    fn fixed_shift(&self, e: &Expr) -> bool {
        match e {
            Expr::Paren(p) => self.fixed_shift(&p.expr),
            e if self.is_var(e) => true,
            Expr::Binary(b) if self.mentions(b.left.to_token_stream()) => {
                self.fixed_shift(&b.left) && self.cx.fixed(&b.right)
            }
            Expr::Binary(b) => self.fixed_shift(&b.right) && self.cx.fixed(&b.left),
            _ => false,
        }
    }

    /// `g[i]` with `g` a vector argument of `usize`s: `g`.
    fn index_vector(&self, e: &Expr) -> Option<Ident> {
        let Expr::Index(ix) = e else { return None };
        let g = ident_of(&ix.expr)?;
        (self.cx.shapes.codes.contains(&g.to_string()) && self.is_var(&ix.index)).then(|| g.clone())
    }

    /// What the index `e` of a vector is lane by lane, when the lanes read the vector at a
    /// constant shift or through an integer data vector (see [`LaneIndex`]).
    fn lane_index(&self, e: &Expr) -> Option<LaneIndex> {
        if let Some(back) = self.back(e) {
            return Some(LaneIndex::Shift(back));
        }
        match e {
            Expr::Paren(p) => self.lane_index(&p.expr),
            Expr::Binary(b)
                if matches!(b.op, syn::BinOp::Sub(_))
                    && !self.mentions(b.right.to_token_stream()) =>
            {
                Some(LaneIndex::Gather(
                    self.index_vector(&b.left)?,
                    (*b.right).clone(),
                ))
            }
            e => Some(LaneIndex::Gather(
                self.index_vector(e)?,
                syn::parse_quote!(0usize),
            )),
        }
    }

    /// `back` (an `i64` expression) when `e` is the loop variable plus or minus terms that
    /// do not depend on it, `t - back`: `t`, `t - 1`, `t - j - 1`, `k + t`.
    fn back(&self, e: &Expr) -> Option<Expr> {
        let mut terms = Vec::new();
        self.back_terms(e, false, &mut terms)?;
        let mut out: Option<Expr> = None;
        for (minus, k) in terms {
            out = Some(match (out, minus) {
                (None, false) => k,
                (None, true) => syn::parse_quote!(-#k),
                (Some(a), false) => syn::parse_quote!(#a + #k),
                (Some(a), true) => syn::parse_quote!(#a - #k),
            });
        }
        Some(out.unwrap_or_else(|| syn::parse_quote!(0i64)))
    }

    /// The terms of [`Lanes::back`], each with whether it is subtracted from the shift back
    /// (`neg`: inside a term itself subtracted).
    fn back_terms(&self, e: &Expr, neg: bool, out: &mut Vec<(bool, Expr)>) -> Option<()> {
        let term = |k: &Expr| -> Expr {
            match k {
                // An integer literal is a `usize`, as in the loop's `t - 1`.
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) if i.suffix().is_empty() => {
                    let l = syn::LitInt::new(&format!("{}i64", i.base10_digits()), i.span());
                    syn::parse_quote!(#l)
                }
                k => syn::parse_quote!(::vi::__private::shift_of(#k)),
            }
        };
        match e {
            Expr::Paren(p) => self.back_terms(&p.expr, neg, out),
            Expr::Group(g) => self.back_terms(&g.expr, neg, out),
            e if self.is_var(e) => (!neg).then_some(()),
            Expr::Binary(b) => {
                let (l, r) = (&*b.left, &*b.right);
                let (ml, mr) = (
                    self.mentions(l.to_token_stream()),
                    self.mentions(r.to_token_stream()),
                );
                match b.op {
                    // `a - k`: back grows by k.
                    syn::BinOp::Sub(_) if !mr => {
                        self.back_terms(l, neg, out)?;
                        out.push((neg, term(r)));
                        Some(())
                    }
                    syn::BinOp::Add(_) if !mr => {
                        self.back_terms(l, neg, out)?;
                        out.push((!neg, term(r)));
                        Some(())
                    }
                    syn::BinOp::Add(_) if !ml => {
                        self.back_terms(r, neg, out)?;
                        out.push((!neg, term(l)));
                        Some(())
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `v[index]` for every lane, `v` a vector made before the loop: a segment of `v` (the
    /// loop variable shifted) or a gather (through an integer data vector), each checked
    /// by a statement emitted before the one being vectorised, whose error names the
    /// vector, its length, the index and the loop variables as the loop's own would.
    fn indexed(&mut self, v: &Binding, index: &Expr, sp: Span) -> Option<(Kind, AExpr)> {
        if self.kind_of(v) != Kind::Inv(Some(Ty::Col)) {
            return None;
        }
        let li = self.lane_index(index)?;
        let (src, r) = (self.src, self.range.clone());
        let value = crate::codegen::vname(v);
        let what = v.name.to_string();
        let var = &self.i;
        let names = self.cx.outer.iter().map(|i| i.to_string());
        let vars = self.cx.outer.iter();
        let loops = quote!(|| [#((#names, (#vars) as i64)),*]);
        let k = self.checks;
        self.checks += 1;
        let x = Box::new(AExpr::Var(v.clone()));
        Some(match li {
            LaneIndex::Shift(back) => {
                let start = format_ident!("__seg{}_{}", self.cx.loops, k);
                self.pre.push(Stmt::Data(quote! {
                    let #start: usize = ::vi::__private::lane_segment(
                        #src, &#value, &#r, #back, #what, #var, #loops,
                    )?;
                }));
                let len: Expr = syn::parse_quote!(::core::iter::ExactSizeIterator::len(&#r));
                (
                    Kind::Lane,
                    AExpr::WithData(
                        WithData::Segment,
                        x,
                        vec![syn::parse_quote!(#start), len],
                        sp,
                    ),
                )
            }
            LaneIndex::Gather(g, sub) => {
                let idx = format_ident!("__gi{}_{}", self.cx.loops, k);
                let codes: Expr = syn::parse_quote!(#g);
                if self.fixed && self.cx.fixed(&codes) && self.cx.fixed(&sub) {
                    // The codes, the offset and the lanes are the same on every call: the
                    // check is made once per model (in the constructor's run) and kept with
                    // the base's length it passed with.
                    let slot = self.cx.gathers;
                    self.cx.gathers += 1;
                    self.pre.push(Stmt::Data(quote! {
                        let #idx: &[usize] = ::vi::__private::gather_index_kept(
                            &self.__cache, Self::__GATHERS + #slot,
                            #src, &#value, #g, &#r, #sub, #what, #var, #loops,
                        )?;
                    }));
                } else {
                    self.pre.push(Stmt::Data(quote! {
                        let #idx: &[usize] = ::vi::__private::gather_index(
                            #src, &#value, #g, &#r, #sub, #what, #var, #loops,
                        )?;
                    }));
                }
                (
                    Kind::Lane,
                    AExpr::WithData(WithData::Gather, x, vec![syn::parse_quote!(#idx), sub], sp),
                )
            }
        })
    }

    /// `let xi = x.row(i)` (optionally `.clone_owned()` / `.into_owned()`) as the rows of
    /// the lanes.
    fn row_let(&mut self, ts: &TokenStream) -> Option<Stmt> {
        let Ok(syn::Stmt::Local(l)) = syn::parse2::<syn::Stmt>(ts.clone()) else {
            return None;
        };
        let Pat::Ident(p) = &l.pat else { return None };
        if p.by_ref.is_some() || p.mutability.is_some() || p.subpat.is_some() {
            return None;
        }
        let init = l.init.as_ref()?;
        if init.diverge.is_some() {
            return None;
        }
        let mut e = &*init.expr;
        while let Expr::MethodCall(m) = e {
            if m.method != "clone_owned" && m.method != "into_owned" {
                break;
            }
            if !m.args.is_empty() || m.turbofish.is_some() {
                return None;
            }
            e = &m.receiver;
        }
        let Expr::MethodCall(m) = e else { return None };
        if m.method != "row" || m.turbofish.is_some() || m.args.len() != 1 {
            return None;
        }
        let x = ident_of(&m.receiver)?;
        if ident_of(&m.args[0])? != self.i.as_str()
            || self.cx.shapes.args.get(&x.to_string()) != Some(&Some(Ty::Mat))
        {
            return None;
        }
        let name = &p.ident;
        self.rows.insert(name.to_string());
        let r = &self.range;
        Some(Stmt::Data(
            quote!(let #name = ::vi::__private::lane_rows(#x, &#r);),
        ))
    }

    /// Keeps `e`'s conversion with the model when the lanes are the same on every call.
    fn cache(&mut self, src: usize, e: &Expr) {
        if self.fixed {
            self.cached.push((src, e.to_token_stream().to_string()));
        }
    }

    /// A data operand in the loop: what it is per iteration and its vectorised expression.
    fn data(&mut self, d: &Expr) -> Option<(Kind, Expr)> {
        if !self.mentions(d.to_token_stream()) {
            return Some((Kind::Inv(self.cx.shapes.data(d)), d.clone()));
        }
        let r = self.range.clone();
        let src = self.src;
        match d {
            Expr::Paren(p) => self.data(&p.expr),
            Expr::Path(_) => {
                let n = ident_of(d)?;
                if !self.rows.contains(&n.to_string()) {
                    return None;
                }
                self.cache(src, d);
                Some((Kind::Rows, d.clone()))
            }
            Expr::Index(ix) => {
                let x = ident_of(&ix.expr)?;
                let t = (*self.cx.shapes.args.get(&x.to_string())?)?;
                match (&*ix.index, t) {
                    (i, Ty::Col) if self.is_var(i) => {
                        let e: Expr = syn::parse_quote!(::vi::__private::lanes(#x, &#r));
                        self.cache(src, &e);
                        Some((Kind::Lane, e))
                    }
                    // `y[t - k]`: the lanes shifted back.
                    (i, Ty::Col) => {
                        let LaneIndex::Shift(back) = self.lane_index(i)? else {
                            return None;
                        };
                        let e: Expr =
                            syn::parse_quote!(::vi::__private::lane_shift(#x, &#r, #back));
                        if self.fixed_shift(i) {
                            self.cache(src, &e);
                        }
                        Some((Kind::Lane, e))
                    }
                    (Expr::Tuple(t), Ty::Mat) if t.elems.len() == 2 => {
                        let (i, j) = (&t.elems[0], &t.elems[1]);
                        if ident_of(i)? != self.i.as_str() || self.mentions(j.to_token_stream()) {
                            return None;
                        }
                        Some((
                            Kind::Lane,
                            syn::parse_quote!(::vi::__private::lane_col(#x, &#r, #j)),
                        ))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// An expression of the body: what it is per iteration and its vectorised form.
    fn expr(&mut self, e: &AExpr) -> Option<(Kind, AExpr)> {
        use Kind::{Inv, Lane, Rows};
        Some(match e {
            AExpr::Var(b) => (self.kind_of(b), e.clone()),
            AExpr::Data(d) => {
                let (k, d) = self.data(d)?;
                (k, AExpr::Data(d))
            }
            AExpr::Unary(u, x, sp) => {
                let (k, x) = self.expr(x)?;
                let k = match (*u, k) {
                    (u, Inv(t)) => Inv(t.and_then(|t| unary_ty(u, t))),
                    (u, k) if u.elementwise() => k,
                    _ => return None,
                };
                (k, AExpr::Unary(*u, Box::new(x), *sp))
            }
            AExpr::Binary(op, a, b, sp) => {
                let (ka, a) = self.expr(a)?;
                let (kb, b) = self.expr(b)?;
                let row = Inv(Some(Ty::Row));
                let col = Inv(Some(Ty::Col));
                let mat = Inv(Some(Ty::Mat));
                let elementwise = op.elementwise();
                let bin = |op, a, b| AExpr::Binary(op, Box::new(a), Box::new(b), *sp);
                let tr = |x| AExpr::Unary(Unary::Named("transpose"), Box::new(x), *sp);
                match (*op, ka, kb) {
                    (op, Inv(ta), Inv(tb)) => (Inv(binary_ty(op, ta, tb)), bin(op, a, b)),
                    // A number per lane with a number per lane or a scalar.
                    (op, Lane, Lane) | (op, Lane, SCALAR) | (op, SCALAR, Lane) if elementwise => {
                        (Lane, bin(op, a, b))
                    }
                    // A row per lane with a scalar, a row per lane or a row vector: the
                    // matrix of rows broadcasts them the same way (not `*` of two rows, a
                    // matrix product once vectorised).
                    (op, Rows, SCALAR) | (op, SCALAR, Rows) if elementwise => (Rows, bin(op, a, b)),
                    (op, Rows, Rows) if elementwise && op != Binary::Mul => (Rows, bin(op, a, b)),
                    (op, Rows, k) if elementwise && k == row => (Rows, bin(op, a, b)),
                    (Binary::Mul, k, Rows) if k == row => (Rows, bin(Binary::Mul, b, a)),
                    (op, k, Rows) if elementwise && k == row => (Rows, bin(op, a, b)),
                    // A row per lane times a matrix: the matrix of rows times it.
                    (Binary::Mul, Rows, k) if k == mat => (Rows, bin(Binary::Mul, a, b)),
                    // `dot` of a row per lane and a vector: the matrix of rows times it.
                    (Binary::Dot, Rows, k) if k == col => (Lane, bin(Binary::Mul, a, b)),
                    (Binary::Dot, k, Rows) if k == col => (Lane, bin(Binary::Mul, b, a)),
                    (Binary::Dot, Rows, k) if k == row => (Lane, bin(Binary::Mul, a, tr(b))),
                    (Binary::Dot, k, Rows) if k == row => (Lane, bin(Binary::Mul, b, tr(a))),
                    _ => return None,
                }
            }
            AExpr::WithData(w, x, args, sp) => {
                if let (WithData::Index, AExpr::Var(v), [index]) = (w, &**x, &args[..]) {
                    if self.mentions(index.to_token_stream()) {
                        return self.indexed(v, index, *sp);
                    }
                }
                if args.iter().any(|a| self.mentions(a.to_token_stream())) {
                    return None;
                }
                let (k, x) = self.expr(x)?;
                let k = match (*w, k) {
                    (w, Inv(t)) => Inv(t.and_then(|t| with_data_ty(w, t))),
                    (WithData::Powi, k) => k,
                    _ => return None,
                };
                (k, AExpr::WithData(*w, Box::new(x), args.clone(), *sp))
            }
            // A density over the lanes would be their sum, not a number per lane: such a
            // loop stays a loop.
            AExpr::Set(..) | AExpr::Nary(..) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use crate::parse::ModelDef;

    fn vectorised(ts: TokenStream) -> Model {
        let def: ModelDef = syn::parse2(ts).expect("parses");
        let cx = Ctxt::new();
        let m = crate::analyse::analyse(&cx, &def);
        assert!(cx.check().is_ok(), "the model analyses");
        vectorise(crate::hoist::hoist(m))
    }

    fn loops(stmts: &[Stmt]) -> usize {
        stmts
            .iter()
            .map(|s| match s {
                Stmt::For { body, .. } => 1 + loops(body),
                Stmt::If { then, els, .. } => loops(then) + loops(els),
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn the_loop_forms_of_the_benchmarks_become_vector_statements() {
        let m = vectorised(quote! {
            fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
                let w ~ Normal(0.0, 1.0).iid(x.ncols());
                let b ~ Normal(0.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                for i in 0..x.nrows() {
                    let mut mu = b;
                    for j in 0..x.ncols() {
                        mu += x[(i, j)] * w[j];
                    }
                    y[i] ~ Normal(mu, sigma);
                }
            }
        });
        // The loop over `j` is a dot product per lane: one matrix-vector product.
        assert_eq!(loops(&m.body), 0);
        // With a coefficient vector whose length is not the range's (as written), the loop
        // over `j` stays, a pass over a column of the lanes per `j`.
        let m = vectorised(quote! {
            fn m(x: &DMatrix<f64>, y: &DVector<f64>, d: usize) {
                let w ~ Normal(0.0, 1.0).iid(d);
                let b ~ Normal(0.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                for i in 0..x.nrows() {
                    let mut mu = b;
                    for j in 0..x.ncols() {
                        mu += x[(i, j)] * w[j];
                    }
                    y[i] ~ Normal(mu, sigma);
                }
            }
        });
        assert_eq!(loops(&m.body), 1);
        assert!(
            m.body
                .iter()
                .all(|s| !matches!(s, Stmt::For { body, .. } if loops(body) > 0)),
            "the loop over observations is gone"
        );
        let m = vectorised(quote! {
            fn m(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
                let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
                let b1 ~ Normal(0.0, 1.0).iid(h);
                let w2 ~ Normal(0.0, 1.0).iid(h);
                let b2 ~ Normal(0.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                for i in 0..x.nrows() {
                    let xi = x.row(i).clone_owned();
                    let hidden = tanh(xi * w1 + b1.transpose());
                    y[i] ~ Normal(dot(hidden, w2) + b2, sigma);
                }
            }
        });
        assert_eq!(loops(&m.body), 0);
    }

    /// The models of `tests/it/macro_vectorise.rs`, which check the vectorised code against
    /// formulas and finite differences: vectorised as meant.
    #[test]
    fn the_integration_tests_models_are_vectorised() {
        for (model, left) in [
            (
                quote! { fn m(x: &DMatrix<f64>, y: &[f64]) {
                    let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), 3));
                    let b1 ~ Normal(0.0, 1.0).iid(3);
                    let v ~ Normal(0.0, 1.0).iid(x.ncols());
                    let w2 ~ Normal(0.0, 1.0).iid(3);
                    let s ~ HalfNormal(1.0);
                    for i in 0..x.nrows() {
                        let xi = x.row(i).clone_owned();
                        let a = (xi - v.transpose()) / (v.transpose() * v.transpose() + 1.0);
                        let h = sigmoid(a * w1 + b1.transpose()) * 2.0 - 1.0;
                        let q = v.transpose() * xi;
                        let mu = dot(h, w2) + dot(b1.transpose(), h) * 0.5 + dot(q, v);
                        y[i] ~ Normal(mu, s + 0.1);
                        target += -0.05 * mu.powi(2);
                    }
                } },
                0,
            ),
            (
                quote! { fn m(x: &DMatrix<i64>, k: &[i64], z: &Vec<bool>, t: &DVector<f64>) {
                    let a ~ Normal(0.0, 1.0);
                    let w ~ Normal(0.0, 1.0).iid(2);
                    let s ~ HalfNormal(1.0);
                    for i in 0..k.len() {
                        let eta = a + x[(i, 0)] * w[0] + (x[(i, 1)] * w[1]).tanh();
                        k[i] ~ PoissonLog(eta);
                        z[i] ~ BernoulliLogit(eta / (s + 1.0));
                        t[i] ~ Normal(eta.exp().ln() * 0.5, s.powf(0.5));
                        target += -(eta - t[i]).powi(2) * 0.01;
                    }
                } },
                0,
            ),
            (
                // The two loops over `j` stay (neither is a dot product with a vector of
                // the range's length as written).
                quote! { fn m(x: &DMatrix<f64>, y: &DVector<f64>, d: usize) {
                    let w ~ Normal(0.0, 1.0).iid(d);
                    let b ~ Normal(0.0, 1.0);
                    let s ~ HalfNormal(1.0);
                    for i in 0..x.nrows() {
                        let mut mu = b * 2.0;
                        for j in 0..x.ncols() { mu = mu * 0.5 + x[(i, j)] * w[j]; }
                        let mut acc = b;
                        for j in 0..x.ncols() { acc += x[(i, j)] * w[j]; }
                        y[i] ~ Normal(mu + acc, s);
                    }
                } },
                2,
            ),
            (
                // The loop over groups stays.
                quote! { fn m(x: &DMatrix<f64>, c: &[i64], n: &[usize]) {
                    let mu ~ Normal(0.0, 1.0).iid(n.len());
                    let s ~ HalfNormal(1.0);
                    for g in 0..n.len() {
                        for i in 0..n[g] {
                            x[(i, g)] ~ Normal(mu[g] * 2.0, s);
                            c[i] ~ Poisson(exp(mu[g]));
                        }
                    }
                } },
                1,
            ),
        ] {
            let m = vectorised(model.clone());
            assert_eq!(loops(&m.body), left, "{model}");
        }
    }

    #[test]
    fn lanes_that_change_between_calls_are_not_kept_with_the_model() {
        let m = vectorised(quote! { fn m(c: &[i64], n: &[usize]) {
            let mu ~ Normal(0.0, 1.0).iid(n.len());
            for g in 0..n.len() {
                for i in 0..n[g] { c[i] ~ Poisson(exp(mu[g])); }
            }
            for i in 0..c.len() { c[i] ~ Poisson(exp(mu[0])); }
        } });
        assert_eq!(loops(&m.body), 1);
        let lanes: Vec<&String> = m
            .cached
            .iter()
            .map(|(_, t)| t)
            .filter(|t| t.contains("lanes"))
            .collect();
        // Only the second loop's lanes (`0..c.len()`, the same on every call).
        assert_eq!(lanes.len(), 1, "{lanes:?}");
        assert!(lanes[0].contains("__lanes1"), "{lanes:?}");
    }

    #[test]
    fn lanes_up_to_a_data_binding_are_not_kept_with_the_model() {
        // `0..m`: `m` is a binding of the loop over groups, not an argument.
        let m = vectorised(quote! { fn m(c: &[i64], n: &[usize]) {
            let mu ~ Normal(0.0, 1.0).iid(n.len());
            for g in 0..n.len() {
                let m = n[g];
                for i in 0..m { c[i] ~ Poisson(exp(mu[g])); }
            }
        } });
        assert_eq!(loops(&m.body), 1);
        assert!(
            m.cached.iter().all(|(_, t)| !t.contains("lanes")),
            "{:?}",
            m.cached
        );
    }

    #[test]
    fn loops_whose_meaning_per_lane_is_not_certain_stay() {
        for model in [
            // State carried from one observation to the next.
            quote! { fn m(y: &[f64]) {
                let a ~ Normal(0.0, 1.0);
                let mut s = 0.0;
                for i in 0..y.len() { s = s * a; y[i] ~ Normal(s, 1.0); }
            } },
            // A vector per observation (`w` is a vector: `x[i] * w` is one per lane).
            quote! { fn m(x: &[f64], y: &DMatrix<f64>) {
                let w ~ Normal(0.0, 1.0).iid(3);
                for i in 0..x.len() { y.row(i) ~ Normal(x[i] * w, 1.0); }
            } },
            // A latent indexed by an index that is neither a shift of the loop variable nor
            // an element of an index vector.
            quote! { fn m(y: &[f64]) {
                let theta ~ Normal(0.0, 1.0).iid(y.len());
                for i in 0..y.len() { y[i] ~ Normal(theta[2 * i], 1.0); }
            } },
            // An index vector that is not an argument (its shape is unknown).
            quote! { fn m(y: &[f64], g: &[usize]) {
                let theta ~ Normal(0.0, 1.0).iid(3);
                let g2 = g.to_vec();
                for i in 0..y.len() { y[i] ~ Normal(theta[g2[i]], 1.0); }
            } },
            // An `if` in the body.
            quote! { fn m(y: &[f64], on: &[bool]) {
                let a ~ Normal(0.0, 1.0);
                for i in 0..y.len() { if on[i] { y[i] ~ Normal(a, 1.0); } }
            } },
            // Data of unknown shape (a shadowed argument).
            quote! { fn m(x: &[f64], y: &[f64]) {
                let a ~ Normal(0.0, 1.0);
                let x = x.to_vec();
                for i in 0..y.len() { y[i] ~ Normal(a * x[i], 1.0); }
            } },
            // Two rows per lane multiplied (a matrix product once vectorised).
            quote! { fn m(x: &DMatrix<f64>, y: &[f64]) {
                let a ~ Normal(0.0, 1.0);
                for i in 0..y.len() {
                    let xi = x.row(i).clone_owned();
                    y[i] ~ Normal(sum(xi * xi) * a, 1.0);
                }
            } },
            // A data statement the loop runs for its effect.
            quote! { fn m(y: &[f64]) {
                let a ~ Normal(0.0, 1.0);
                for i in 0..y.len() { println!("{i}"); y[i] ~ Normal(a, 1.0); }
            } },
        ] {
            let m = vectorised(model.clone());
            assert_eq!(loops(&m.body), 1, "{model}");
        }
    }

    /// Issue 13's gathers and shifts: radon's varying intercepts (a derived vector read
    /// through an index vector, 0- and 1-based), AR(5) (data shifted, from `t = 5`, and the
    /// nested lag loop), stochastic volatility in Stan's element form (a latent shifted,
    /// `~` on its elements), a latent indexed by the loop.
    #[test]
    fn gathers_and_shifts_are_vectorised() {
        for (model, left) in [
            (
                quote! { fn m(county: &[usize], x: &[f64], y: &[f64], j: usize) {
                    let mu_a ~ Normal(0.0, 10.0);
                    let sigma_a ~ HalfNormal(1.0);
                    let z ~ Normal(0.0, 1.0).iid(j);
                    let b ~ Normal(0.0, 10.0);
                    let sigma ~ HalfNormal(1.0);
                    let a = mu_a + sigma_a * z;
                    for i in 0..y.len() {
                        y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
                        target += -0.1 * (a[county[i] - 1] - z[i + 1]).powi(2);
                    }
                } },
                0,
            ),
            (
                quote! { fn m(y: &[f64]) {
                    let alpha ~ Normal(0.0, 10.0);
                    let beta ~ Normal(0.0, 10.0).iid(5);
                    let sigma ~ HalfCauchy(2.5);
                    for t in 5..y.len() {
                        y[t] ~ Normal(alpha + beta[0] * y[t - 1] + beta[4] * y[t - 5], sigma);
                    }
                } },
                0,
            ),
            (
                // The loop over lags stays, a pass over shifted lanes per lag.
                quote! { fn m(k: usize, y: &[f64]) {
                    let alpha ~ Normal(0.0, 10.0);
                    let beta ~ Normal(0.0, 10.0).iid(k);
                    let sigma ~ HalfCauchy(2.5);
                    for t in k..y.len() {
                        let mut mu = alpha;
                        for j in 0..k { mu += beta[j] * y[t - j - 1]; }
                        y[t] ~ Normal(mu, sigma);
                    }
                } },
                1,
            ),
            (
                quote! { fn m(y: &[f64]) {
                    let mu ~ Normal(0.0, 10.0);
                    let phi ~ Uniform(-1.0, 1.0);
                    let sigma ~ HalfCauchy(5.0);
                    let h ~ Flat.iid(y.len());
                    h[0] ~ Normal(mu, sigma / (1.0 - phi * phi).sqrt());
                    for t in 1..y.len() {
                        h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma);
                    }
                    for t in 0..y.len() { y[t] ~ Normal(0.0, (h[t] / 2.0).exp()); }
                } },
                0,
            ),
        ] {
            let m = vectorised(model.clone());
            assert_eq!(loops(&m.body), left, "{model}");
        }
    }
}
