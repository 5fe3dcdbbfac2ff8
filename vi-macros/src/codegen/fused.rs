//! Fused distribution statements of vectorised loops, in the gradient. A statement's only
//! output is its term of the log density, whose adjoint (1) is known while the statement
//! runs forward, so its sweep can run in the same loop as its forward code: one loop over
//! the lanes reads each lane's operands, computes the linear predictor, the distribution's
//! one-element density and partials (`Kernel::elem`, the runtime's formula) and adds the
//! adjoints of the active operands into their buffers (a scatter-add for a gather, a sum in
//! a register for a scalar, a write per lane for a number per lane), where the vectorised
//! statement makes a whole-vector pass per rule, one for the kernel and one per backward
//! rule, with a temporary and a zeroed adjoint each.
//!
//! Fused: `y[i] ~ D(..)` and `h[t] ~ D(..)` of a vectorised loop whose operands read a
//! gather (`a[g[i]]`), a segment (`h[t - 1]`) or shifted data (`y[t - k]`), for a
//! distribution with a one-element kernel. `+ - * /` and negation of numbers per lane and
//! scalars run inside the loop; any other part of an operand (`exp(..)`, `beta[0]`, a
//! scalar product) is computed before it by the usual rules (its value read lane by lane,
//! its adjoint swept back after the loop). A part whose shape the pass cannot tell keeps the
//! statement unfused, as does a lane count at which the vectorised kernels run on several
//! threads (decided when the gradient runs: both forms are emitted).

use std::collections::{HashMap, HashSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Expr, Ident};

use super::forward::{kernel_dispatch, First};
use super::lower::{gname, vname, Lowering, V};
use super::pass::Mode;
use super::Emitter;
use crate::catalogue::{Binary, DistInfo, Out, Support, Unary, WithData};
use crate::ir::{AExpr, BindingId, Model, Operand, Shape, Stmt};

/// What a value is in a statement of a vectorised loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    /// One number, the same in every lane (`f64`).
    Scalar,
    /// A number per lane (a column of the lanes' length).
    Lane,
    /// A vector made before the loop (the base of a gather or segment).
    Col,
}

/// How a value is read in the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    Scalar,
    Lane,
    /// Whole, at computed positions (a gather's or segment's base).
    Base,
}

/// A value the loop reads (a binding or a value the usual rules computed before it).
struct Leaf {
    value: Ident,
    grad: Option<Ident>,
    how: How,
}

/// An operand, lane by lane.
enum F {
    /// Data: its reader, and whether it has a number per lane.
    Data(Ident, bool),
    /// A leaf (index into the leaves).
    Val(usize),
    /// `base[idx[k] - sub]`: the base leaf, the index vector's reader, the offset (an
    /// integer literal as written, else its reader: a literal inside the loop costs no
    /// register and no subtraction when it is 0), and the local holding the position in the
    /// loop.
    Gather(usize, Ident, TokenStream, Ident),
    /// `base[start + k]`: the base leaf and the start's reader.
    Segment(usize, Ident),
    Neg(Box<F>),
    Bin(Binary, Box<F>, Box<F>),
}

/// The kinds of the model's bindings the pass can tell (latents by their shape, `let`s by
/// their values), conservatively: a binding not listed is never read by a fused loop.
fn binding_kinds(m: &Model) -> HashMap<BindingId, K> {
    let mut kinds = HashMap::new();
    for l in &m.latents {
        let k = match l.shape {
            Shape::Scalar => K::Scalar,
            Shape::Vector(_)
            | Shape::Multi {
                rows: None,
                matrix: false,
            } => K::Col,
            _ => continue,
        };
        kinds.insert(l.binding.id, k);
    }
    let scalars = scalar_args(m);
    crate::ir::walk(&m.body, &mut |s| {
        if let Stmt::Let { binding, init, .. } = s {
            if let Some(k) = kind(init, &kinds, &scalars) {
                kinds.insert(binding.id, k);
            }
        }
    });
    kinds
}

/// The arguments of a number type that no data statement or loop may rebind.
fn scalar_args(m: &Model) -> HashSet<String> {
    const NUMBERS: &[&str] = &[
        "f64", "i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize",
    ];
    let mut named = HashSet::new();
    crate::ir::walk(&m.body, &mut |s| match s {
        Stmt::Data(ts) => idents(ts.clone(), &mut named),
        Stmt::For { pat, .. } => idents(pat.to_token_stream(), &mut named),
        _ => {}
    });
    m.args
        .iter()
        .filter(|a| {
            let mut t = &a.ty;
            while let syn::Type::Reference(r) = t {
                t = &r.elem;
            }
            matches!(t, syn::Type::Path(p) if p.qself.is_none()
                && p.path.get_ident().is_some_and(|i| NUMBERS.contains(&i.to_string().as_str())))
        })
        .map(|a| a.name.to_string())
        .filter(|n| !named.contains(n))
        .collect()
}

fn idents(ts: TokenStream, out: &mut HashSet<String>) {
    for t in ts {
        match t {
            proc_macro2::TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            proc_macro2::TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The kind of a data operand of a vectorised statement: the lanes of data (as the
/// vectorising pass writes them), a number literal or a number argument.
fn data_kind(d: &Expr, scalars: &HashSet<String>) -> Option<K> {
    match d {
        Expr::Paren(p) => data_kind(&p.expr, scalars),
        Expr::Group(g) => data_kind(&g.expr, scalars),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            (data_kind(&u.expr, scalars)? == K::Scalar).then_some(K::Scalar)
        }
        Expr::Lit(l) => matches!(l.lit, syn::Lit::Float(_) | syn::Lit::Int(_)).then_some(K::Scalar),
        Expr::Path(p) if p.qself.is_none() => {
            let i = p.path.get_ident()?;
            scalars.contains(&i.to_string()).then_some(K::Scalar)
        }
        Expr::Call(c) => {
            let Expr::Path(f) = &*c.func else { return None };
            let segs: Vec<String> = f
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let lane = matches!(
                segs.iter().map(String::as_str).collect::<Vec<_>>()[..],
                [
                    "vi",
                    "__private",
                    "lanes" | "lane_shift" | "lane_col" | "lane_zeros"
                ]
            );
            lane.then_some(K::Lane)
        }
        _ => None,
    }
}

/// The kind of an expression, when the pass can tell it.
fn kind(e: &AExpr, kinds: &HashMap<BindingId, K>, scalars: &HashSet<String>) -> Option<K> {
    match e {
        AExpr::Var(b) => kinds.get(&b.id).copied(),
        AExpr::Data(d) => data_kind(d, scalars),
        AExpr::Unary(u, x, _) => {
            let kx = kind(x, kinds, scalars)?;
            match u.out() {
                Out::Same => Some(kx),
                Out::Scalar if *u == Unary::Named("sum") && kx == K::Col => Some(K::Scalar),
                _ => None,
            }
        }
        AExpr::Binary(op, a, b, _) if op.elementwise() => {
            // Broadcasting: a scalar with anything, or two of the same kind.
            match (kind(a, kinds, scalars)?, kind(b, kinds, scalars)?) {
                (K::Scalar, k) | (k, K::Scalar) => Some(k),
                (ka, kb) => (ka == kb).then_some(ka),
            }
        }
        AExpr::WithData(WithData::Gather | WithData::Segment, x, ..) => {
            (kind(x, kinds, scalars)? == K::Col).then_some(K::Lane)
        }
        AExpr::WithData(WithData::Index, x, idx, _) if idx.len() == 1 => {
            (kind(x, kinds, scalars)? == K::Col).then_some(K::Scalar)
        }
        _ => None,
    }
}

/// Whether `e` reads a gather, a segment or shifted data: what fusing is for.
fn reads_lanes_indirectly(e: &AExpr) -> bool {
    match e {
        AExpr::WithData(WithData::Gather | WithData::Segment, ..) => true,
        AExpr::Data(d) => d
            .to_token_stream()
            .into_iter()
            .any(|t| matches!(t, proc_macro2::TokenTree::Ident(i) if i == "lane_shift")),
        AExpr::Unary(_, x, _) | AExpr::WithData(_, x, ..) => reads_lanes_indirectly(x),
        AExpr::Binary(_, a, b, _) => reads_lanes_indirectly(a) || reads_lanes_indirectly(b),
        AExpr::Set(..) | AExpr::Nary(..) | AExpr::Var(_) => false,
    }
}

/// Builds the lane trees of one statement, lowering what runs before the loop.
struct Build<'a> {
    low: Lowering,
    kinds: &'a HashMap<BindingId, K>,
    scalars: &'a HashSet<String>,
    leaves: Vec<Leaf>,
    /// Readers of data and of gathers' and segments' data parameters, before the loop.
    pre: Vec<TokenStream>,
    next: usize,
    /// Whether the adjoint handed to [`Build::backward`] is the fused Normal's residual
    /// without its factor `1 / sigma^2` (`__fq.inv2`): the scalars' sums and the gathers'
    /// scratch adjoints (`__fz`) take it as it is and are scaled once after the loop, an
    /// adjoint per lane is scaled as it is written.
    unscaled: bool,
    /// The leaves whose gathers add into a scratch adjoint (with [`Build::unscaled`]).
    scratched: HashSet<usize>,
}

impl Build<'_> {
    fn fresh(&mut self, what: &str) -> Ident {
        self.next += 1;
        format_ident!("__f{}{}", what, self.next)
    }

    fn leaf(&mut self, v: V, how: How) -> Option<usize> {
        let (value, grad) = match &v {
            V::Var(b) => (vname(b), Some(gname(b))),
            V::Temp(t, g) => (t.clone(), Some(g.clone())),
            V::Value(t) => (t.clone(), None),
            V::Data(..) => return None,
        };
        if let Some(k) = self.leaves.iter().position(|l| l.value == value) {
            // One reader and one adjoint buffer per value.
            return (self.leaves[k].how == how).then_some(k);
        }
        self.leaves.push(Leaf { value, grad, how });
        Some(self.leaves.len() - 1)
    }

    fn data(&mut self, d: &Expr) -> Option<F> {
        let lane = data_kind(d, self.scalars)? == K::Lane;
        let V::Data(op, _) = self.low.data(d) else {
            return None;
        };
        let r = self.fresh("d");
        self.pre.push(if lane {
            quote!(let #r: &[f64] = &#op.f64s()[..__fn];)
        } else {
            quote!(let #r: f64 = #op.f64s()[0];)
        });
        Some(F::Data(r, lane))
    }

    /// The tree of an operand whose kind is `Lane` or `Scalar`.
    fn tree(&mut self, e: &AExpr) -> Option<F> {
        let k = kind(e, self.kinds, self.scalars)?;
        if k == K::Col {
            return None;
        }
        match e {
            AExpr::Data(d) => self.data(d),
            AExpr::Var(b) => {
                let how = if k == K::Lane { How::Lane } else { How::Scalar };
                Some(F::Val(self.leaf(V::Var(b.clone()), how)?))
            }
            // Scalars are computed once, before the loop.
            _ if k == K::Scalar => {
                let v = self.low.lower(e, None);
                Some(F::Val(self.leaf(v, How::Scalar)?))
            }
            // A sum of several numbers per lane (`alpha + beta[0] * y[t - 1] + ...`): added
            // in pairs, so that the lane's chain of dependent additions is shorter (the
            // order of a sum, as the vectorised kernels change it too).
            AExpr::Binary(Binary::Add, ..) => {
                let mut terms = Vec::new();
                self.terms(e, &mut terms);
                let mut fs = terms
                    .into_iter()
                    .map(|t| self.tree(t))
                    .collect::<Option<Vec<F>>>()?;
                while fs.len() > 1 {
                    let mut next = Vec::with_capacity(fs.len().div_ceil(2));
                    let mut it = fs.into_iter();
                    while let Some(a) = it.next() {
                        next.push(match it.next() {
                            Some(b) => F::Bin(Binary::Add, Box::new(a), Box::new(b)),
                            None => a,
                        });
                    }
                    fs = next;
                }
                fs.pop()
            }
            AExpr::Binary(op @ (Binary::Sub | Binary::Mul | Binary::Div), a, b, _) => {
                let (a, b) = (self.tree(a)?, self.tree(b)?);
                Some(F::Bin(*op, Box::new(a), Box::new(b)))
            }
            AExpr::Unary(Unary::Neg, x, _) => Some(F::Neg(Box::new(self.tree(x)?))),
            AExpr::WithData(w @ (WithData::Gather | WithData::Segment), x, params, _) => {
                let base = self.low.lower(x, None);
                let base = self.leaf(base, How::Base)?;
                let first = &params[0];
                if *w == WithData::Gather {
                    let idx = self.fresh("i");
                    let off = params.get(1)?;
                    self.pre
                        .push(quote!(let #idx: &[usize] = &(#first)[..__fn];));
                    let sub = match super::kernel_call::strip(off) {
                        Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Int(i),
                            ..
                        }) if matches!(i.suffix(), "" | "usize") => {
                            let lit =
                                syn::LitInt::new(&format!("{}usize", i.base10_digits()), i.span());
                            quote!(#lit)
                        }
                        _ => {
                            let sub = self.fresh("s");
                            self.pre.push(quote!(let #sub: usize = #off;));
                            quote!(#sub)
                        }
                    };
                    Some(F::Gather(base, idx, sub, self.fresh("j")))
                } else {
                    let start = self.fresh("s");
                    self.pre.push(quote!(let #start: usize = #first;));
                    Some(F::Segment(base, start))
                }
            }
            // Any other number per lane: the usual rules, before the loop.
            _ => {
                let v = self.low.lower(e, None);
                Some(F::Val(self.leaf(v, How::Lane)?))
            }
        }
    }

    /// The terms of a sum of numbers per lane, in order (sums of scalars are one term).
    fn terms<'e>(&self, e: &'e AExpr, out: &mut Vec<&'e AExpr>) {
        match e {
            AExpr::Binary(Binary::Add, a, b, _)
                if kind(e, self.kinds, self.scalars) == Some(K::Lane) =>
            {
                self.terms(a, out);
                self.terms(b, out);
            }
            e => out.push(e),
        }
    }

    /// Whether `f` is one number in every lane (a scalar leaf or scalar data).
    fn invariant(&self, f: &F) -> bool {
        match f {
            F::Data(_, lane) => !lane,
            F::Val(l) => self.leaves[*l].how == How::Scalar,
            _ => false,
        }
    }

    fn active(&self, f: &F) -> bool {
        match f {
            F::Data(..) => false,
            F::Val(l) | F::Gather(l, ..) | F::Segment(l, _) => self.leaves[*l].grad.is_some(),
            F::Neg(x) => self.active(x),
            F::Bin(_, a, b) => self.active(a) || self.active(b),
        }
    }

    /// The statements computing `f` for lane `__fk` (into `out`), and its value; the values
    /// of the nodes the backward code reads go into `vals` (by node).
    fn forward(
        &mut self,
        f: &F,
        out: &mut Vec<TokenStream>,
        vals: &mut HashMap<*const F, TokenStream>,
    ) -> TokenStream {
        let v = match f {
            F::Data(r, true) => {
                // Read once into a local: a store into an adjoint between two reads would
                // make the compiler read it again.
                let v = self.fresh("x");
                out.push(quote!(let #v: f64 = #r[__fk];));
                quote!(#v)
            }
            F::Data(r, false) => quote!(#r),
            F::Val(l) => {
                let r = reader(*l);
                match self.leaves[*l].how {
                    How::Lane => quote!(#r[__fk]),
                    _ => quote!(#r),
                }
            }
            F::Gather(l, idx, sub, j) => {
                let r = reader(*l);
                out.push(quote!(let #j: usize = #idx[__fk] - #sub;));
                quote!(#r[#j])
            }
            F::Segment(l, start) => {
                let r = reader(*l);
                quote!(#r[#start + __fk])
            }
            F::Neg(x) => {
                let x = self.forward(x, out, vals);
                quote!((-#x))
            }
            F::Bin(op, a, b) => {
                let (a, b) = (self.forward(a, out, vals), self.forward(b, out, vals));
                let v = self.fresh("v");
                let e = match op {
                    Binary::Add => quote!(#a + #b),
                    Binary::Sub => quote!(#a - #b),
                    Binary::Mul => quote!(#a * #b),
                    _ => quote!(#a / #b),
                };
                out.push(quote!(let #v: f64 = #e;));
                quote!(#v)
            }
        };
        vals.insert(std::ptr::from_ref(f), v.clone());
        v
    }

    /// The backward statements of `f` for lane `__fk` given its adjoint `g` (an expression
    /// of the forward code's locals).
    fn backward(
        &self,
        f: &F,
        g: TokenStream,
        vals: &HashMap<*const F, TokenStream>,
    ) -> TokenStream {
        if !self.active(f) {
            return quote!();
        }
        match f {
            F::Data(..) => quote!(),
            F::Val(l) => {
                let a = adjoint(*l);
                match (self.leaves[*l].how, self.unscaled) {
                    (How::Lane, false) => quote!(#a[__fk] += #g;),
                    (How::Lane, true) => quote!(#a[__fk] += (#g) * __fq.inv2;),
                    _ => quote!(#a += #g;),
                }
            }
            F::Gather(l, _, _, j) if self.scratched.contains(l) => {
                let z = scratch(*l);
                quote!(#z[#j] += #g;)
            }
            F::Gather(l, _, _, j) if self.unscaled => {
                let a = adjoint(*l);
                quote!(#a[#j] += (#g) * __fq.inv2;)
            }
            F::Gather(l, _, _, j) => {
                let a = adjoint(*l);
                quote!(#a[#j] += #g;)
            }
            F::Segment(l, start) if self.unscaled => {
                let a = adjoint(*l);
                quote!(#a[#start + __fk] += (#g) * __fq.inv2;)
            }
            F::Segment(l, start) => {
                let a = adjoint(*l);
                quote!(#a[#start + __fk] += #g;)
            }
            F::Neg(x) => self.backward(x, quote!(-(#g)), vals),
            F::Bin(op, x, y) => {
                let (vx, vy) = (
                    &vals[&std::ptr::from_ref(&**x)],
                    &vals[&std::ptr::from_ref(&**y)],
                );
                let (gx, gy) = match op {
                    Binary::Add => (quote!(__fg), quote!(__fg)),
                    Binary::Sub => (quote!(__fg), quote!(-__fg)),
                    Binary::Mul => (quote!(__fg * #vy), quote!(__fg * #vx)),
                    _ => (quote!(__fg / #vy), quote!(-__fg * #vx / (#vy * #vy))),
                };
                let bx = self.backward(x, gx, vals);
                let by = self.backward(y, gy, vals);
                quote!({ let __fg: f64 = #g; #bx #by })
            }
        }
    }
}

/// Statements cutting the lanes' data and index slices `f` reads to the lanes' length.
fn lane_slices(f: &F, out: &mut Vec<TokenStream>) {
    match f {
        F::Data(r, true) | F::Gather(_, r, ..) => out.push(quote!(let #r = &#r[..__fn];)),
        F::Neg(x) => lane_slices(x, out),
        F::Bin(_, x, y) => {
            lane_slices(x, out);
            lane_slices(y, out);
        }
        _ => {}
    }
}

fn reader(l: usize) -> Ident {
    format_ident!("__fr{}", l)
}

fn adjoint(l: usize) -> Ident {
    format_ident!("__fa{}", l)
}

/// A gather's scratch adjoint in a fused Normal loop (see [`Build::unscaled`]).
fn scratch(l: usize) -> Ident {
    format_ident!("__fz{}", l)
}

/// Whether `f` reads leaf `l` through a gather (`gather`) or otherwise.
fn reads(f: &F, l: usize, gather: bool) -> bool {
    match f {
        F::Gather(k, ..) => gather && *k == l,
        F::Val(k) | F::Segment(k, _) => !gather && *k == l,
        F::Neg(x) => reads(x, l, gather),
        F::Bin(_, x, y) => reads(x, l, gather) || reads(y, l, gather),
        F::Data(..) => false,
    }
}

impl Emitter<'_> {
    /// A distribution statement of a vectorised loop in the gradient, fused (see the
    /// module's documentation), or `None` to emit it as usual.
    pub(super) fn fused_kernel(
        &self,
        src: usize,
        first: First<'_>,
        dist: &DistInfo,
        args: &[Operand],
        m: Mode,
    ) -> Option<TokenStream> {
        if !m.pass.adjoints()
            || dist.slice_kernel()
            || dist.support.multivariate()
            || dist.support == Support::Flat
        {
            return None;
        }
        let (_, range, _) = self.m.lane_stmts.iter().find(|(s, ..)| *s == src)?;
        let value = match first {
            First::Data(d) => AExpr::Data(d.clone()),
            First::Active(x) => x.clone(),
            First::Latent(_) => return None,
        };
        let mut operands = vec![value];
        operands.extend(args.iter().map(|a| match a {
            Operand::Data(d) => AExpr::Data(d.clone()),
            Operand::Active(x) => x.clone(),
        }));
        if !operands.iter().any(reads_lanes_indirectly) {
            return None;
        }
        let kinds = binding_kinds(self.m);
        let scalars = scalar_args(self.m);
        let mut b = Build {
            low: self.lowering(src),
            kinds: &kinds,
            scalars: &scalars,
            leaves: Vec::new(),
            pre: Vec::new(),
            next: 0,
            unscaled: false,
            scratched: HashSet::new(),
        };
        let trees = operands
            .iter()
            .map(|e| b.tree(e))
            .collect::<Option<Vec<F>>>()?;
        // The lanes' operands.
        let mut readers = Vec::new();
        let mut after = Vec::new();
        for (l, leaf) in b.leaves.iter().enumerate() {
            let (r, a, v) = (reader(l), adjoint(l), &leaf.value);
            readers.push(match leaf.how {
                How::Scalar => quote!(let #r: f64 = ::vi::__private::fused_scalar(&#v);),
                How::Lane => quote!(let #r: &[f64] = ::vi::__private::fused_lanes(&#v, __fn);),
                How::Base => quote!(let #r: &[f64] = ::vi::__private::ad::flat(&#v);),
            });
            let Some(g) = &leaf.grad else { continue };
            readers.push(match leaf.how {
                How::Scalar => {
                    after.push(quote!(::vi::__private::fused_add_scalar(&mut #g, #a);));
                    quote!(let mut #a: f64 = 0.0;)
                }
                How::Lane => {
                    quote!(let #a: &mut [f64] = ::vi::__private::fused_lanes_mut(&mut #g, __fn);)
                }
                // The base and its adjoint cut to one length (they have the same), so that
                // one bounds check per lane covers both.
                How::Base => quote! {
                    let #a: &mut [f64] = ::vi::__private::ad::flat_mut(&mut #g);
                    let (#r, #a) = ::vi::__private::fused_same_len(#r, #a);
                },
            });
        }
        let mut vals = HashMap::new();
        let mut body = Vec::new();
        let xs: Vec<TokenStream> = trees
            .iter()
            .map(|t| b.forward(t, &mut body, &mut vals))
            .collect();
        let want: Vec<bool> = trees.iter().map(|t| b.active(t)).collect();
        let backs = trees.iter().enumerate().map(|(i, t)| {
            let g = quote!(__fp[#i]);
            b.backward(t, g, &vals)
        });
        let memo = format_ident!("__k{}", src);
        let lp = format_ident!("__lp{}", src);
        // A Normal whose scale is one number for every lane: the lanes' residuals and the
        // sum of their squares (`fused_normal_prep`), the density and the scale's adjoint
        // once after the loop.
        let lane_loop = if dist.name == "Normal" && trees.len() == 3 && b.invariant(&trees[2]) {
            let sigma = &xs[2];
            let (y, mu) = (&xs[0], &xs[1]);
            // Every adjoint of `y` and `mu` is the residual times `1 / sigma^2` times what
            // the tree multiplies it by: the factor is applied once after the loop to the
            // scalars' sums and the gathers' scratch adjoints (not per lane), as a
            // hand-written gradient does.
            b.unscaled = true;
            // A base read only through gathers gets a scratch adjoint.
            b.scratched = (0..b.leaves.len())
                .filter(|&l| {
                    b.leaves[l].grad.is_some()
                        && b.leaves[l].how == How::Base
                        && trees.iter().any(|t| reads(t, l, true))
                        && !trees.iter().any(|t| reads(t, l, false))
                })
                .collect();
            let gy = b.backward(&trees[0], quote!(-__fres), &vals);
            let gmu = b.backward(&trees[1], quote!(__fres), &vals);
            b.unscaled = false;
            let gs = b.backward(&trees[2], quote!(__fds), &vals);
            // The loop in a function of its own (`fused_outlined`), its operands moved in
            // and the scalars' adjoints handed back.
            let sa: Vec<Ident> = b
                .leaves
                .iter()
                .enumerate()
                .filter(|(_, l)| l.how == How::Scalar && l.grad.is_some())
                .map(|(l, _)| adjoint(l))
                .collect();
            // Inside it, the slices cut again to the lanes' length and a base to its
            // adjoint's, which the captures do not tell the compiler: no bounds check per
            // lane for a lane's read, one for a gather's.
            let mut cut = Vec::new();
            for t in &trees {
                lane_slices(t, &mut cut);
            }
            // A gathered base's scratch adjoint (zeros of the base's length), scaled and
            // added into the adjoint after the loop; a base also read as a segment keeps
            // writing its adjoint in the loop too.
            let mut scratches = Vec::new();
            let mut scaled = Vec::new();
            for (l, leaf) in b.leaves.iter().enumerate() {
                let (r, a, z) = (reader(l), adjoint(l), scratch(l));
                let zv = format_ident!("__fzv{}", l);
                let gathered = b.scratched.contains(&l);
                match (leaf.how, leaf.grad.is_some()) {
                    (How::Lane, true) => cut.push(quote! {
                        let #r = &#r[..__fn];
                        let #a = &mut #a[..__fn];
                    }),
                    (How::Lane, false) => cut.push(quote!(let #r = &#r[..__fn];)),
                    (How::Base, true) if gathered => {
                        scratches.push(quote! {
                            let mut #zv: ::std::vec::Vec<f64> = ::vi::__private::fused_scratch(#r.len());
                            let #z: &mut [f64] = &mut #zv;
                        });
                        cut.push(quote!(let (#r, #z) = ::vi::__private::fused_same_len(#r, #z);));
                        scaled.push(quote!(::vi::__private::fused_add_scaled(#a, #zv, __fq.inv2);));
                    }
                    (How::Base, true) => {
                        cut.push(quote!(let (#r, #a) = ::vi::__private::fused_same_len(#r, #a);))
                    }
                    (How::Scalar, true) => scaled.push(quote!(#a *= __fq.inv2;)),
                    _ => {}
                }
            }
            quote! {
                let __fq = ::vi::__private::fused_normal_prep(#sigma);
                #(#scratches)*
                let __fss: f64;
                (__fss, #(#sa,)*) = ::vi::__private::fused_outlined(move || {
                    #(#cut)*
                    let mut __fss: f64 = 0.0;
                    for __fk in 0..__fn {
                        #(#body)*
                        let __fres: f64 = #y - #mu;
                        __fss += __fres * __fres;
                        #gy
                        #gmu
                    }
                    (__fss, #(#sa,)*)
                });
                #(#scaled)*
                let (__fl, __fds) = ::vi::__private::fused_normal_finish(&__fq, __fss, __fn);
                #gs
            }
        } else {
            quote! {
                let mut __fl: f64 = 0.0;
                for __fk in 0..__fn {
                    #(#body)*
                    let (__fe, __fp) = ::vi::__private::fused_elem(
                        &mut #memo,
                        [#(#xs),*],
                        [#(#want),*],
                    );
                    __fl += __fe;
                    #(#backs)*
                }
            }
        };
        let acc = if m.pass.density() {
            quote!(__lp += #lp;)
        } else {
            quote!()
        };
        let pre = &b.pre;
        let fwd = b.low.forward();
        let adjs = b.low.adjoints();
        let rev = b.low.reverse();
        let done = b.low.recycle_temps(true);
        let fused = quote! {
            let __fn: usize = ::core::iter::ExactSizeIterator::len(&#range);
            #fwd
            #adjs
            let #lp: f64 = {
                #(#pre)*
                #(#readers)*
                #lane_loop
                #(#after)*
                __fl
            };
            #acc
            #rev
            #done
        };
        let (low, vals) = self.kernel_operands(src, first, args);
        let (fwd, adjs, rev, done) = (
            low.forward(),
            low.adjoints(),
            low.reverse(),
            low.recycle_temps(true),
        );
        let c = kernel_dispatch(src, dist, &vals, true);
        Some(quote! {
            if ::vi::__private::fused_serial(::core::iter::ExactSizeIterator::len(&#range)) {
                #fused
            } else {
                #fwd #adjs let #lp = #c; #acc #rev #done
            }
        })
    }
}

#[cfg(test)]
mod tests {
    /// The gradient function of a model's expansion, as text.
    fn grad_fn(src: &str) -> String {
        let out = crate::run(src.parse().expect("tokens")).to_string();
        assert!(!out.contains("compile_error"), "{out}");
        let start = out.find("fn __grad").expect("a gradient function");
        let end = out[start..]
            .find("fn __sim")
            .expect("the function after it");
        out[start..start + end].to_string()
    }

    const RADON: &str = "fn m(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }";

    #[test]
    fn a_gather_and_shifted_lags_run_as_one_loop_with_the_vector_form_for_many_rows() {
        // A Normal with one scale: residuals and their squares' sum, no one-element kernel.
        let g = grad_fn(RADON);
        assert_eq!(g.matches("fused_normal_prep").count(), 1, "{g}");
        assert!(!g.contains("fused_elem"), "{g}");
        // One scatter-add into `a`'s adjoint, one loop, and the threaded form kept.
        assert!(g.contains("for __fk in 0 .. __fn"), "{g}");
        assert!(g.contains("fused_serial"), "{g}");
        assert!(g.contains("Ops3"), "{g}");
        let g = grad_fn(
            "fn m(y: &[f64]) {
                let alpha ~ Normal(0.0, 10.0);
                let beta ~ Normal(0.0, 10.0).iid(2);
                let sigma ~ HalfCauchy(2.5);
                for t in 2..y.len() {
                    y[t] ~ Normal(alpha + beta[0] * y[t - 1] + beta[1] * y[t - 2], sigma);
                }
            }",
        );
        assert_eq!(g.matches("fused_normal_prep").count(), 1, "{g}");
        // `~` on a segment of a latent (Stan's stochastic volatility): the value's adjoint
        // too, written lane by lane into the segment's (and the observation, which reads
        // `h[t]`, a segment at no shift).
        let g = grad_fn(
            "fn m(y: &[f64]) {
                let mu ~ Normal(0.0, 1.0);
                let phi ~ Uniform(-1.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                let h ~ Flat.iid(y.len());
                h[0] ~ Normal(mu, sigma);
                for t in 1..y.len() {
                    h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma);
                }
                for t in 0..y.len() {
                    y[t] ~ Normal(0.0, (h[t] / 2.0).exp());
                }
            }",
        );
        // `h[t]`'s statement has one scale (the residuals' path, the value's adjoint minus
        // the location's); `y[t]`'s has a scale per lane (the one-element kernel).
        assert_eq!(g.matches("fused_normal_prep").count(), 1, "{g}");
        assert_eq!(g.matches("fused_elem").count(), 1, "{g}");
        // The segment's adjoints per lane, scaled as written (`- __fres` for the value).
        assert!(g.contains("+= (- __fres) * __fq . inv2"), "{g}");
        assert!(g.contains("[false , false , true]"), "{g}");
    }

    #[test]
    fn statements_without_an_indirect_read_or_with_an_unknown_part_are_not_fused() {
        // A plain regression loop: the vectorised kernel (and its sufficient statistics).
        let g = grad_fn(
            "fn m(x: &[f64], y: &[f64]) {
                let b ~ Normal(0.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                for i in 0..y.len() {
                    y[i] ~ Normal(b * x[i], sigma);
                }
            }",
        );
        assert!(
            !g.contains("fused_elem") && !g.contains("fused_normal"),
            "{g}"
        );
        // Kept per iteration by a data statement.
        let g =
            grad_fn(&RADON.replace("for i in 0..y.len() {", "for i in 0..y.len() { let _k = i;"));
        assert!(
            !g.contains("fused_elem") && !g.contains("fused_normal"),
            "{g}"
        );
        // A data value the pass cannot tell the shape of (a data `let`).
        let g = grad_fn(
            "fn m(g: &[usize], y: &[f64]) {
                let a ~ Normal(0.0, 1.0).iid(3);
                let s = 2.0;
                for i in 0..y.len() {
                    y[i] ~ Normal(a[g[i]] * s, 1.0);
                }
            }",
        );
        assert!(
            !g.contains("fused_elem") && !g.contains("fused_normal"),
            "{g}"
        );
    }
}
