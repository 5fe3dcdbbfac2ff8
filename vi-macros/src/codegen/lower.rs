// Longer than 800 lines: one type, `Lowering` (an expression in A-normal form with its
// forward and backward calls), with its naming helpers; every rule kind is one arm of its
// match, and a reader follows one arm.
//! The reverse sweep: an active expression ([`AExpr`]) becomes a straight list of rule calls
//! (A-normal form), each with its forward call and, in reverse order, its backward call.
//!
//! Names are deterministic per statement (`__t{stmt}_{k}` for values, `__gt{stmt}_{k}` for
//! their adjoints, `__d{stmt}_{k}` for data operands), so the same statement can be emitted
//! once forward and later swept back (or recomputed and swept back, in a replayed loop)
//! with both halves agreeing on names.

use std::collections::HashMap;
use std::rc::Rc;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Expr, Ident};

use crate::catalogue::{Binary, Density, Nary, Unary, WithData};
use crate::ir::{AExpr, Binding};

/// The ident holding the value of a binding.
pub fn vname(b: &Binding) -> Ident {
    format_ident!(
        "__v{}_{}",
        b.id,
        b.name.to_string().trim_start_matches("r#"),
        span = b.name.span()
    )
}

/// The ident holding the adjoint of a binding.
pub fn gname(b: &Binding) -> Ident {
    format_ident!(
        "__g{}_{}",
        b.id,
        b.name.to_string().trim_start_matches("r#"),
        span = b.name.span()
    )
}

/// The ident holding the undo log of state written in place (see [`WriteMode`]).
pub fn uname(b: &Binding) -> Ident {
    format_ident!(
        "__u{}_{}",
        b.id,
        b.name.to_string().trim_start_matches("r#"),
        span = b.name.span()
    )
}

/// How an element write `v[i] = x` on state written in place (a `Set` whose result is the
/// vector it writes into) updates the vector, by the run it is part of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// A run without a reverse sweep: write, keep nothing.
    #[default]
    Plain,
    /// The first run before a sweep: log the old value and adjoint, then write.
    Tape,
    /// A recomputation of a loop iteration or branch whose writes are already logged.
    Redo,
}

/// A value produced or used by a rule call.
#[derive(Clone, Debug)]
pub enum V {
    /// An active binding.
    Var(Binding),
    /// A temporary (active).
    Temp(Ident, Ident),
    /// A data operand: the ident holds the value as the rules see it (`Cow` of a value type)
    /// or, for a distribution, `&DataOp` (the data and its `f64`s); the span is the user's
    /// expression.
    Data(Ident, Span),
    /// A value the rules computed from data only (`exposure.ln()`, `total - cum`): a value
    /// type like a temporary's, with no adjoint (data to the rules that read it).
    Value(Ident),
}

impl V {
    /// `&value` for a rule call.
    pub fn arg(&self) -> TokenStream {
        match self {
            V::Var(b) => {
                let v = vname(b);
                quote!(&#v)
            }
            V::Temp(t, _) | V::Value(t) => quote!(&#t),
            V::Data(d, span) => quote_spanned!(*span=> &*#d),
        }
    }

    /// The value as a flat slice (`ad::flat`) for a kernel, or the data as `f64`s.
    pub fn flat(&self) -> TokenStream {
        match self {
            V::Var(_) | V::Temp(..) | V::Value(_) => {
                let a = self.arg();
                quote!(::vi::__private::ad::flat(#a))
            }
            V::Data(d, span) => quote_spanned!(*span=> #d.f64s()),
        }
    }

    /// `Some(&mut adjoint)` or `None` for data.
    pub fn grad_opt(&self) -> TokenStream {
        match self.grad() {
            Some(g) => quote!(::core::option::Option::Some(&mut #g)),
            None => quote!(::core::option::Option::None),
        }
    }

    /// The adjoint's ident, for active values.
    pub fn grad(&self) -> Option<Ident> {
        match self {
            V::Var(b) => Some(gname(b)),
            V::Temp(_, g) => Some(g.clone()),
            V::Data(..) | V::Value(_) => None,
        }
    }

    /// Whether both are the same active binding.
    pub fn same_var(&self, other: &V) -> bool {
        matches!((self, other), (V::Var(a), V::Var(b)) if a.id == b.id)
    }
}

enum Kind {
    Unary(Unary),
    Binary(Binary),
    /// `a * b + c` (or `c + a * b`), fused: one output and one adjoint instead of two.
    MulAdd,
    WithData(WithData, Vec<Ident>),
    Set(Vec<Ident>),
    /// `log_mix`, or a distribution's log density or log CDF as a value (its partials are
    /// written in the forward call and scaled by the output's adjoint in the sweep).
    Nary(Nary),
    /// A value computed from data that depends only on the model's arguments, kept in the
    /// model's `DataCache` ([`ValueSlots`]): the forward code computing it, its result,
    /// the slot.
    Cached(TokenStream, Ident, usize),
}

/// The slots of the model's `DataCache` holding values the rules compute from data that
/// depends only on the model's arguments (`exposure.ln()` in `PoissonLog(exposure.ln() +
/// alpha)`): computed once per model rather than at every evaluation. Slots are numbered
/// after the data operands' (`base` of them) as statements are lowered, keyed by
/// (statement, the expression's debug text), so every body that lowers the statement reads
/// the same slot. A slot numbered after the cache was sized is computed at every call.
pub struct ValueSlots {
    base: usize,
    keys: std::cell::RefCell<HashMap<(usize, String), usize>>,
}

impl ValueSlots {
    /// No value slots yet, after `base` slots of data operands.
    pub fn new(base: usize) -> Rc<Self> {
        Rc::new(ValueSlots {
            base,
            keys: Default::default(),
        })
    }

    /// The number of slots the cache needs: the data operands' and the values'.
    pub fn count(&self) -> usize {
        self.base + self.keys.borrow().len()
    }

    fn slot(&self, key: (usize, String)) -> usize {
        let mut keys = self.keys.borrow_mut();
        let next = self.base + keys.len();
        *keys.entry(key).or_insert(next)
    }
}

struct Op {
    out: V,
    kind: Kind,
    args: Vec<V>,
    span: Span,
}

/// A data operand of a rule or a distribution.
struct DataOperand {
    /// Holds the converted value ([`V::Data`]).
    d: Ident,
    /// Holds `&(expr)`; spanned at the expression's last token.
    src: Ident,
    /// The expression (number literals made `f64`).
    e: TokenStream,
    /// The expression's first token.
    first: Span,
    /// Its slot in the model's `DataCache` when it depends only on the model's arguments.
    slot: Option<usize>,
    /// An element of data (`x[i]`, `m[(i, j)]`): the value, its index and the value's text,
    /// read with an index error that names them (`__private::DataAt`).
    element: Option<(Expr, Expr, String)>,
}

/// Data operands that depend only on the model's arguments: (statement, expression's
/// tokens as text) -> slot in the model's `DataCache`.
pub type CacheSlots = Rc<HashMap<(usize, String), usize>>;

/// One statement's rule calls.
pub struct Lowering {
    stmt: usize,
    next: usize,
    /// Data parameters (indices, exponents): `let __d = expr;`.
    data: Vec<TokenStream>,
    /// Data operands, bound and converted in [`Lowering::forward`].
    operands: Vec<DataOperand>,
    ops: Vec<Op>,
    slots: Option<CacheSlots>,
    /// How element writes into state written in place are emitted.
    write: WriteMode,
    /// Whether the forward calls of densities keep their partials (a sweep follows).
    partials: bool,
    /// The variables of the `for` loops around the statement (ranges of integers), named in
    /// index errors.
    loops: Vec<syn::Ident>,
    /// Where values computed from the model's arguments only are kept (none inside such a
    /// value's own lowering).
    values: Option<Rc<ValueSlots>>,
}

impl Lowering {
    /// A lowering for statement `stmt` (its source index: names are unique per statement).
    pub fn new(stmt: usize) -> Self {
        Lowering {
            stmt,
            next: 0,
            data: Vec::new(),
            operands: Vec::new(),
            ops: Vec::new(),
            slots: None,
            write: WriteMode::Plain,
            partials: true,
            loops: Vec::new(),
            values: None,
        }
    }

    /// Values computed by the rules from data that depends only on the model's arguments
    /// are kept in `values`' slots of `self.__cache`.
    pub fn with_values(mut self, values: &Rc<ValueSlots>) -> Self {
        self.values = Some(values.clone());
        self
    }

    /// Whether `e` is computed by the rules from data that depends only on the model's
    /// arguments (operands in the cache's slots, or number literals), so its value can be
    /// kept for the model. Element reads and writes (indices may change) and densities are
    /// left out.
    fn on_arguments(&self, e: &AExpr) -> bool {
        use quote::ToTokens;
        match e {
            AExpr::Data(d) => {
                matches!(strip(d), Expr::Lit(_))
                    || self.slots.as_ref().is_some_and(|s| {
                        s.contains_key(&(self.stmt, d.to_token_stream().to_string()))
                    })
            }
            AExpr::Unary(_, x, _) => self.on_arguments(x),
            AExpr::Binary(_, a, b, _) => self.on_arguments(a) && self.on_arguments(b),
            AExpr::Nary(Nary::Ternary(_), xs, _) => xs.iter().all(|x| self.on_arguments(x)),
            _ => false,
        }
    }

    /// `e`, computed from the model's arguments only (see [`Lowering::on_arguments`]),
    /// kept in a slot of the cache: its own lowering runs once per model.
    fn cached_value(&mut self, e: &AExpr, values: &Rc<ValueSlots>) -> V {
        let slot = values.slot((self.stmt, format!("{e:?}")));
        let mut inner = Lowering::new(self.stmt);
        inner.next = self.next;
        inner.slots = self.slots.clone();
        inner.loops = self.loops.clone();
        let v = inner.lower_inner(e, None);
        self.next = inner.next;
        let V::Value(result) = v else {
            // Not computed (a literal): nothing to keep.
            return v;
        };
        let code = inner.forward();
        let out = self.temp_value();
        self.ops.push(Op {
            out: out.clone(),
            kind: Kind::Cached(code, result, slot),
            args: Vec::new(),
            span: Span::call_site(),
        });
        out
    }

    fn temp_value(&mut self) -> V {
        let k = self.next;
        self.next += 1;
        V::Value(format_ident!("__t{}_{}", self.stmt, k))
    }

    /// The forward calls of densities need not keep their partials: no sweep of this
    /// lowering follows.
    pub fn without_partials(&mut self) {
        self.partials = false;
    }

    /// Index errors name the values of these loop variables.
    pub fn with_loops(mut self, loops: Vec<syn::Ident>) -> Self {
        self.loops = loops;
        self
    }

    /// Data operands listed in `slots` are converted once and kept in `self.__cache`.
    pub fn with_cache(mut self, slots: &CacheSlots) -> Self {
        self.slots = Some(slots.clone());
        self
    }

    /// Sets how element writes into state written in place are emitted (forward code).
    pub fn write_mode(&mut self, mode: WriteMode) {
        self.write = mode;
    }

    fn temp(&mut self) -> V {
        let k = self.next;
        self.next += 1;
        V::Temp(
            format_ident!("__t{}_{}", self.stmt, k),
            format_ident!("__gt{}_{}", self.stmt, k),
        )
    }

    /// A data operand, bound once by reference and converted once per evaluation of the
    /// statement (or once for the model, when it depends only on the model's arguments).
    pub fn data(&mut self, e: &Expr) -> V {
        use quote::ToTokens;
        let k = self.next;
        self.next += 1;
        let span = span_of(e);
        let last = last_span_of(e);
        let slot = self.slots.as_ref().and_then(|s| {
            s.get(&(self.stmt, e.to_token_stream().to_string()))
                .copied()
        });
        let d = format_ident!("__d{}_{}", self.stmt, k, span = span);
        let src = format_ident!("__s{}_{}", self.stmt, k, span = last);
        let e_expr = e;
        // Unsuffixed number literals are `f64`s (the rules treat every number as one), so
        // their type is known where the rules are chosen.
        let e = match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(f),
                ..
            }) if f.suffix().is_empty() => {
                let l = syn::LitFloat::new(&format!("{}f64", f.base10_digits()), f.span());
                quote!(#l)
            }
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) if i.suffix().is_empty() => {
                let l = syn::LitFloat::new(&format!("{}.0f64", i.base10_digits()), i.span());
                quote!(#l)
            }
            e => quote!(#e),
        };
        let element = match strip(e_expr) {
            Expr::Index(ix) if !matches!(strip(&ix.index), Expr::Range(_)) => Some((
                (*ix.expr).clone(),
                (*ix.index).clone(),
                crate::parse::pretty(ix.expr.to_token_stream()),
            )),
            _ => None,
        };
        self.operands.push(DataOperand {
            d: d.clone(),
            src,
            e,
            first: span,
            slot,
            element,
        });
        V::Data(d, span)
    }

    /// The bindings of the data operands: `let __s = &(expr);` and its conversion, `Val` for
    /// operands of rules, `Flats` for a distribution's. The conversion's argument spans the
    /// user's expression, so a type that cannot be converted is reported under it.
    fn operand_bindings(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for o in &self.operands {
            let (d, src, e, first) = (&o.d, &o.src, &o.e, o.first);
            // The first rule taking this operand, and as which argument.
            let use_in_rule = self.ops.iter().find_map(|op| {
                // A density's data operands are a distribution's (below).
                if matches!(op.kind, Kind::Nary(Nary::Density(..))) {
                    return None;
                }
                let k = op
                    .args
                    .iter()
                    .position(|a| matches!(a, V::Data(x, _) if x == d))?;
                Some((&op.kind, k))
            });
            let arg = quote_spanned!(first=> &*#src);
            let cache = match o.slot {
                Some(k) => quote!(::core::option::Option::Some((&self.__cache, #k))),
                None => quote!(::core::option::Option::None),
            };
            let conv = match use_in_rule {
                Some((kind, k)) => {
                    // What stands in for data of the wrong type (already reported by
                    // `check_val`): a type this rule takes, so no error follows.
                    let stand_in = match (kind, k) {
                        (Kind::Binary(Binary::Dot), _) | (Kind::Set(_), 0) => {
                            quote!(::vi::__private::nalgebra::DVector<f64>)
                        }
                        _ => quote!(f64),
                    };
                    // The arithmetic rules take slices as columns; the others value types.
                    let value = match kind {
                        Kind::Binary(f) if f.arith() => quote!(),
                        Kind::MulAdd | Kind::Set(_) | Kind::Unary(Unary::Identity) => quote!(),
                        _ => quote!(let #d = ::vi::__private::as_value(#d);),
                    };
                    quote_spanned! {first=>
                        ::vi::data::check_numeric(#arg);
                        let #d = {
                            #[allow(unused_imports)]
                            use ::vi::__private::{ValKnown as _, ValPoison as _};
                            (&&::vi::__private::Data(#src)).val_or::<#stand_in>(#cache)
                        };
                        #value
                    }
                }
                None => {
                    // A distribution's operand: the data as written (the scalar kernels take
                    // numbers as they are) with its `f64`s.
                    let flat = match o.slot {
                        Some(k) => quote_spanned! {first=>
                            ::vi::data::observed_cached(&self.__cache, #k, #arg)
                        },
                        None => quote_spanned!(first=> ::vi::data::observed(#arg)),
                    };
                    let stats = stats_cell(o.slot);
                    quote_spanned! {first=>
                        let #d = &::vi::__private::DataOp { raw: #src, flat: #flat, stats: #stats };
                    }
                }
            };
            let bind = match &o.element {
                Some((base, index, what)) => {
                    let stmt = self.stmt;
                    let names = self.loops.iter().map(|i| i.to_string());
                    let vars = self.loops.iter();
                    quote_spanned! {first=>
                        let #src = {
                            #[allow(unused_imports)]
                            use ::vi::__private::{DataAtKnown as _, DataAtOther as _, DataAtRef as _};
                            (&&::vi::__private::DataAt(&(#base))).at(
                                #index,
                                #stmt,
                                #what,
                                || [#((#names, (#vars) as i64)),*],
                            )?
                        };
                    }
                }
                None => quote_spanned!(first=> let #src = &(#e);),
            };
            out.extend(quote_spanned!(first=> #bind #conv));
        }
        out
    }

    /// A data parameter (an index, an exponent), bound by value.
    fn param(&mut self, e: &Expr) -> Ident {
        let k = self.next;
        self.next += 1;
        let d = format_ident!("__d{}_{}", self.stmt, k);
        let span = span_of(e);
        self.data.push(quote_spanned!(span=> let #d = #e;));
        d
    }

    /// Lowers `e`; the root call writes into `out` when given (a `let`'s binding).
    pub fn lower(&mut self, e: &AExpr, out: Option<&Binding>) -> V {
        let v = self.lower_inner(e, out);
        match (out, &v) {
            (Some(b), V::Var(x)) if x.id == b.id => v,
            (Some(b), _) => {
                // A plain copy of another value (`let m = w;`) or of data.
                self.ops.push(Op {
                    out: V::Var(b.clone()),
                    kind: Kind::Unary(Unary::Identity),
                    args: vec![v],
                    span: b.name.span(),
                });
                V::Var(b.clone())
            }
            (None, _) => v,
        }
    }

    fn out_or_temp(&mut self, out: Option<&Binding>) -> V {
        match out {
            Some(b) => V::Var(b.clone()),
            None => self.temp(),
        }
    }

    /// Where a call's result goes: `out` when given; a [`V::Value`] (no adjoint) when no
    /// operand carries one (data-only arithmetic); a temporary otherwise.
    fn out_for(&mut self, out: Option<&Binding>, args: &[V]) -> V {
        if out.is_none() && args.iter().all(|a| a.grad().is_none()) {
            let k = self.next;
            self.next += 1;
            return V::Value(format_ident!("__t{}_{}", self.stmt, k));
        }
        self.out_or_temp(out)
    }

    /// Operands of one call must not alias the same variable mutably in the backward call:
    /// a repeated variable is copied.
    fn distinct(&mut self, args: &mut [V], span: Span) {
        for i in 1..args.len() {
            if (0..i).any(|j| args[j].same_var(&args[i])) {
                let t = self.temp();
                self.ops.push(Op {
                    out: t.clone(),
                    kind: Kind::Unary(Unary::Identity),
                    args: vec![args[i].clone()],
                    span,
                });
                args[i] = t;
            }
        }
    }

    /// Makes the operands of a distribution statement distinct variables.
    pub fn distinct_kernel(&mut self, vals: &mut [V]) {
        self.distinct(vals, Span::call_site());
    }

    fn lower_inner(&mut self, e: &AExpr, out: Option<&Binding>) -> V {
        if let Some(values) = self.values.clone() {
            if !matches!(e, AExpr::Data(_)) && self.on_arguments(e) {
                return self.cached_value(e, &values);
            }
        }
        match e {
            AExpr::Var(b) => V::Var(b.clone()),
            AExpr::Data(d) => self.data(d),
            AExpr::Unary(f, x, span) => {
                let x = self.lower_inner(x, None);
                let o = self.out_for(out, std::slice::from_ref(&x));
                self.ops.push(Op {
                    out: o.clone(),
                    kind: Kind::Unary(*f),
                    args: vec![x],
                    span: *span,
                });
                o
            }
            AExpr::Binary(f, l, r, span) if fused(*f, l, r).is_some() => {
                let Some((a, b, c)) = fused(*f, l, r) else {
                    return self.lower_binary(*f, l, r, *span, out);
                };
                let a = self.lower_inner(a, None);
                let b = self.lower_inner(b, None);
                let c = self.lower_inner(c, None);
                let mut args = vec![a, b, c];
                self.distinct(&mut args, *span);
                let o = self.out_for(out, &args);
                self.ops.push(Op {
                    out: o.clone(),
                    kind: Kind::MulAdd,
                    args,
                    span: *span,
                });
                o
            }
            AExpr::Binary(f, a, b, span) => self.lower_binary(*f, a, b, *span, out),
            AExpr::WithData(f, x, params, span) => {
                let x = self.lower_inner(x, None);
                let ps = params.iter().map(|p| self.param(p)).collect();
                let o = self.out_for(out, std::slice::from_ref(&x));
                self.ops.push(Op {
                    out: o.clone(),
                    kind: Kind::WithData(*f, ps),
                    args: vec![x],
                    span: *span,
                });
                o
            }
            AExpr::Nary(f, xs, span) => {
                let mut args: Vec<V> = xs.iter().map(|x| self.lower_inner(x, None)).collect();
                if let Nary::Ternary(_) = f {
                    self.distinct(&mut args, *span);
                }
                let o = self.out_for(out, &args);
                self.ops.push(Op {
                    out: o.clone(),
                    kind: Kind::Nary(*f),
                    args,
                    span: *span,
                });
                o
            }
            AExpr::Set(v, params, x, span) => {
                let v = self.lower_inner(v, None);
                let ps = params.iter().map(|p| self.param(p)).collect();
                let x = self.lower_inner(x, None);
                let mut args = vec![v, x];
                self.distinct(&mut args, *span);
                let o = self.out_or_temp(out);
                self.ops.push(Op {
                    out: o.clone(),
                    kind: Kind::Set(ps),
                    args,
                    span: *span,
                });
                o
            }
        }
    }

    fn lower_binary(
        &mut self,
        f: Binary,
        a: &AExpr,
        b: &AExpr,
        span: Span,
        out: Option<&Binding>,
    ) -> V {
        let a = self.lower_inner(a, None);
        let b = self.lower_inner(b, None);
        let mut args = vec![a, b];
        self.distinct(&mut args, span);
        let o = self.out_for(out, &args);
        self.ops.push(Op {
            out: o.clone(),
            kind: Kind::Binary(f),
            args,
            span,
        });
        o
    }

    /// The forward code: data operands, then every call in order. A failing shape check
    /// returns `Fail::Shape(stmt, e)` from the enclosing function.
    pub fn forward(&self) -> TokenStream {
        let data = &self.data;
        let stmt = self.stmt;
        let ops = self.ops.iter().map(|op| {
            let out = match &op.out {
                V::Var(b) => vname(b),
                V::Temp(t, _) | V::Value(t) => t.clone(),
                V::Data(d, _) => d.clone(),
            };
            let call = match &op.kind {
                Kind::Unary(Unary::Identity) => {
                    let x = op.args[0].arg();
                    if let V::Data(..) = op.args[0] {
                        // Data as a value of its own (a slice or `Vec` becomes a column).
                        return quote_spanned!(op.span=> let #out = ::vi::__private::to_value(#x););
                    }
                    // A copy of a value, its storage from the pool.
                    return quote_spanned!(op.span=> let #out = ::vi::__private::copy_of(#x););
                }
                Kind::Unary(Unary::Neg) => {
                    let x = op.args[0].arg();
                    quote_spanned!(op.span=> ::vi::__private::ad::neg(#x))
                }
                Kind::Unary(Unary::Named(f)) => {
                    let f = format_ident!("{}", crate::catalogue::rule_name(f), span = op.span);
                    let x = op.args[0].arg();
                    quote_spanned!(op.span=> ::vi::__private::ad::#f(#x))
                }
                Kind::MulAdd => {
                    let (a, b, c) = (op.args[0].arg(), op.args[1].arg(), op.args[2].arg());
                    quote_spanned!(op.span=> (&::vi::__private::Tri(#a, #b, #c)).mul_add_fwd())
                }
                Kind::Binary(f) if f.arith() => {
                    // Method dispatch: two scalars take the fast path (see `__private::Bin`).
                    let f = format_ident!("{}_fwd", f.name(), span = op.span);
                    let (a, b) = (op.args[0].arg(), op.args[1].arg());
                    quote_spanned!(op.span=> (&::vi::__private::Bin(#a, #b)).#f())
                }
                Kind::Binary(f) => {
                    let f = format_ident!("{}", f.name(), span = op.span);
                    let (a, b) = (op.args[0].arg(), op.args[1].arg());
                    quote_spanned!(op.span=> ::vi::__private::ad::#f(#a, #b))
                }
                Kind::WithData(
                    w @ (WithData::Index | WithData::Index2 | WithData::Segment),
                    ps,
                ) => {
                    // An index out of range names the value, its length and the loops' state.
                    let f = format_ident!("{}", w.name(), span = op.span);
                    let x = op.args[0].arg();
                    let what = match &op.args[0] {
                        V::Var(b) => b.name.to_string(),
                        V::Data(d, _) => self
                            .operands
                            .iter()
                            .find(|o| o.d == *d)
                            .map(|o| crate::parse::pretty(o.e.clone()))
                            .unwrap_or_else(|| "the value".to_string()),
                        _ => "the value".to_string(),
                    };
                    let names = self.loops.iter().map(|i| i.to_string());
                    let vars = self.loops.iter();
                    return quote_spanned!(op.span=>
                        let #out = ::vi::__private::index_at(
                            #stmt,
                            ::vi::__private::ad::#f(#x, #(#ps),*),
                            #what,
                            || [#((#names, (#vars) as i64)),*],
                        )?;
                    );
                }
                Kind::WithData(f, ps) => {
                    let f = format_ident!("{}", f.name(), span = op.span);
                    let x = op.args[0].arg();
                    quote_spanned!(op.span=> ::vi::__private::ad::#f(#x, #(#ps),*))
                }
                Kind::Set(ps) if op.out.same_var(&op.args[0]) => {
                    return self.write_forward(op, ps);
                }
                Kind::Nary(Nary::Ternary(t)) => {
                    let f = format_ident!("{}", t.name(), span = op.span);
                    let args = op.args.iter().map(V::arg);
                    quote_spanned!(op.span=> ::vi::__private::ad::#f(#(#args),*))
                }
                Kind::Nary(Nary::Density(d, which)) => {
                    return self.density_forward(op, &out, d, *which);
                }
                Kind::Cached(code, result, slot) => {
                    return quote! {
                        let #out = self.__cache.value(#slot, || {
                            #code
                            ::core::result::Result::Ok::<_, ::vi::__private::Fail>(#result)
                        })?;
                    };
                }
                Kind::Set(ps) => {
                    let (v, x) = (op.args[0].arg(), op.args[1].arg());
                    let p = index_tuple(ps);
                    quote_spanned!(op.span=> ::vi::__private::set_elem(#v, #p, #x))
                }
            };
            quote_spanned!(op.span=> let #out = ::vi::__private::shape(#stmt, #call)?;)
        });
        let operands = self.operand_bindings();
        quote!(#(#data)* #operands #(#ops)*)
    }

    /// Hands the temporaries' storage back to the pool once their statement is done: their
    /// values, and with `adjoints` their adjoints too.
    pub fn recycle_temps(&self, adjoints: bool) -> TokenStream {
        let names = self.ops.iter().filter_map(|op| match &op.out {
            V::Temp(t, g) => Some(if adjoints {
                vec![t.clone(), g.clone()]
            } else {
                vec![t.clone()]
            }),
            V::Value(t) => Some(vec![t.clone()]),
            _ => None,
        });
        recycle(names.flatten())
    }

    /// Declarations of the adjoints of the temporaries (zero, the shape of each value).
    pub fn adjoints(&self) -> TokenStream {
        let decls = self.ops.iter().filter_map(|op| match &op.out {
            V::Temp(t, g) => Some(quote!(let mut #g = ::vi::__private::ad::zeros_like(&#t);)),
            _ => None,
        });
        quote!(#(#decls)*)
    }

    /// The backward calls, in reverse order.
    pub fn reverse(&self) -> TokenStream {
        // Values computed from data only have no adjoint to sweep back.
        let swept = self.ops.iter().filter(|op| !matches!(op.out, V::Value(_)));
        let backs = swept.rev().map(|op| {
            let (out_v, gout) = match &op.out {
                V::Var(b) => (vname(b), gname(b)),
                V::Temp(t, g) => (t.clone(), g.clone()),
                V::Data(d, _) | V::Value(d) => (d.clone(), d.clone()),
            };
            match &op.kind {
                // Data only: never swept (filtered above).
                Kind::Cached(..) => quote!(),
                Kind::Unary(Unary::Identity) => match op.args[0].grad() {
                    Some(gx) => quote!(::vi::__private::acc(&mut #gx, &#gout);),
                    None => quote!(),
                },
                Kind::Unary(u) => {
                    let name = match u {
                        Unary::Neg => "neg_back".to_string(),
                        Unary::Named(f) => format!("{}_back", crate::catalogue::rule_name(f)),
                        Unary::Identity => unreachable_name(),
                    };
                    let f = format_ident!("{}", name);
                    let x = op.args[0].arg();
                    match op.args[0].grad() {
                        Some(gx) => quote!(::vi::__private::ad::#f(#x, &#out_v, &#gout, &mut #gx);),
                        None => quote!(),
                    }
                }
                Kind::MulAdd => {
                    let (a, b, c) = (op.args[0].arg(), op.args[1].arg(), op.args[2].arg());
                    let (ga, gb, gc) = (
                        op.args[0].grad_opt(),
                        op.args[1].grad_opt(),
                        op.args[2].grad_opt(),
                    );
                    quote!((&::vi::__private::Tri(#a, #b, #c)).mul_add_bwd(&#out_v, &#gout, #ga, #gb, #gc);)
                }
                Kind::Binary(b) if b.arith() => {
                    let f = format_ident!("{}_bwd", b.name());
                    let (a, bb) = (op.args[0].arg(), op.args[1].arg());
                    let (ga, gb) = (op.args[0].grad_opt(), op.args[1].grad_opt());
                    quote!((&::vi::__private::Bin(#a, #bb)).#f(&#out_v, &#gout, #ga, #gb);)
                }
                Kind::Binary(b) => {
                    let f = format_ident!("{}_back", b.name());
                    let (a, bb) = (op.args[0].arg(), op.args[1].arg());
                    let (ga, gb) = (op.args[0].grad_opt(), op.args[1].grad_opt());
                    quote!(::vi::__private::ad::#f(#a, #bb, &#out_v, &#gout, #ga, #gb);)
                }
                Kind::WithData(w, ps) => {
                    let f = format_ident!("{}_back", w.name());
                    let x = op.args[0].arg();
                    match op.args[0].grad() {
                        Some(gx) => {
                            quote!(::vi::__private::ad::#f(#x, #(#ps,)* &#out_v, &#gout, &mut #gx);)
                        }
                        None => quote!(),
                    }
                }
                Kind::Nary(Nary::Ternary(t)) => {
                    let f = format_ident!("{}_back", t.name());
                    let args = op.args.iter().map(V::arg);
                    let gs = op.args.iter().map(V::grad_opt);
                    quote!(::vi::__private::ad::#f(#(#args,)* &#out_v, &#gout, #(#gs),*);)
                }
                Kind::Nary(Nary::Density(..)) => {
                    let backs = op.args.iter().enumerate().filter_map(|(i, a)| {
                        let g = a.grad()?;
                        let p = format_ident!("{}_p{}", out_v, i);
                        Some(quote!(::vi::__private::ad::partial_back(&#p, &#gout, &mut #g);))
                    });
                    quote!(#(#backs)*)
                }
                Kind::Set(_) if op.out.same_var(&op.args[0]) => {
                    // In place: the log gives back the old value and the old adjoint.
                    let u = match &op.out {
                        V::Var(b) => uname(b),
                        _ => gout.clone(),
                    };
                    let gx = op.args[1].grad_opt();
                    quote!(#u.back(&mut #out_v, &mut #gout, #gx);)
                }
                Kind::Set(ps) => {
                    let (v, x) = (op.args[0].arg(), op.args[1].arg());
                    let (gv, gx) = (op.args[0].grad_opt(), op.args[1].grad_opt());
                    let p = index_tuple(ps);
                    quote!(::vi::__private::set_elem_back(#v, #p, #x, &#gout, #gv, #gx);)
                }
            }
        });
        quote!(#(#backs)*)
    }
}

impl Lowering {
    /// The constructor's checks of the data arguments of this statement's density
    /// expressions (`Normal(0.0, s).lpdf(y)` with a data `s` of -1 is an error naming `sigma`
    /// then, not a NaN density at every point later), and of a whole-vector parameter that
    /// depends on a latent (a `theta` that is not a simplex, categories past its length).
    /// The value of `.lcdf` / `.lccdf` is not checked: a CDF is defined everywhere.
    pub fn density_checks(&self, stmt: &str) -> TokenStream {
        let checks = self.ops.iter().filter_map(|op| {
            let Kind::Nary(Nary::Density(d, which)) = &op.kind else {
                return None;
            };
            let module = format_ident!("{}", d.module);
            let opts = op.args.iter().enumerate().map(|(i, a)| match a {
                V::Data(d, _) if i > 0 || matches!(which, Density::Lpdf) => {
                    // The data as any `ToF64s` (a distribution's operand, or one a rule of
                    // the same statement converted).
                    quote!(::core::option::Option::Some(&*::vi::__private::ad::to_f64s(&*#d)))
                }
                V::Var(_) | V::Temp(..) if i > 0 && d.whole_vectors().contains(&(i - 1)) => {
                    let f = a.flat();
                    quote!(::core::option::Option::Some(&*#f))
                }
                _ => quote!(::core::option::Option::None),
            });
            let names = std::iter::once("x").chain(d.params.iter().copied());
            Some(quote! {
                ::vi::__private::check_statement(
                    #stmt,
                    &[#(#names),*],
                    &[],
                    ::vi::__private::dist::#module::check(#(#opts),*),
                )?;
            })
        });
        quote!(#(#checks)*)
    }
}

impl Lowering {
    /// A density's forward call: `out` is its value, the partials of its active operands go
    /// into `{out}_p{i}` (when a sweep follows).
    fn density_forward(
        &self,
        op: &Op,
        out: &Ident,
        d: &crate::catalogue::DistInfo,
        which: Density,
    ) -> TokenStream {
        let module = format_ident!("{}", d.module);
        let span = op.span;
        let mut decls = Vec::new();
        let mut gs = Vec::new();
        let slice = d.slice_kernel();
        for (i, a) in op.args.iter().enumerate() {
            if a.grad().is_some() && self.partials {
                let p = format_ident!("{}_p{}", out, i);
                let x = a.arg();
                decls.push(quote!(let mut #p = ::vi::__private::ad::zeros_like(#x);));
                gs.push(if slice {
                    quote!(::core::option::Option::Some(::vi::__private::ad::flat_mut(&mut #p)))
                } else {
                    quote!(::core::option::Option::Some(&mut #p))
                });
            } else {
                gs.push(if slice {
                    quote!(::core::option::Option::None)
                } else {
                    quote!(::core::option::Option::None::<&mut f64>)
                });
            }
        }
        let call = if slice {
            // A whole-vector parameter: the module's kernel on flat slices.
            let xs = op.args.iter().map(|a| match a {
                V::Data(d, sp) => quote_spanned!(*sp=> &*::vi::__private::ad::to_f64s(#d)),
                a => {
                    let x = a.arg();
                    quote!(&*::vi::__private::ad::to_f64s(#x))
                }
            });
            quote_spanned!(span=> ::vi::__private::dist::#module::lpdf(#(#xs,)* #(#gs),*))
        } else {
            let kernel = match which {
                Density::Lpdf => quote!(#module::Scalar),
                Density::Lcdf => quote!(cdf::#module::Lcdf),
                Density::Lccdf => quote!(cdf::#module::Lccdf),
            };
            let n = op.args.len();
            let ops = format_ident!("Ops{}", n);
            let sc = format_ident!("ScalarKernel{}", n);
            let sl = format_ident!("SliceKernel{}", n);
            let xs = op.args.iter().map(|a| match a {
                V::Data(d, sp) => quote_spanned!(*sp=> ::vi::__private::obs(#d)),
                a => a.arg(),
            });
            quote_spanned!(span=> {
                use ::vi::__private::{#sc as _, #sl as _};
                let mut __m = <::vi::__private::dist::#kernel as ::core::default::Default>::default();
                (&::vi::__private::#ops(#(#xs),*)).lpdf(&mut __m, #(#gs),*)
            })
        };
        quote!(#(#decls)* let #out: f64 = #call;)
    }

    /// `v[i] = x` into the vector `v` itself (state written in place), by [`WriteMode`].
    fn write_forward(&self, op: &Op, ps: &[Ident]) -> TokenStream {
        let V::Var(b) = &op.out else {
            return quote!();
        };
        let stmt = self.stmt;
        let (v, g, u) = (vname(b), gname(b), uname(b));
        let x = op.args[1].arg();
        let p = index_tuple(ps);
        let span = op.span;
        let call = match self.write {
            WriteMode::Plain => {
                quote_spanned!(span=> ::vi::__private::write_elem(&mut #v, #p, #x))
            }
            WriteMode::Tape => quote_spanned!(span=> #u.write(&mut #v, #p, #x, &mut #g)),
            WriteMode::Redo => quote_spanned!(span=> #u.redo(&mut #v, #p, #x)),
        };
        quote_spanned!(op.span=> ::vi::__private::shape(#stmt, #call)?;)
    }
}

/// `Recycler(x).recycle();` for every name: pooled storage goes back to the pool, other
/// values are dropped (see `__private::Recycler`).
pub fn recycle(names: impl IntoIterator<Item = Ident>) -> TokenStream {
    let calls: Vec<TokenStream> = names
        .into_iter()
        .map(|n| quote!(::vi::__private::Recycler(#n).recycle();))
        .collect();
    if calls.is_empty() {
        return TokenStream::new();
    }
    quote! {
        {
            #[allow(unused_imports)]
            use ::vi::__private::{RecycleKnown as _, RecycleOther as _};
            #(#calls)*
        }
    }
}

/// `(a, b, c)` when `l op r` is `a * b + c` or `c + a * b` and can be fused into one rule:
/// the addend is not data (data of any type, such as an integer, need not meet the fused
/// rule's broadcasting; it keeps the two rules).
fn fused<'e>(op: Binary, l: &'e AExpr, r: &'e AExpr) -> Option<(&'e AExpr, &'e AExpr, &'e AExpr)> {
    if op != Binary::Add {
        return None;
    }
    let data = |e: &AExpr| matches!(e, AExpr::Data(_));
    match (l, r) {
        (AExpr::Binary(Binary::Mul, a, b, _), c) if !data(c) => Some((a, b, c)),
        (c, AExpr::Binary(Binary::Mul, a, b, _)) if !data(c) => Some((a, b, c)),
        _ => None,
    }
}

fn unreachable_name() -> String {
    "identity_back".to_string()
}

fn index_tuple(ps: &[Ident]) -> TokenStream {
    match ps {
        [i] => quote!(#i),
        ps => quote!((#(#ps),*)),
    }
}

/// `e` without the parentheses and invisible groups around it.
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        e => e,
    }
}

/// The span of an expression's last token (with its first, it spans the expression).
pub fn last_span_of(e: &Expr) -> Span {
    use quote::ToTokens;
    e.to_token_stream()
        .into_iter()
        .last()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

/// The span of an expression's first token (for `quote_spanned!`).
pub fn span_of(e: &Expr) -> Span {
    use quote::ToTokens;
    e.to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

/// Where a distribution's data operand keeps its sufficient statistics: the model's cache
/// slot when the operand depends only on the model's arguments (issue 16), else none.
fn stats_cell(slot: Option<usize>) -> TokenStream {
    match slot {
        Some(k) => quote!(::vi::__private::stats_cell(&self.__cache, #k)),
        None => quote!(::core::option::Option::None),
    }
}
