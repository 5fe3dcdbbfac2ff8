//! The syntax tree -> the analysed model ([`crate::ir`]): names and scopes, latent vs
//! observed vs deterministic vs data, which values are active (depend on a latent), shapes
//! of latents, constraints from the priors' supports, and every mistake reported at the
//! user's token.
//!
//! Assignments to active `let mut` state are put in SSA form: each assignment makes a new
//! version of the variable, and a `for` or `if` that assigns state declared outside it
//! makes one new version at its exit ([`Carried`]). The differentiation stage relies on
//! this: every active value is written once.
//!
//! `mod.rs` holds the scopes, the driver and the statements that declare latents and
//! observations; `activity.rs` which `let mut` state is active, decided before the
//! analyser runs (once); `stmts.rs` the `let`s, assignments, loops and branches; `exprs.rs` the
//! lowering of expressions to the rules; `ssa.rs` state written in place; `names.rs` the
//! names an expression or pattern uses or binds.

mod activity;
mod density;
mod exprs;
mod functions;
mod keep;
mod misuse;
mod names;
mod ssa;
mod stmts;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Expr, Ident, Type};

use crate::catalogue::{self, DistInfo, Support};
use crate::ctxt::Ctxt;
pub use crate::ir::*;
use crate::parse::{self, ModelDef};
use crate::shape::Shapes;
pub use names::{built_from_arguments, pat_names};
use ssa::StateVersions;

// ---------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Entry {
    Data {
        mutable: bool,
        /// The declaration's number ([`activity`]).
        decl: usize,
        arg: bool,
    },
    Active {
        b: Binding,
        mutable: bool,
        decl: usize,
        latent: bool,
        decl_frame: usize,
    },
}

#[derive(Default)]
struct Frame {
    names: HashMap<String, Entry>,
    /// Active state declared outside this frame and assigned in it: (name, decl).
    assigned: Vec<(String, usize)>,
    /// Data `let mut` declared outside this frame and assigned in it.
    data_assigned: Vec<Ident>,
    data_decl_frame: HashMap<String, usize>,
}

struct Analyser {
    errors: Vec<syn::Error>,
    frames: Vec<Frame>,
    ids: Ids,
    next_decl: usize,
    /// The `let mut` state that is active ([`activity`]), by declaration number.
    active_decls: HashSet<usize>,
    latents: Vec<Latent>,
    latent_names: HashMap<String, Span>,
    /// Latents declared anywhere at the top level, with their statement index, for
    /// "used before declared".
    all_latents: HashSet<String>,
    srcs: Vec<String>,
    observed: Vec<String>,
    terms: Vec<usize>,
    depth: usize,
    cached: Vec<(usize, String)>,
    /// Versions of `let mut` state, to find vectors written in place.
    state: StateVersions,
    /// Bindings that are linear functions of the latents (the latents themselves, and `let`s
    /// of linear values), for the missing-Jacobian warning of `~` (`density.rs`).
    linear: HashSet<BindingId>,
    /// Warnings for the user (see [`Model::warnings`]).
    warnings: Vec<(Span, String)>,
    /// `#[keep]` values, in order (see [`Model::kept`]).
    kept: Vec<Binding>,
}

/// Analyses a parsed model. Errors go to `cx`; the returned model is only meaningful when
/// `cx` has none.
pub fn analyse(cx: &Ctxt, def: &ModelDef) -> Model {
    // User functions inlined at their calls.
    let inlined = functions::inline(cx, def);
    let stmts = inlined.as_ref().map_or(&def.body.stmts, |b| &b.stmts);
    let args: Vec<Arg> = def
        .args
        .iter()
        .map(|a| Arg {
            name: a.name.clone(),
            ty: a.ty.clone(),
            stored: stored_of(&a.ty),
        })
        .collect();
    let mut all_latents = HashSet::new();
    for s in stmts {
        if let parse::Stmt::Latent(l) = s {
            all_latents.insert(l.name.to_string());
        }
    }
    // Activity of `let mut` state is a fixed point (an assignment later in the body, or in
    // a later loop iteration, can make a variable active), found on the parsed tree; the
    // analyser then runs once.
    let active_decls = activity::active_state(&args, stmts);
    let mut a = Analyser {
        errors: Vec::new(),
        frames: vec![Frame::default()],
        ids: Ids::from(1),
        next_decl: 0,
        active_decls,
        latents: Vec::new(),
        latent_names: HashMap::new(),
        all_latents,
        srcs: Vec::new(),
        observed: Vec::new(),
        terms: Vec::new(),
        depth: 0,
        cached: Vec::new(),
        state: StateVersions::default(),
        linear: HashSet::new(),
        warnings: Vec::new(),
        kept: Vec::new(),
    };
    for arg in &args {
        // Numbered as `activity.rs` numbers them.
        let decl = a.new_decl();
        if a.frames[0].names.contains_key(&arg.name.to_string()) {
            a.err(
                arg.name.span(),
                format!("data argument `{}` is declared twice", arg.name),
            );
        }
        a.frames[0].names.insert(
            arg.name.to_string(),
            Entry::Data {
                mutable: false,
                decl,
                arg: true,
            },
        );
    }
    let mut body = a.block(stmts);
    for e in a.errors {
        cx.syn_error(e);
    }
    a.state.write_in_place(&mut body);
    // Later stages make their bindings after the last one the model still uses (state
    // written in place gave up some versions).
    let ids = Ids::from(next_after(&body, &a.latents));
    let mut m = Model {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        args,
        body,
        latents: a.latents,
        srcs: a.srcs,
        observed: a.observed,
        terms: a.terms,
        cached: a.cached,
        ids,
        warnings: a.warnings,
        kept: a.kept,
        lane_stmts: Vec::new(),
        gathers: 0,
        shapes: Shapes::default(),
    };
    m.shapes = Shapes::record(&m);
    misuse::check(cx, &m);
    m
}

/// The id after the largest the model uses.
fn next_after(body: &[Stmt], latents: &[Latent]) -> usize {
    let mut max = latents.iter().map(|l| l.binding.id.0).max().unwrap_or(0);
    bindings(body, &mut |b| max = max.max(b.id.0));
    max + 1
}

fn stored_of(ty: &Type) -> Stored {
    match ty {
        Type::Reference(r) => Stored::Ref(r.elem.clone()),
        Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            let id = p.path.segments[0].ident.to_string();
            let prim = [
                "f64", "f32", "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32",
                "i64", "bool",
            ];
            if prim.contains(&id.as_str()) {
                Stored::Copy
            } else {
                Stored::Owned
            }
        }
        _ => Stored::Owned,
    }
}

impl Analyser {
    fn err(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, msg));
    }

    fn err_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, msg));
    }

    fn new_decl(&mut self) -> usize {
        self.next_decl += 1;
        self.next_decl
    }

    fn binding(&mut self, name: &Ident) -> Binding {
        self.ids.binding(name)
    }

    fn src(&mut self, s: &str) -> usize {
        self.srcs.push(s.to_string());
        self.srcs.len() - 1
    }

    fn lookup(&self, name: &str) -> Option<&Entry> {
        self.frames.iter().rev().find_map(|f| f.names.get(name))
    }

    fn declare(&mut self, name: &Ident, entry: Entry) {
        if let Some(f) = self.frames.last_mut() {
            f.names.insert(name.to_string(), entry);
        }
    }

    fn block(&mut self, stmts: &[parse::Stmt]) -> Vec<Stmt> {
        let mut out = Vec::new();
        for s in stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn stmt(&mut self, s: &parse::Stmt, out: &mut Vec<Stmt>) {
        match s {
            parse::Stmt::Error(e) => self.errors.push(e.clone()),
            parse::Stmt::Latent(l) => self.latent(l, out),
            parse::Stmt::Observe(o) => self.observe(o, out),
            parse::Stmt::Let(l) => {
                let start = out.len();
                self.let_stmt(l, out);
                if let Some(span) = l.keep {
                    self.keep(l, span, &out[start..]);
                }
            }
            parse::Stmt::Assign(a) => self.assign(a, out),
            parse::Stmt::Target(t) => {
                let src = self.src(&t.src);
                self.terms.push(src);
                let value = self.operand(&t.expr);
                out.push(Stmt::Target { value, src });
            }
            parse::Stmt::For(f) => self.for_stmt(f, out),
            parse::Stmt::If(i) => self.if_stmt(i, out),
            parse::Stmt::Expr(e) => {
                if let Some(name) = self.first_active(&e.expr) {
                    self.err_spanned(
                        &e.expr,
                        format!(
                            "this statement uses `{name}`, which depends on a latent variable, but adds \
                             nothing to the density; use it in a `~` statement, a `let` or `target +=`"
                        ),
                    );
                } else {
                    self.check_names(&e.expr);
                    let expr = &e.expr;
                    let semi = e.semi.then(|| quote::quote!(;));
                    out.push(Stmt::Data(quote::quote!(#expr #semi)));
                }
            }
        }
    }

    fn dist(&mut self, call: &parse::DistCall) -> Option<&'static DistInfo> {
        let name = call.name.to_string();
        let Some(d) = catalogue::dist_named(&name) else {
            let msg = match catalogue::suggest_dist(&name) {
                Some(s) => format!("unknown distribution `{name}`, did you mean `{s}`?"),
                None => format!(
                    "unknown distribution `{name}`; known: {}",
                    catalogue::dist_names()
                ),
            };
            self.err(call.name.span(), msg);
            return None;
        };
        if call.args.len() != d.params.len() {
            let plural = if d.params.len() == 1 { "" } else { "s" };
            self.err(
                call.paren_span,
                format!(
                    "`{}` takes {} argument{plural} ({}), found {}",
                    d.name,
                    d.params.len(),
                    d.params.join(", "),
                    call.args.len()
                ),
            );
            return None;
        }
        Some(d)
    }

    /// A distribution's arguments (`latent`: of a latent's prior). Arguments a constraint or
    /// a multivariate kernel's size reads as written (a `Uniform` prior's bounds, Pareto's
    /// `y_min`, a multivariate distribution's) stay Rust; the others follow the DSL's
    /// arithmetic.
    fn dist_args(
        &mut self,
        d: &'static DistInfo,
        call: &parse::DistCall,
        latent: bool,
    ) -> Vec<Operand> {
        let rust = catalogue::multi_of(d).is_some()
            || (latent && matches!(d.support, Support::Bounds | Support::AboveFirst));
        let mut args = Vec::new();
        for (k, a) in call.args.iter().enumerate() {
            let op = if rust {
                self.rust_operand(a)
            } else {
                self.operand(a)
            };
            if d.data_params.contains(&k) && self.first_active(a).is_some() {
                self.err_spanned(
                    a,
                    format!(
                        "argument `{}` of `{}` must be data: it cannot depend on a latent variable",
                        d.params[k], d.name
                    ),
                );
            }
            args.push(op);
        }
        args
    }

    fn latent(&mut self, l: &parse::LatentStmt, out: &mut Vec<Stmt>) {
        self.errors.extend(l.mod_errors.iter().cloned());
        let src = self.src(&l.src);
        self.terms.push(src);
        let name = l.name.to_string();
        if let Some(m) = &l.mutability {
            self.err(
                m.span,
                format!("a latent variable cannot be `mut`: remove `mut` from `{name}`"),
            );
        }
        if self.depth > 0 {
            self.err(
                l.name.span(),
                format!(
                    "latent `{name}` is declared inside a loop or `if`; declare latents at the top \
                     level of the model, with `.iid(n)` for one per iteration"
                ),
            );
        }
        match self.lookup(&name) {
            Some(Entry::Data { arg: true, .. }) => {
                self.err(
                    l.name.span(),
                    format!("`{name}` is data and cannot be a latent variable"),
                );
            }
            _ if self.latent_names.contains_key(&name) => {
                self.err(l.name.span(), format!("latent `{name}` is declared twice"));
            }
            _ => {}
        }
        let dist = self.dist(&l.dist);
        let args = match dist {
            Some(d) => self.dist_args(d, &l.dist, true),
            None => l.dist.args.iter().map(|a| self.operand(a)).collect(),
        };
        let multi = dist.and_then(catalogue::multi_of);
        let shape = match &l.iid {
            None => Shape::Scalar,
            Some(e) => {
                self.data_expr(e, "a shape");
                match e {
                    Expr::Tuple(t) if t.elems.len() == 2 => {
                        Shape::Matrix(t.elems[0].clone(), t.elems[1].clone())
                    }
                    Expr::Tuple(t) => {
                        self.err_spanned(
                            t,
                            "`.iid` takes `n` for a vector or `(rows, cols)` for a matrix",
                        );
                        Shape::Scalar
                    }
                    e => Shape::Vector(e.clone()),
                }
            }
        };
        let shape = match (multi, shape) {
            (None, shape) => shape,
            (Some(mi), Shape::Scalar) => Shape::Multi {
                rows: None,
                matrix: mi.matrix,
            },
            (Some(mi), Shape::Vector(j)) if !mi.matrix => Shape::Multi {
                rows: Some(j),
                matrix: false,
            },
            (Some(mi), _) => {
                let msg = if mi.matrix {
                    format!(
                        "a `{}` draw is a matrix; `.iid` of matrices is not supported: declare one \
                         latent per matrix",
                        mi.name
                    )
                } else {
                    format!(
                        "a `{}` draw is a vector: `.iid(j)` makes `j` draws, one per row of a \
                         matrix; `.iid((r, c))` does not apply",
                        mi.name
                    )
                };
                self.err_spanned(l.iid.as_ref(), msg);
                Shape::Scalar
            }
        };
        let mut constraint = Constraint::Identity;
        if let Some(d) = dist {
            constraint = match d.support {
                Support::Real | Support::RealVector => Constraint::Identity,
                Support::Positive => Constraint::Positive,
                Support::Unit => Constraint::Unit,
                Support::Simplex => Constraint::Blocks(Blocks::Simplex),
                Support::CholeskyCorr => Constraint::Blocks(Blocks::CholeskyCorr),
                Support::CorrMatrix => Constraint::Blocks(Blocks::CorrMatrix),
                Support::CovMatrix => Constraint::Blocks(Blocks::CovMatrix),
                Support::Bounds => {
                    match (&args[0], &args[1]) {
                        (Operand::Data(a), Operand::Data(b)) => {
                            Constraint::Interval(Box::new(a.clone()), Box::new(b.clone()))
                        }
                        _ => {
                            self.err(
                            l.dist.paren_span,
                            format!("the bounds of the latent `{name}`'s `Uniform` prior must be data"),
                        );
                            Constraint::Identity
                        }
                    }
                }
                Support::AboveFirst => match &args[0] {
                    // Pareto's `y_min`: the latent lies above it, Stan's `real<lower=y_min>`.
                    Operand::Data(a) => Constraint::Bounded(Some(Box::new(a.clone())), None),
                    _ => {
                        let msg = format!(
                            "the latent `{name}`'s `{}` prior starts at its argument `{}`, \
                             which must be data",
                            d.name, d.params[0]
                        );
                        match l.dist.args.first() {
                            Some(a) => self.err_spanned(a, msg),
                            None => self.err(l.dist.paren_span, msg),
                        }
                        Constraint::Identity
                    }
                },
                Support::Flat => Constraint::Identity,
                Support::Discrete | Support::CountVector => {
                    self.err(
                        l.dist.name.span(),
                        format!(
                            "`{}` is discrete: the latent `{name}` must be marginalised out (sum over its \
                             values with `target += ...`); latent variables must be continuous",
                            d.name
                        ),
                    );
                    Constraint::Identity
                }
            };
            constraint = self.modifiers(l, d, &shape, constraint);
        }
        let binding = self.binding(&l.name);
        let decl = self.new_decl();
        self.latent_names.insert(name, l.name.span());
        let frame = self.frames.len() - 1;
        self.declare(
            &l.name,
            Entry::Active {
                b: binding.clone(),
                mutable: false,
                decl,
                latent: true,
                decl_frame: frame,
            },
        );
        self.linear.insert(binding.id);
        self.latents.push(Latent {
            binding,
            shape,
            constraint,
        });
        if let Some(d) = dist {
            out.push(Stmt::Latent {
                latent: self.latents.len() - 1,
                dist: d,
                args,
                src,
            });
        }
    }

    /// The constraint the modifiers after a latent's prior say (`.ordered()`, `.lower(a)`,
    /// ...), given the one its support says: a modifier that does not fit the prior or the
    /// shape is an error at its name.
    fn modifiers(
        &mut self,
        l: &parse::LatentStmt,
        d: &'static DistInfo,
        shape: &Shape,
        support: Constraint,
    ) -> Constraint {
        let name = l.name.to_string();
        let mut out = support;
        let mut seen: Option<&Ident> = None;
        for m in &l.mods {
            let text = m.name.to_string();
            if let Some(first) = seen {
                self.err(
                    m.name.span(),
                    format!(
                        "the latent `{name}` already has the constraint `.{first}()`; give one \
                         constraint modifier"
                    ),
                );
                continue;
            }
            seen = Some(&m.name);
            for a in &m.args {
                self.data_expr(a, "a bound");
            }
            let real = d.support == Support::Real;
            let fits = match m.kind {
                parse::ModKind::PositiveOrdered => real || d.support == Support::Positive,
                _ => real,
            };
            if !fits {
                let what = match d.support {
                    Support::Positive => "(0, inf)",
                    Support::Unit => "(0, 1)",
                    Support::Bounds => "its bounds",
                    Support::Simplex => "simplexes",
                    Support::CholeskyCorr => "Cholesky factors of correlation matrices",
                    Support::CorrMatrix => "correlation matrices",
                    Support::CovMatrix => "covariance matrices",
                    Support::RealVector => "vectors of reals, drawn whole",
                    _ => "a discrete set",
                };
                self.err(
                    m.name.span(),
                    format!(
                        "`.{text}()` constrains a prior on all reals, but `{}`'s support is {what}, \
                         which already constrains `{name}`",
                        d.name
                    ),
                );
                continue;
            }
            let arg = |k: usize| Box::new(m.args[k].clone());
            out = match m.kind {
                parse::ModKind::Ordered | parse::ModKind::PositiveOrdered => {
                    if matches!(shape, Shape::Scalar) {
                        self.err(
                            m.name.span(),
                            format!(
                                "`.{text}()` needs a vector: write `.iid(k).{text}()` to make \
                                 `{name}` a vector of `k` increasing values"
                            ),
                        );
                        continue;
                    }
                    Constraint::Blocks(if m.kind == parse::ModKind::Ordered {
                        Blocks::Ordered
                    } else {
                        Blocks::PositiveOrdered
                    })
                }
                parse::ModKind::Lower => Constraint::Bounded(Some(arg(0)), None),
                parse::ModKind::Upper => Constraint::Bounded(None, Some(arg(0))),
                parse::ModKind::Bounds => Constraint::Bounded(Some(arg(0)), Some(arg(1))),
            };
        }
        out
    }

    /// Checks that `e`, which serves as `what` ("a shape", "an index"), touches no latent.
    fn data_expr(&mut self, e: &Expr, what: &str) {
        if let Some(name) = self.first_active(e) {
            self.err_spanned(
                e,
                format!("{what} must be data, but this depends on the latent variable `{name}`"),
            );
        } else {
            self.check_names(e);
        }
    }

    fn observe(&mut self, o: &parse::ObserveStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&o.src);
        self.terms.push(src);
        if let Some(iid) = &o.iid {
            self.err_spanned(iid, "`.iid` declares the shape of a latent; an observation takes its shape from the data");
        }
        if self.first_active(&o.lhs).is_some() {
            // `~` on a latent's expression: its density (`density.rs`).
            return self.density_stmt(o, src, out);
        } else {
            self.check_names(&o.lhs);
            self.note_data(&o.lhs);
        }
        let dist = self.dist(&o.dist);
        let args = match dist {
            Some(d) => self.dist_args(d, &o.dist, false),
            None => o.dist.args.iter().map(|a| self.operand(a)).collect(),
        };
        let dist = dist.filter(|d| self.not_flat(d, &o.dist));
        let text = parse::pretty(o.lhs.to_token_stream());
        self.observed.push(text);
        if let Some(d) = dist {
            out.push(Stmt::Observe {
                lhs: o.lhs.clone(),
                dist: d,
                args,
                src,
                obs: self.observed.len() - 1,
            });
        }
    }
}
