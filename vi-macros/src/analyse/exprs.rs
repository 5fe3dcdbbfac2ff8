//! Expressions on a latent's path lowered to the differentiation rules of the catalogue
//! ([`AExpr`]), data operands recorded for conversion once per model, and the syntax
//! helpers the statements share.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, Type};

use super::names::{built_from_arguments, FreeVars};
use super::{Analyser, Entry};
use crate::catalogue::{self, Binary, Density, Nary, Rule, Unary, WithData};
use crate::ir::*;
use crate::parse::AssignOp;

impl Analyser {
    /// The first free name of `e` that is active, if any.
    pub(super) fn first_active(&self, e: &Expr) -> Option<String> {
        let mut fv = FreeVars::default();
        fv.visit_expr(e);
        let all = fv.names.into_iter().map(|(n, _)| n).chain(fv.macro_names);
        all.into_iter()
            .find_map(|n| match self.lookup(&n.to_string()) {
                Some(Entry::Active { .. }) => Some(n.to_string()),
                _ => None,
            })
    }

    /// Reports free names of a data expression that are not defined (lower-case names only:
    /// upper-case ones may be constants from outside the model).
    pub(super) fn check_names(&mut self, e: &Expr) {
        let mut fv = FreeVars::default();
        fv.visit_expr(e);
        for (n, _) in fv.names {
            let s = n.to_string();
            if self.lookup(&s).is_some() || fv.bound.contains(&s) {
                continue;
            }
            if self.all_latents.contains(&s) {
                self.err(
                    n.span(),
                    format!("latent `{s}` is used before it is declared"),
                );
            } else if s.starts_with(|c: char| c.is_lowercase() || c == '_') && s != "self" {
                self.err(n.span(), format!("cannot find `{s}` in this model"));
            }
        }
    }

    /// An operand of a model's expression. Data follows the DSL's arithmetic as latents do
    /// (one arithmetic): data-only arithmetic (`exposure.ln() + offset`, `total - cum`,
    /// `2.0 * x`) and the DSL's own functions (`lgamma(x)`, `Normal(0.0, 1.0).lpdf(y)`) are
    /// compiled by the rules too, with no adjoint to carry; other data (a name, an element,
    /// a field, a cast, a call of a Rust function or method) is evaluated as written.
    pub(super) fn operand(&mut self, e: &Expr) -> Operand {
        if self.first_active(e).is_none() && !calls_dsl(e) && !arith(e) {
            self.check_names(e);
            self.note_data(e);
            return Operand::Data(e.clone());
        }
        Operand::Active(self.lower(e))
    }

    /// A `let`'s value, or an argument that must stay as written (the data bounds of a
    /// constraint, a multivariate prior's sizes): data is Rust, evaluated as written, unless
    /// it calls one of the DSL's own functions.
    pub(super) fn rust_operand(&mut self, e: &Expr) -> Operand {
        if self.first_active(e).is_none() && !calls_dsl(e) {
            self.check_names(e);
            self.note_data(e);
            return Operand::Data(e.clone());
        }
        Operand::Active(self.lower(e))
    }

    /// Records a data operand of the current statement whose value depends only on the
    /// model's arguments (and constants): its conversion can be made once for the model.
    pub(super) fn note_data(&mut self, e: &Expr) {
        let mut uses_arg = false;
        if !self.invariant(e, &mut uses_arg) || !uses_arg {
            return;
        }
        let key = (
            self.srcs.len().saturating_sub(1),
            e.to_token_stream().to_string(),
        );
        if !self.cached.contains(&key) {
            self.cached.push(key);
        }
    }

    /// Whether `e` is built only from the model's arguments, constants and literals (see
    /// [`built_from_arguments`]), names resolved in the current scope.
    pub(super) fn invariant(&self, e: &Expr, uses_arg: &mut bool) -> bool {
        let name = |n: &str| {
            self.lookup(n)
                .map(|entry| matches!(entry, Entry::Data { arg: true, .. }))
        };
        built_from_arguments(e, &name, uses_arg)
    }

    pub(super) fn sub(&mut self, e: &Expr) -> AExpr {
        match self.operand(e) {
            Operand::Data(d) => AExpr::Data(d),
            Operand::Active(a) => a,
        }
    }

    pub(super) fn non_diff(&mut self, tokens: impl ToTokens, what: &str) -> AExpr {
        self.err_spanned(
            tokens,
            format!(
                "{what} has no derivative and cannot be applied to a value that depends on a latent \
                 variable; on a latent's path use only {}",
                catalogue::known_fns()
            ),
        );
        AExpr::Data(syn::parse_quote!(0.0))
    }

    /// `what` is not a function the DSL can differentiate; with the nearest known name.
    fn non_diff_named(&mut self, tokens: impl ToTokens, name: &str) -> AExpr {
        match catalogue::suggest_fn(name) {
            Some(s) => {
                self.err_spanned(
                    tokens,
                    format!(
                        "`{name}` has no derivative and cannot be applied to a value that depends \
                         on a latent variable; did you mean `{s}`? On a latent's path use only {}",
                        catalogue::known_fns()
                    ),
                );
                AExpr::Data(syn::parse_quote!(0.0))
            }
            None => self.non_diff(tokens, &format!("`{name}`")),
        }
    }

    /// `Dist(args).lpdf(x)` (or `.lpmf`, `.lcdf`, `.lccdf`): the operands `x` then the
    /// arguments, as one rule.
    fn density(&mut self, m: &syn::ExprMethodCall, call: &syn::ExprCall, which: Density) -> AExpr {
        let zero = || AExpr::Data(syn::parse_quote!(0.0));
        let Expr::Path(p) = &*call.func else {
            return zero();
        };
        let Some(ident) = p.path.get_ident() else {
            return zero();
        };
        let name = ident.to_string();
        let method = m.method.to_string();
        let Some(d) = catalogue::dist_named(&name) else {
            let msg = match catalogue::suggest_dist(&name) {
                Some(s) => format!("unknown distribution `{name}`, did you mean `{s}`?"),
                None => format!(
                    "unknown distribution `{name}`; known: {}",
                    catalogue::dist_names()
                ),
            };
            self.err(ident.span(), msg);
            return zero();
        };
        if call.args.len() != d.params.len() {
            let plural = if d.params.len() == 1 { "" } else { "s" };
            self.err_spanned(
                call,
                format!(
                    "`{}` takes {} argument{plural} ({}), found {}",
                    d.name,
                    d.params.len(),
                    d.params.join(", "),
                    call.args.len()
                ),
            );
            return zero();
        }
        if m.args.len() != 1 {
            self.err(
                m.method.span(),
                format!("`.{method}` takes one argument, the value"),
            );
            return zero();
        }
        match which {
            Density::Lpdf if d.discrete() && method == "lpdf" => {
                self.err(
                    m.method.span(),
                    format!("`{name}` is discrete: its log probability is `.lpmf(..)`"),
                );
                return zero();
            }
            Density::Lpdf if !d.discrete() && method == "lpmf" => {
                self.err(
                    m.method.span(),
                    format!("`{name}` is continuous: its log density is `.lpdf(..)`"),
                );
                return zero();
            }
            Density::Lcdf | Density::Lccdf if !d.has_cdf() => {
                self.err(
                    m.method.span(),
                    format!(
                        "`{name}` has no `.{method}`; `.lcdf` and `.lccdf` exist for {}",
                        catalogue::CDFS.join(", ")
                    ),
                );
                return zero();
            }
            _ => {}
        }
        let x = &m.args[0];
        if d.discrete() {
            if let Some(n) = self.first_active(x) {
                self.err_spanned(
                    x,
                    format!(
                        "the value of the discrete `{name}` must be data, but it depends on the \
                         latent variable `{n}`"
                    ),
                );
                return zero();
            }
        }
        for &k in d.data_params {
            if let Some(n) = self.first_active(&call.args[k]) {
                self.err_spanned(
                    &call.args[k],
                    format!(
                        "argument `{}` of `{name}` must be data, but it depends on the latent \
                         variable `{n}`",
                        d.params[k]
                    ),
                );
                return zero();
            }
        }
        let mut ops = vec![self.sub(x)];
        for a in &call.args {
            ops.push(self.sub(a));
        }
        AExpr::Nary(Nary::Density(d, which), ops, m.method.span())
    }

    /// An active expression in terms of the rules (`e` mentions an active name).
    pub(super) fn lower(&mut self, e: &Expr) -> AExpr {
        match e {
            Expr::Path(p) => match p
                .path
                .get_ident()
                .map(|i| (i, self.lookup(&i.to_string()).cloned()))
            {
                Some((_, Some(Entry::Active { b, .. }))) => AExpr::Var(b),
                _ => {
                    self.note_data(e);
                    AExpr::Data(e.clone())
                }
            },
            Expr::Paren(p) => self.lower(&p.expr),
            Expr::Group(g) => self.lower(&g.expr),
            Expr::Reference(r) => self.lower(&r.expr),
            Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(t) => AExpr::Unary(Unary::Neg, Box::new(self.sub(&u.expr)), t.span),
                syn::UnOp::Deref(_) => self.lower(&u.expr),
                _ => self.non_diff(u.op, "`!`"),
            },
            Expr::Cast(c) => match &*c.ty {
                Type::Path(p) if p.path.is_ident("f64") => self.lower(&c.expr),
                _ => self.non_diff(c, "a cast"),
            },
            Expr::Binary(b) => {
                let f = match b.op {
                    syn::BinOp::Add(_) => Binary::Add,
                    syn::BinOp::Sub(_) => Binary::Sub,
                    syn::BinOp::Mul(_) => Binary::Mul,
                    syn::BinOp::Div(_) => Binary::Div,
                    op => {
                        let what = format!("`{}`", op.to_token_stream());
                        return self.non_diff(op, &what);
                    }
                };
                let span = op_span(&b.op);
                let l = self.sub(&b.left);
                let r = self.sub(&b.right);
                AExpr::Binary(f, Box::new(l), Box::new(r), span)
            }
            Expr::Index(ix) => {
                self.data_expr(&ix.index, "an index");
                let x = self.sub(&ix.expr);
                index_of(x, &ix.index, ix.bracket_token.span.join())
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                if let (Some(which), Some(call)) =
                    (Density::from_method(&name), dist_receiver(&m.receiver))
                {
                    return self.density(m, call, which);
                }
                let args: Vec<&Expr> = m.args.iter().collect();
                self.call(&name, m.method.span(), Some(&m.receiver), &args, &m.method)
            }
            Expr::Call(c) => {
                let name = match &*c.func {
                    Expr::Path(p) if p.qself.is_none() => {
                        let segs: Vec<String> = p
                            .path
                            .segments
                            .iter()
                            .map(|s| s.ident.to_string())
                            .collect();
                        match segs.as_slice() {
                            [n] => Some(n.clone()),
                            [t, n] if t == "f64" => Some(n.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let Some(name) = name else {
                    return self.non_diff(&c.func, "this function");
                };
                let args: Vec<&Expr> = c.args.iter().collect();
                self.call(
                    &name,
                    crate::codegen::span_of(&c.func),
                    None,
                    &args,
                    &c.func,
                )
            }
            Expr::If(i) => {
                self.err_spanned(
                    &i.cond,
                    "cannot branch on a value that depends on a latent variable inside an expression; \
                     use an `if` statement over data",
                );
                AExpr::Data(syn::parse_quote!(0.0))
            }
            Expr::Match(m) => {
                self.err_spanned(
                    m.match_token,
                    "this `match` chooses a value that depends on a latent variable, which an \
                     expression cannot do: set a `let mut` in `if` statements over data instead",
                );
                AExpr::Data(syn::parse_quote!(0.0))
            }
            Expr::Macro(m) => {
                let what = format!("the macro `{}!`", m.mac.path.to_token_stream());
                self.non_diff(&m.mac.path, &what)
            }
            Expr::Lit(_) => AExpr::Data(e.clone()),
            other => self.non_diff(other, "this expression"),
        }
    }

    pub(super) fn call(
        &mut self,
        name: &str,
        span: Span,
        recv: Option<&Expr>,
        args: &[&Expr],
        tokens: &dyn ToTokens,
    ) -> AExpr {
        // All operands: the receiver first for method calls.
        let mut all: Vec<&Expr> = Vec::new();
        if let Some(r) = recv {
            all.push(r);
        }
        all.extend_from_slice(args);
        if let Some(k) = self.gp_exp_quad_cov(name, span, &all) {
            return k;
        }
        let Some(f) = catalogue::fn_called_with(name, all.len()) else {
            return self.non_diff_named(tokens.to_token_stream(), name);
        };
        let name = f.name;
        if all.len() != f.arity {
            if f.rule == Rule::Identity {
                // `x.clone(y)` is not the value itself.
                let what = format!("`{name}`");
                return self.non_diff(tokens.to_token_stream(), &what);
            }
            self.err(span, format!("`{name}` takes {}", catalogue::arities(name)));
            return AExpr::Data(syn::parse_quote!(0.0));
        }
        match f.rule {
            Rule::Identity => {
                let x = self.sub(all[0]);
                AExpr::Unary(Unary::Identity, Box::new(x), span)
            }
            Rule::Unary => {
                let x = self.sub(all[0]);
                AExpr::Unary(Unary::Named(name), Box::new(x), span)
            }
            Rule::Binary(b) => {
                let a = self.sub(all[0]);
                let c = self.sub(all[1]);
                AExpr::Binary(b, Box::new(a), Box::new(c), span)
            }
            Rule::WithData(w) => {
                for p in &all[1..] {
                    if let Some(n) = self.first_active(p) {
                        self.err_spanned(
                            p,
                            format!("the argument of `{name}` must be data, but it depends on the latent variable `{n}`"),
                        );
                    }
                }
                let x = self.sub(all[0]);
                let ps = all[1..].iter().map(|p| (*p).clone()).collect();
                AExpr::WithData(w, Box::new(x), ps, span)
            }
            Rule::Ternary(t) => {
                let ops = all.iter().map(|a| self.sub(a)).collect();
                AExpr::Nary(Nary::Ternary(t), ops, span)
            }
            Rule::Syntax => {
                let what = format!("`{name}`");
                self.non_diff(tokens.to_token_stream(), &what)
            }
        }
    }
}

/// The call `Dist(args)` when `e` is one (a name that starts with a capital letter).
fn dist_receiver(e: &Expr) -> Option<&syn::ExprCall> {
    match e {
        Expr::Call(c) => match &*c.func {
            Expr::Path(p)
                if p.qself.is_none()
                    && p.path
                        .get_ident()
                        .is_some_and(|i| i.to_string().starts_with(char::is_uppercase)) =>
            {
                Some(c)
            }
            _ => None,
        },
        Expr::Paren(p) => dist_receiver(&p.expr),
        Expr::Group(g) => dist_receiver(&g.expr),
        _ => None,
    }
}

/// Whether the data expression `e` is arithmetic the DSL defines: `+ - * /`, a negation
/// (of anything but a literal), or a call of a catalogue function (`x.ln()`, `v.sum()`),
/// at its top (through parentheses and references). Names, elements, fields, casts, views
/// (`x.column(j)`, `x.row(i)`), `clone` and calls of Rust's own functions are data as
/// written.
pub(super) fn arith(e: &Expr) -> bool {
    match e {
        Expr::Binary(b) => matches!(
            b.op,
            syn::BinOp::Add(_) | syn::BinOp::Sub(_) | syn::BinOp::Mul(_) | syn::BinOp::Div(_)
        ),
        Expr::Unary(u) => match u.op {
            syn::UnOp::Neg(_) => !matches!(&*u.expr, Expr::Lit(_)),
            _ => false,
        },
        Expr::Paren(p) => arith(&p.expr),
        Expr::Group(g) => arith(&g.expr),
        Expr::Reference(r) => arith(&r.expr),
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            !matches!(name.as_str(), "row" | "column" | "clone")
                && m.turbofish.is_none()
                && catalogue::fn_called_with(&name, m.args.len() + 1).is_some()
                && values_only(&m.receiver)
        }
        _ => false,
    }
}

/// Whether the receiver of a method call is a value, not Rust's own (`x.iter()` in
/// `x.iter().sum()`): its method calls are all catalogue functions or views.
fn values_only(e: &Expr) -> bool {
    match e {
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            m.turbofish.is_none()
                && (matches!(name.as_str(), "row" | "column" | "clone")
                    || catalogue::fn_called_with(&name, m.args.len() + 1).is_some())
                && values_only(&m.receiver)
        }
        Expr::Paren(p) => values_only(&p.expr),
        _ => true,
    }
}

/// Whether `e` calls one of the DSL's functions that Rust does not have: `Dist(..).lpdf(x)`
/// and the CDFs, a catalogue function called as a function (`lgamma(x)`), or as a method
/// Rust's numbers and nalgebra's values do not have (`x.log1m()`).
pub(super) fn calls_dsl(e: &Expr) -> bool {
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let name = m.method.to_string();
            if Density::from_method(&name).is_some() && dist_receiver(&m.receiver).is_some() {
                self.0 = true;
            }
            if catalogue::fn_called(&name).is_some()
                && !catalogue::RUST_METHODS.contains(&name.as_str())
            {
                self.0 = true;
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            if let Expr::Path(p) = &*c.func {
                if let Some(i) = p.path.get_ident() {
                    if catalogue::fn_called(&i.to_string()).is_some() {
                        self.0 = true;
                    }
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        // Closures and blocks are Rust the user wrote; their insides are not lowered.
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_block(&mut self, _: &'a syn::ExprBlock) {}
    }
    let mut f = Finder(false);
    f.visit_expr(e);
    f.0
}

impl Analyser {
    /// `gp_exp_quad_cov(x, alpha, rho)` (Stan's older `cov_exp_quad`) of data points `x`:
    /// `alpha^2 * exp(-|x_i - x_j|^2 / (2 rho^2))`, as `(alpha * alpha) * unit(rho; x)`.
    fn gp_exp_quad_cov(&mut self, name: &str, span: Span, all: &[&Expr]) -> Option<AExpr> {
        if name != "gp_exp_quad_cov" && name != "cov_exp_quad" {
            return None;
        }
        if all.len() != 3 {
            self.err(
                span,
                format!(
                    "`{name}` takes 3 arguments (x, alpha, rho), found {}",
                    all.len()
                ),
            );
            return Some(AExpr::Data(syn::parse_quote!(0.0)));
        }
        if let Some(n) = self.first_active(all[0]) {
            self.err_spanned(
                all[0],
                format!("the points `x` of `{name}` must be data, but they depend on the latent variable `{n}`"),
            );
        }
        let alpha = self.sub(all[1]);
        let alpha2 = AExpr::Binary(Binary::Mul, Box::new(alpha.clone()), Box::new(alpha), span);
        let rho = self.sub(all[2]);
        let unit = AExpr::WithData(
            WithData::GpExpQuad,
            Box::new(rho),
            vec![all[0].clone()],
            span,
        );
        Some(AExpr::Binary(
            Binary::Mul,
            Box::new(alpha2),
            Box::new(unit),
            span,
        ))
    }
}

pub(super) fn compound_value(op: AssignOp, cur: AExpr, rhs: AExpr, span: Span) -> AExpr {
    let f = match op {
        AssignOp::Set => return rhs,
        AssignOp::Add => Binary::Add,
        AssignOp::Sub => Binary::Sub,
        AssignOp::Mul => Binary::Mul,
        AssignOp::Div => Binary::Div,
    };
    AExpr::Binary(f, Box::new(cur), Box::new(rhs), span)
}

pub(super) fn index_params(index: &Expr) -> Vec<Expr> {
    match index {
        Expr::Tuple(t) if t.elems.len() == 2 => t.elems.iter().cloned().collect(),
        Expr::Paren(p) => index_params(&p.expr),
        e => vec![e.clone()],
    }
}

pub(super) fn index_of(x: AExpr, index: &Expr, span: Span) -> AExpr {
    match index {
        Expr::Tuple(t) if t.elems.len() == 2 => AExpr::WithData(
            WithData::Index2,
            Box::new(x),
            t.elems.iter().cloned().collect(),
            span,
        ),
        Expr::Paren(p) => index_of(x, &p.expr, span),
        // `v[a..b]`, `v[..b]`, `v[a..=b]`: a segment (Stan's `v[a:b]`, half-open as Rust's).
        Expr::Range(r) if r.end.is_some() => {
            let start: Expr = match &r.start {
                Some(a) => (**a).clone(),
                None => syn::parse_quote!(0usize),
            };
            let end = r.end.as_deref();
            let len: Expr = match r.limits {
                syn::RangeLimits::HalfOpen(_) => {
                    syn::parse_quote!(::vi::__private::range_len(#start, #end))
                }
                syn::RangeLimits::Closed(_) => {
                    syn::parse_quote!(::vi::__private::range_len(#start, (#end) + 1))
                }
            };
            AExpr::WithData(WithData::Segment, Box::new(x), vec![start, len], span)
        }
        e => AExpr::WithData(WithData::Index, Box::new(x), vec![e.clone()], span),
    }
}

pub(super) fn op_span(op: &syn::BinOp) -> Span {
    op.to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

pub(super) fn assign_op_tokens(op: AssignOp, span: Span) -> TokenStream {
    match op {
        AssignOp::Set => quote::quote_spanned!(span=> =),
        AssignOp::Add => quote::quote_spanned!(span=> +=),
        AssignOp::Sub => quote::quote_spanned!(span=> -=),
        AssignOp::Mul => quote::quote_spanned!(span=> *=),
        AssignOp::Div => quote::quote_spanned!(span=> /=),
    }
}
