//! Calls of user functions in a part of an expression that is evaluated only sometimes: a
//! branch of an expression-level `if`/`else`, the right operand of `&&` or `||`.
//!
//! A call's body is placed before the statement that holds the call, which would evaluate
//! it whatever the condition says: `if t > 0 { f(y[t - 1]) } else { 0.0 }` would read
//! `y[-1]` at `t = 0`. Stan evaluates only the branch taken, and so does the model: such an
//! expression becomes, before its statement,
//!
//! ```text
//! let mut if_value7 = 0.0;
//! if t > 0 { <f's body>; if_value7 = <f's value>; } else { if_value7 = 0.0; }
//! ```
//!
//! and the expression is replaced by `if_value7`. The `if` statement is over data (a branch on
//! a latent is refused as everywhere), and the analysis gives `if_value7` one version per
//! branch joined at the `if`'s exit, on data and on a latent's path alike. `a && b` is
//! `if a { b } else { false }`, `a || b` is `if a { true } else { b }`.
//!
//! A `match` on data with such a call in an arm or a guard is an `if` chain over its arms in
//! order: `match regime[t] { 0 => mu, 1 => pull(y[t - 1], mu), k if f(k) > 0.0 => a, _ =>
//! b }` becomes
//!
//! ```text
//! if regime[t] == 0 { v = mu; }
//! else { if regime[t] == 1 { <pull's body>; v = <pull's value>; }
//!        else { <f's body>; if <f's value> > 0.0 { let k = regime[t]; v = a; } else { v = b; } } }
//! ```
//!
//! so a guard's calls run only when the arms before it did not match. Patterns are literals, constants, ranges, `|`, `_` and
//! a name (bound to the scrutinee in the arm); the last arm takes every value (or the arms
//! cover `true` and `false`), so the variable is always set. The statements made here are
//! reported under the statement that holds the expression.
//!
//! The variable starts at a zero of the value's type ([`Inliner::start`]): `0.0`, a zero
//! vector or matrix, `false`, or `(0 as usize)` when a branch's value is a call of a function
//! declared `-> usize` (an index).

use quote::{format_ident, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

use super::{error, shape_of, zero_of, Inliner, Shape, UserFn};
use crate::parse::{self, AssignOp, Stmt};

/// Whether `e` calls a user function outside closures.
pub(super) fn calls_user(e: &Expr, fns: &std::collections::HashMap<String, UserFn>) -> bool {
    struct Finder<'a>(&'a std::collections::HashMap<String, UserFn>, bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Expr::Path(p) = &*c.func {
                if p.path
                    .get_ident()
                    .is_some_and(|n| self.0.contains_key(&n.to_string()))
                {
                    self.1 = true;
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut f = Finder(fns, false);
    syn::visit::Visit::visit_expr(&mut f, e);
    f.1
}

/// The value a block ends with (its last statement, an expression without `;`).
fn tail(b: &syn::Block) -> Option<&Expr> {
    match b.stmts.last() {
        Some(syn::Stmt::Expr(e, None)) => Some(e),
        _ => None,
    }
}

/// The value an `else` gives: its block's last expression, or an `else if`'s first branch's.
fn branch_value(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Block(b) => tail(&b.block),
        Expr::If(i) => tail(&i.then_branch),
        other => Some(other),
    }
}

/// Whether `e` is visibly a `bool`: a literal, a comparison, `!`, `&&` or `||`.
fn boolean(e: &Expr) -> bool {
    use syn::BinOp::*;
    match e {
        Expr::Lit(l) => matches!(l.lit, syn::Lit::Bool(_)),
        Expr::Paren(p) => boolean(&p.expr),
        Expr::Unary(u) => matches!(u.op, syn::UnOp::Not(_)) && boolean(&u.expr),
        Expr::Binary(b) => matches!(
            b.op,
            Eq(_) | Ne(_) | Lt(_) | Le(_) | Gt(_) | Ge(_) | And(_) | Or(_)
        ),
        _ => false,
    }
}

impl Inliner<'_> {
    /// `e` rewritten when it is an `if`/`else`, `&&` or `||` whose conditionally evaluated
    /// part calls a user function (see the module's docs): the statements go to `hoisted`,
    /// the value is returned. `None` when `e` is none of these.
    pub(super) fn conditional(&mut self, e: &Expr) -> Option<Expr> {
        let fns = self.fns;
        match e {
            Expr::If(i) => {
                let els = i.else_branch.as_ref().map(|(_, e)| &**e)?;
                let then = syn::Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: i.then_branch.clone(),
                });
                if !calls_user(&then, fns) && !calls_user(els, fns) {
                    return None;
                }
                // A `bool` (a comparison, a logical operator, `true`/`false`) starts `false`.
                if tail(&i.then_branch).is_some_and(boolean)
                    || branch_value(els).is_some_and(boolean)
                {
                    return Some(self.select(
                        i.if_token.span,
                        &i.cond,
                        &then,
                        els,
                        syn::parse_quote!(false),
                        false,
                    ));
                }
                let shape = tail(&i.then_branch)
                    .and_then(|t| self.value_shape(t))
                    .or_else(|| self.value_shape(els));
                let Some(shape) = shape else {
                    error(
                        self.cx,
                        i.if_token,
                        "this `if` calls a user function in a branch, so its value is set by \
                         the branch taken and needs a shape the macro can tell: end one branch \
                         with a number, a data argument, a latent or a call of a user function \
                         that declares its return type",
                    );
                    return Some(syn::parse_quote!(0.0));
                };
                let values = [tail(&i.then_branch), branch_value(els)];
                let init = self.start(shape, values.into_iter().flatten());
                Some(self.select(
                    i.if_token.span,
                    &i.cond,
                    &then,
                    els,
                    init,
                    shape != Shape::Scalar,
                ))
            }
            Expr::Binary(b) => {
                let and = match b.op {
                    syn::BinOp::And(_) => true,
                    syn::BinOp::Or(_) => false,
                    _ => return None,
                };
                if !calls_user(&b.right, fns) {
                    return None;
                }
                let span = b.op.span();
                let (then, els): (Expr, Expr) = if and {
                    ((*b.right).clone(), syn::parse_quote_spanned!(span=> false))
                } else {
                    (syn::parse_quote_spanned!(span=> true), (*b.right).clone())
                };
                Some(self.select(span, &b.left, &then, &els, syn::parse_quote!(false), false))
            }
            Expr::Match(m) => {
                let calls = m.arms.iter().any(|a| {
                    calls_user(&a.body, fns)
                        || a.guard.as_ref().is_some_and(|(_, g)| calls_user(g, fns))
                });
                calls.then(|| self.select_match(m))
            }
            _ => None,
        }
    }

    /// The value a variable set by the branch taken starts with: a zero of the values' type.
    /// A scalar is `0.0` unless a value is visibly of another type: a call of a user function
    /// that returns an integer or a `bool` (`fn bucket(v: f64) -> usize`), a cast
    /// (`k as i64`), or an integer literal with no float literal beside it.
    fn start<'e>(&self, shape: Shape, values: impl Iterator<Item = &'e Expr>) -> Expr {
        match shape {
            Shape::Vector => return syn::parse_quote!(DVector::<f64>::zeros(0)),
            Shape::Matrix => return syn::parse_quote!(DMatrix::<f64>::zeros(0, 0)),
            Shape::Scalar => {}
        }
        let values: Vec<&Expr> = values.collect();
        for v in &values {
            let ty = match strip(v) {
                Expr::Cast(c) => Some((*c.ty).clone()),
                e => self.user_call(e).and_then(|f| f.ret_ty.clone()),
            };
            if let Some(init) = ty.as_ref().and_then(zero_of) {
                return init;
            }
        }
        let lit = |float: bool| {
            values.iter().any(|v| {
                matches!(strip(v), Expr::Lit(syn::ExprLit { lit: syn::Lit::Float(_), .. }) if float)
                    || matches!(strip(v), Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })
                        if !float && i.suffix().is_empty())
            })
        };
        if lit(false) && !lit(true) {
            return syn::parse_quote!(0);
        }
        syn::parse_quote!(0.0)
    }

    /// The shape of a branch's value, before its calls are inlined.
    fn value_shape(&self, e: &Expr) -> Option<Shape> {
        match e {
            Expr::Block(b) => self.value_shape(tail(&b.block)?),
            Expr::If(i) => tail(&i.then_branch)
                .and_then(|t| self.value_shape(t))
                .or_else(|| self.value_shape(&i.else_branch.as_ref()?.1)),
            other => shape_of(other, &self.names, self.fns),
        }
    }

    /// `let mut v = init; if cond { v = then; } else { v = els; }` in `hoisted`, each
    /// branch's calls inlined inside it; returns `v`.
    fn select(
        &mut self,
        span: proc_macro2::Span,
        cond: &Expr,
        then: &Expr,
        els: &Expr,
        init: Expr,
        inlined: bool,
    ) -> Expr {
        let mut cond = cond.clone();
        self.visit_expr_mut(&mut cond);
        *self.counter += 1;
        let var = format_ident!("if_value{}", *self.counter, span = span);
        self.cx.rename(var.to_string(), "if".to_string());
        let then = self.branch(then, &var);
        let els = self.branch(els, &var);
        self.hoisted.push(Stmt::Let(parse::LetStmt {
            pat: syn::parse_quote!(mut #var),
            ty: None,
            src: self.caller.clone(),
            init,
            keep: None,
            inlined,
        }));
        self.hoisted.push(Stmt::If(parse::IfStmt {
            src: self.caller.clone(),
            cond,
            then,
            els: Some(els),
        }));
        syn::parse_quote_spanned!(span=> #var)
    }

    /// A branch as statements: its own statements (calls inlined), then `var = value;`.
    fn branch(&mut self, e: &Expr, var: &syn::Ident) -> parse::Block {
        let names = self.names.clone();
        let outer = std::mem::take(&mut self.hoisted);
        let mut block = parse::Block { stmts: Vec::new() };
        let value = match e {
            Expr::Block(b) if b.block.stmts.len() > 1 => {
                let mut stmts = b.block.stmts.clone();
                match stmts.pop() {
                    Some(syn::Stmt::Expr(v, None)) => {
                        match syn::parse2::<parse::Block>(quote::quote!({ #(#stmts)* })) {
                            Ok(b) => {
                                for s in &b.stmts {
                                    if let Stmt::Error(e) = s {
                                        self.cx.syn_error(e.clone());
                                    }
                                }
                                block = b;
                                self.block(&mut block);
                                v
                            }
                            Err(err) => {
                                self.cx.syn_error(err);
                                syn::parse_quote!(0.0)
                            }
                        }
                    }
                    _ => {
                        error(self.cx, e, "each branch of this `if` ends with its value");
                        syn::parse_quote!(0.0)
                    }
                }
            }
            Expr::Block(b) => match tail(&b.block) {
                Some(v) => v.clone(),
                None => {
                    error(self.cx, e, "each branch of this `if` ends with its value");
                    syn::parse_quote!(0.0)
                }
            },
            other => other.clone(),
        };
        let mut value = value;
        self.visit_expr_mut(&mut value);
        block.stmts.append(&mut self.hoisted);
        let span = crate::codegen::span_of(&value);
        block.stmts.push(Stmt::Assign(parse::AssignStmt {
            lhs: syn::parse_quote_spanned!(span=> #var),
            op: AssignOp::Set,
            op_span: span,
            src: self.caller.clone(),
            rhs: value,
        }));
        self.hoisted = outer;
        self.names = names;
        block
    }
}

/// `e` without parentheses and invisible groups.
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        other => other,
    }
}

/// One arm of a `match` rewritten as a branch of an `if` chain.
struct Arm {
    /// When the arm is taken (pattern and guard); `None` when it takes every value.
    cond: Option<Expr>,
    /// The arm's value, a name it binds bound first (`{ let k = <scrutinee>; value }`).
    body: Expr,
}

/// The condition under which `pat` matches `s`: `None` when it matches every value, `Err`
/// naming a pattern that is not a comparison with literals, constants or ranges.
fn pattern_cond(pat: &syn::Pat, s: &Expr) -> Result<Option<Expr>, &'static str> {
    use syn::Pat;
    let span = crate::codegen::span_of(s);
    Ok(match pat {
        Pat::Wild(_) => None,
        Pat::Paren(p) => pattern_cond(&p.pat, s)?,
        Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() => {
            let constant = p
                .ident
                .to_string()
                .starts_with(|c: char| c.is_ascii_uppercase());
            match &p.subpat {
                Some((_, sub)) => pattern_cond(sub, s)?,
                None if constant => {
                    let c = &p.ident;
                    Some(syn::parse_quote_spanned!(span=> #s == #c))
                }
                None => None,
            }
        }
        Pat::Lit(l) => Some(syn::parse_quote_spanned!(span=> #s == #l)),
        Pat::Path(p) => Some(syn::parse_quote_spanned!(span=> #s == #p)),
        Pat::Range(r) => {
            let lo = r
                .start
                .as_ref()
                .map(|a| -> Expr { syn::parse_quote_spanned!(span=> #s >= #a) });
            let hi = r.end.as_ref().map(|b| -> Expr {
                match r.limits {
                    syn::RangeLimits::HalfOpen(_) => syn::parse_quote_spanned!(span=> #s < #b),
                    syn::RangeLimits::Closed(_) => syn::parse_quote_spanned!(span=> #s <= #b),
                }
            });
            match (lo, hi) {
                (Some(a), Some(b)) => Some(syn::parse_quote_spanned!(span=> (#a && #b))),
                (a, b) => a.or(b),
            }
        }
        Pat::Or(o) => {
            let mut conds = Vec::new();
            for c in &o.cases {
                match pattern_cond(c, s)? {
                    Some(c) => conds.push(c),
                    None => return Ok(None),
                }
            }
            Some(syn::parse_quote_spanned!(span=> (#(#conds)||*)))
        }
        _ => {
            return Err(
                "a `match` that calls a user function in an arm compares its value with \
                 literals, constants, ranges, `|`, `_` or a name; this pattern is not one of them",
            )
        }
    })
}

/// The name a pattern binds to the whole value (`k` or `k @ 1..=3`), if any.
fn pattern_binding(pat: &syn::Pat) -> Option<&syn::Ident> {
    match pat {
        syn::Pat::Paren(p) => pattern_binding(&p.pat),
        syn::Pat::Ident(p)
            if p.subpat.is_some()
                || !p
                    .ident
                    .to_string()
                    .starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            Some(&p.ident)
        }
        _ => None,
    }
}

/// Replaces the name `name` by `with` in a guard.
struct Subst<'a>(&'a syn::Ident, &'a Expr);

impl VisitMut for Subst<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Path(p) = e {
            if p.qself.is_none() && p.path.is_ident(self.0) {
                let with = self.1;
                *e = syn::parse_quote!((#with));
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
}

impl Inliner<'_> {
    /// A `match` with a user function's call in an arm or a guard: `let mut v = zero;`,
    /// then an `if` chain over the arms in order, each arm's condition (its pattern compared
    /// with the scrutinee, then its guard) evaluated only when the arms before it did not
    /// match, and each arm's calls inlined inside its branch; returns `v`. The last arm takes
    /// every value (`_`, a name) or the arms cover `true` and `false`.
    pub(super) fn select_match(&mut self, m: &syn::ExprMatch) -> Expr {
        let span = m.match_token.span;
        let mut scrutinee = (*m.expr).clone();
        self.visit_expr_mut(&mut scrutinee);
        // The scrutinee is read by every arm's condition: evaluated once unless it is
        // arithmetic or a comparison of names, literals and elements (then an `if` on a
        // latent is refused at its name, as for an `if` written out).
        let s: Expr = if super::trivial(&scrutinee) {
            scrutinee
        } else if cheap(&scrutinee) {
            syn::parse_quote_spanned!(crate::codegen::span_of(&m.expr)=> (#scrutinee))
        } else {
            *self.counter += 1;
            let var = format_ident!(
                "match_on{}",
                *self.counter,
                span = crate::codegen::span_of(&m.expr)
            );
            self.cx
                .rename(var.to_string(), parse::pretty(m.expr.to_token_stream()));
            self.hoisted.push(Stmt::Let(parse::LetStmt {
                pat: syn::parse_quote!(#var),
                ty: None,
                src: self.caller.clone(),
                init: scrutinee,
                keep: None,
                inlined: false,
            }));
            syn::parse_quote_spanned!(crate::codegen::span_of(&m.expr)=> #var)
        };
        let mut arms = Vec::new();
        let mut bools = (false, false);
        for a in &m.arms {
            let cond = match pattern_cond(&a.pat, &s) {
                Ok(c) => c,
                Err(msg) => {
                    error(self.cx, &a.pat, msg);
                    return syn::parse_quote!(0.0);
                }
            };
            if a.guard.is_none() {
                if let syn::Pat::Lit(syn::ExprLit {
                    lit: syn::Lit::Bool(b),
                    ..
                }) = &a.pat
                {
                    if b.value {
                        bools.0 = true;
                    } else {
                        bools.1 = true;
                    }
                }
            }
            let bound = pattern_binding(&a.pat);
            let guard = a.guard.as_ref().map(|(_, g)| {
                let mut g = (**g).clone();
                if let Some(k) = bound {
                    Subst(k, &s).visit_expr_mut(&mut g);
                }
                g
            });
            let cond = match (cond, guard) {
                (c, None) => c,
                (None, Some(g)) => Some(g),
                (Some(c), Some(g)) => Some(syn::parse_quote!(#c && #g)),
            };
            let body = match bound {
                None => (*a.body).clone(),
                Some(k) => {
                    let stmts: Vec<syn::Stmt> = match &*a.body {
                        Expr::Block(b) if b.label.is_none() => b.block.stmts.clone(),
                        other => vec![syn::Stmt::Expr(other.clone(), None)],
                    };
                    syn::parse_quote!({ let #k = #s; #(#stmts)* })
                }
            };
            arms.push(Arm { cond, body });
        }
        // The last arm must be taken when no other is, so that the value is always set.
        let covered = bools.0 && bools.1;
        match arms.last_mut() {
            Some(last) if last.cond.is_none() => {}
            Some(last) if covered && m.arms.last().is_some_and(|a| a.guard.is_none()) => {
                last.cond = None;
            }
            _ => {
                error(
                    self.cx,
                    m.match_token,
                    "a `match` that calls a user function in an arm ends with an arm that \
                     takes every value (`_ => ..`), so that its value is always set",
                );
                return syn::parse_quote!(0.0);
            }
        }
        // Arms after one that takes every value are never taken (rustc would warn).
        if let Some(k) = arms.iter().position(|a| a.cond.is_none()) {
            arms.truncate(k + 1);
        }
        let bodies: Vec<&Expr> = arms.iter().map(|a| &a.body).collect();
        let tails: Vec<&Expr> = bodies.iter().filter_map(|b| self::value_of(b)).collect();
        let init: Expr = if tails.iter().any(|t| boolean(t)) {
            syn::parse_quote!(false)
        } else {
            let shape = tails.iter().find_map(|t| self.value_shape(t));
            let Some(shape) = shape else {
                error(
                    self.cx,
                    m.match_token,
                    "this `match` calls a user function in an arm, so its value is set by the \
                     arm taken and needs a shape the macro can tell: end one arm with a \
                     number, a data argument, a latent or a call of a user function that \
                     declares its return type",
                );
                return syn::parse_quote!(0.0);
            };
            let init = self.start(shape, tails.iter().copied());
            if shape != Shape::Scalar {
                return self.chain_into(span, &arms, init, true);
            }
            init
        };
        self.chain_into(span, &arms, init, false)
    }

    /// `let mut v = init;` and the `if` chain over `arms` in `hoisted`; returns `v`.
    fn chain_into(
        &mut self,
        span: proc_macro2::Span,
        arms: &[Arm],
        init: Expr,
        inlined: bool,
    ) -> Expr {
        *self.counter += 1;
        let var = format_ident!("match_value{}", *self.counter, span = span);
        self.cx.rename(var.to_string(), "match".to_string());
        self.hoisted.push(Stmt::Let(parse::LetStmt {
            pat: syn::parse_quote!(mut #var),
            ty: None,
            src: self.caller.clone(),
            init,
            keep: None,
            inlined,
        }));
        let mut chain = self.chain(arms, &var);
        self.hoisted.append(&mut chain.stmts);
        syn::parse_quote_spanned!(span=> #var)
    }

    /// The statements choosing among `arms` (the last takes every value): its body when the
    /// first arm takes every value, else `if <cond> { <arm> } else { <the rest> }` after the
    /// statements of the condition's calls.
    fn chain(&mut self, arms: &[Arm], var: &syn::Ident) -> parse::Block {
        let Some((first, rest)) = arms.split_first() else {
            return parse::Block { stmts: Vec::new() };
        };
        let Some(cond) = &first.cond else {
            return self.branch(&first.body, var);
        };
        let outer = std::mem::take(&mut self.hoisted);
        let mut cond = cond.clone();
        self.visit_expr_mut(&mut cond);
        let mut stmts = std::mem::replace(&mut self.hoisted, outer);
        let then = self.branch(&first.body, var);
        let els = self.chain(rest, var);
        stmts.push(Stmt::If(parse::IfStmt {
            src: self.caller.clone(),
            cond,
            then,
            els: Some(els),
        }));
        parse::Block { stmts }
    }
}

/// The value an arm ends with: a block's last expression, or the expression itself.
fn value_of(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Block(b) => tail(&b.block),
        other => Some(other),
    }
}

/// Arithmetic, comparisons and casts of names, literals and elements: cheap to evaluate per
/// arm, and with no call whose body would run more than once.
fn cheap(e: &Expr) -> bool {
    match e {
        Expr::Binary(b) => cheap(&b.left) && cheap(&b.right),
        Expr::Unary(u) => cheap(&u.expr),
        Expr::Cast(c) => cheap(&c.expr),
        Expr::Paren(p) => cheap(&p.expr),
        other => super::trivial(other),
    }
}
