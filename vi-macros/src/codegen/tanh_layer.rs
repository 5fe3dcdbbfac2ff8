//! A network's hidden tanh layer and its Gaussian output,
//!
//! ```text
//! let h = (x * w1 + b1.transpose()).tanh();     // or tanh(x * w1 + b1.transpose())
//! y ~ Normal(h * w2 + b2, sigma);               // or b2 + h * w2, or h * w2
//! ```
//!
//! emitted as one call of the runtime's fused kernel (`__private::normal_tanh_layer`,
//! `vi_runtime::ad::tanh_layer`): one pass over the rows computes the layer, the density and
//! every partial, where the rules make the `N x H` layer and its adjoint and sweep four
//! products.
//!
//! Recognised when `x` is a model argument declared `DMatrix<f64>` (behind `&` or not), `w1`
//! a latent declared as a matrix, `b1` and `w2` latents declared as vectors, `b2` (when
//! there is one) and `sigma` single numbers (a scalar latent, an argument declared `f64`, or
//! a literal), both statements in the model's outer block, and `h` read nowhere else (nor
//! kept with `#[keep]`). The `let` is then not emitted in the bodies that fuse (the log
//! density, the terms, the gradient); the constructor's run, the simulation and the kept
//! values run both statements through the rules as before, so the constructor's checks and
//! messages are unchanged (it then runs the fused kernel once, so a length the kernel cannot
//! take is a `ModelError` naming the statement there).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Expr, Lit, Type};

use super::kernel_call::{addends, around_call, kernel_adjoint, kernel_slice, strip, Run};
use super::lower::V;
use super::pass::{Mode, Pass};
use super::Emitter;
use crate::catalogue::{Binary, DistInfo, Unary};
use crate::ir::{AExpr, Binding, BindingId, Operand, Shape, Stmt};

/// The parts of a matched pair of statements.
struct Layer<'a> {
    /// The hidden layer's binding.
    h: &'a Binding,
    /// The input matrix: a model argument.
    x: &'a Expr,
    w1: &'a AExpr,
    b1: &'a AExpr,
    w2: &'a AExpr,
    /// The output bias, when there is one.
    b2: Option<&'a AExpr>,
    sigma: &'a Operand,
}

fn run_of(m: Mode) -> Option<Run> {
    match m.pass {
        Pass::Build => Some(Run::Build),
        Pass::Gradient => Some(Run::Grad),
        Pass::Density | Pass::Terms => Some(Run::Value),
        // The posterior predictive and kept values need the layer itself; the passes inside
        // sweeps only run nested blocks, which the pattern excludes.
        Pass::Simulate | Pass::Derive | Pass::Sweep | Pass::Recompute | Pass::Values => None,
    }
}

impl Emitter<'_> {
    /// Whether the `let` of `id` is a hidden layer that a fused observation reads instead
    /// (then the bodies that fuse do not emit it, nor recycle its value).
    pub(super) fn layer_fused_let(&self, id: BindingId) -> bool {
        self.m.body.iter().any(|s| match s {
            Stmt::Observe { dist, args, .. } => {
                self.layer_parts(dist, args).is_some_and(|l| l.h.id == id)
            }
            _ => false,
        })
    }

    /// Whether this body leaves out the `let` of `id` (see [`Emitter::layer_fused_let`]).
    pub(super) fn layer_skips_let(&self, id: BindingId, m: Mode) -> bool {
        matches!(run_of(m), Some(Run::Grad | Run::Value)) && self.layer_fused_let(id)
    }

    /// The statement `lhs ~ dist(args)` through the fused kernel, when it is the output of a
    /// hidden tanh layer and this body can take it; `None` otherwise.
    pub(super) fn layer_observe(
        &self,
        src: usize,
        lhs: &Expr,
        dist: &DistInfo,
        args: &[Operand],
        m: Mode,
    ) -> Option<TokenStream> {
        let run = run_of(m)?;
        let top = self
            .m
            .body
            .iter()
            .any(|s| matches!(s, Stmt::Observe { src: s2, .. } if *s2 == src));
        if !top {
            return None;
        }
        let layer = self.layer_parts(dist, args)?;
        let fused = self.layer_call(src, lhs, &layer, &run, m);
        Some(self.with_rules(&run, src, lhs, dist, args, m, fused))
    }

    /// The parts of `Normal(h * w2 + b2, sigma)` with `h` a fusable layer's `let`.
    fn layer_parts<'a>(&'a self, dist: &DistInfo, args: &'a [Operand]) -> Option<Layer<'a>> {
        if dist.name != "Normal" || args.len() != 2 {
            return None;
        }
        let Operand::Active(mu) = &args[0] else {
            return None;
        };
        if !self.scalar_operand(&args[1]) {
            return None;
        }
        let mut terms = Vec::new();
        addends(mu, &mut terms);
        if terms.len() > 2 {
            return None;
        }
        let k = terms.iter().position(|t| {
            matches!(t, AExpr::Binary(Binary::Mul, h, w2, _)
                if matches!(&**h, AExpr::Var(_)) && self.latent_shaped(w2, false))
        })?;
        let AExpr::Binary(Binary::Mul, h, w2, _) = terms[k] else {
            return None;
        };
        let AExpr::Var(h) = &**h else {
            return None;
        };
        let b2 = match terms.len() {
            2 => {
                let b = terms[1 - k];
                Some(self.scalar_aexpr(b).then_some(b)?)
            }
            _ => None,
        };
        let (x, w1, b1) = self.layer_let(h)?;
        Some(Layer {
            h,
            x,
            w1,
            b1,
            w2,
            b2,
            sigma: &args[1],
        })
    }

    /// `x`, `w1` and `b1` of the outer-block `let h = tanh(x * w1 + b1.transpose())`, when
    /// `h` is read exactly once in the model and not kept.
    fn layer_let<'a>(&'a self, h: &Binding) -> Option<(&'a Expr, &'a AExpr, &'a AExpr)> {
        let init = self.m.body.iter().find_map(|s| match s {
            Stmt::Let { binding, init, .. } if binding.id == h.id => Some(init),
            _ => None,
        })?;
        if self.m.kept.iter().any(|k| k.id == h.id)
            || self.groups.contains_key(&h.id)
            || uses(&self.m.body, h.id) != 1
        {
            return None;
        }
        let AExpr::Unary(Unary::Named("tanh"), inner, _) = init else {
            return None;
        };
        let AExpr::Binary(Binary::Add, l, r, _) = &**inner else {
            return None;
        };
        let (prod, bias) = match (&**l, &**r) {
            (p @ AExpr::Binary(Binary::Mul, ..), b) | (b, p @ AExpr::Binary(Binary::Mul, ..)) => {
                (p, b)
            }
            _ => return None,
        };
        let AExpr::Binary(Binary::Mul, x, w1, _) = prod else {
            return None;
        };
        let AExpr::Data(x) = &**x else {
            return None;
        };
        let AExpr::Unary(Unary::Named("transpose"), b1, _) = bias else {
            return None;
        };
        (self.matrix_arg(x) && self.latent_shaped(w1, true) && self.latent_shaped(b1, false))
            .then_some((x, &**w1, &**b1))
    }

    /// Whether `e` is a latent declared as a matrix (`matrix`) or a vector.
    fn latent_shaped(&self, e: &AExpr, matrix: bool) -> bool {
        let AExpr::Var(b) = e else {
            return false;
        };
        self.m.latents.iter().any(|l| {
            l.binding.id == b.id
                && match l.shape {
                    Shape::Matrix(..) => matrix,
                    Shape::Vector(_) => !matrix,
                    _ => false,
                }
        })
    }

    /// Whether `e` is one number: a scalar latent, a float literal, or an argument declared
    /// `f64`.
    fn scalar_aexpr(&self, e: &AExpr) -> bool {
        match e {
            AExpr::Var(b) => self
                .m
                .latents
                .iter()
                .any(|l| l.binding.id == b.id && matches!(l.shape, Shape::Scalar)),
            AExpr::Data(d) => self.scalar_data(d),
            _ => false,
        }
    }

    fn scalar_operand(&self, o: &Operand) -> bool {
        match o {
            Operand::Data(d) => self.scalar_data(d),
            Operand::Active(a) => self.scalar_aexpr(a),
        }
    }

    fn scalar_data(&self, d: &Expr) -> bool {
        match strip(d) {
            Expr::Lit(l) => matches!(l.lit, Lit::Float(_)),
            e => self
                .arg_type(e)
                .is_some_and(|t| matches!(t, Type::Path(p) if p.path.is_ident("f64"))),
        }
    }

    /// Whether `e` names an argument declared `DMatrix<f64>` (behind `&` or not).
    fn matrix_arg(&self, e: &Expr) -> bool {
        let Some(Type::Path(p)) = self.arg_type(e) else {
            return false;
        };
        let Some(last) = p.path.segments.last() else {
            return false;
        };
        let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
            return false;
        };
        last.ident == "DMatrix"
            && a.args.len() == 1
            && matches!(a.args.first(), Some(syn::GenericArgument::Type(Type::Path(t)))
                if t.path.is_ident("f64"))
    }

    /// The kernel's call, the operands' forward code before it and their sweep after it.
    fn layer_call(&self, src: usize, lhs: &Expr, l: &Layer<'_>, run: &Run, m: Mode) -> TokenStream {
        let grad = *run == Run::Grad;
        let mut low = self.lowering(src);
        if !grad {
            low.without_partials();
        }
        let y = low.data(lhs);
        // `w1`, `b1`, `w2`, then `b2` when there is one, then `sigma`.
        let mut vals = vec![
            low.lower(l.w1, None),
            low.lower(l.b1, None),
            low.lower(l.w2, None),
        ];
        vals.extend(l.b2.map(|b| low.lower(b, None)));
        vals.push(match l.sigma {
            Operand::Data(e) => low.data(e),
            Operand::Active(a) => low.lower(a, None),
        });
        // The same variable twice gets a copy: the adjoints are borrowed mutably side by side.
        low.distinct_kernel(&mut vals);
        let fwd = low.forward();
        let slice = kernel_slice;
        let adj = |v: &V| kernel_adjoint(v, grad);
        let none = quote!(::core::option::Option::None);
        let last = &vals[vals.len() - 1];
        let (w1, dw1) = (slice(&vals[0]), adj(&vals[0]));
        let (b1, db1) = (slice(&vals[1]), adj(&vals[1]));
        let (w2, dw2) = (slice(&vals[2]), adj(&vals[2]));
        let (b2, db2) = match l.b2 {
            Some(_) => (slice(&vals[3]), adj(&vals[3])),
            None => (quote!(&[]), none),
        };
        let (s, ds) = (slice(last), adj(last));
        let yv = slice(&y);
        let x = l.x;
        let names = self.layer_names(lhs, l);
        let lp = format_ident!("__lp{}", src);
        let call = quote! {
            let #lp = ::vi::__private::normal_tanh_layer(
                #src, [#(#names),*], &*#x, #yv, #w1, #b1, #w2, #b2, #s,
                #dw1, #db1, #dw2, #db2, #ds,
            )?;
        };
        around_call(run, src, m, &low, fwd, call, &lp)
    }

    /// The user's texts of `x`, `y`, `w1`, `b1`, `w2`, `b2` and `sigma`, for the kernel's
    /// messages.
    fn layer_names(&self, lhs: &Expr, l: &Layer<'_>) -> Vec<String> {
        let text = |e: &AExpr| match e {
            AExpr::Var(b) => b.name.to_string(),
            AExpr::Data(e) => crate::parse::pretty(e.to_token_stream()),
            _ => "the output bias".to_string(),
        };
        vec![
            crate::parse::pretty(l.x.to_token_stream()),
            crate::parse::pretty(lhs.to_token_stream()),
            text(l.w1),
            text(l.b1),
            text(l.w2),
            l.b2.map_or_else(|| "0".to_string(), text),
            match l.sigma {
                Operand::Data(e) => crate::parse::pretty(e.to_token_stream()),
                Operand::Active(a) => text(a),
            },
        ]
    }
}

/// How many times the model reads the binding `id` (in every statement, nested ones too).
fn uses(body: &[Stmt], id: BindingId) -> usize {
    let mut n = 0;
    let mut count = |e: &AExpr| {
        crate::ir::aexpr_vars(e, &mut |b| n += usize::from(b.id == id));
    };
    crate::ir::walk(body, &mut |s| match s {
        Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
            for a in args {
                if let Operand::Active(e) = a {
                    count(e);
                }
            }
        }
        Stmt::Density { value, args, .. } => {
            count(value);
            for a in args {
                if let Operand::Active(e) = a {
                    count(e);
                }
            }
        }
        Stmt::Target {
            value: Operand::Active(e),
            ..
        } => count(e),
        Stmt::Let { init, .. } => count(init),
        Stmt::For { carried, .. } => {
            for c in carried {
                if c.outer.id == id {
                    count(&AExpr::Var(c.outer.clone()));
                }
            }
        }
        Stmt::If { joined, .. } => {
            for j in joined {
                for b in [&j.then_last, &j.else_last] {
                    if b.id == id {
                        count(&AExpr::Var(b.clone()));
                    }
                }
            }
        }
        Stmt::Target { .. } | Stmt::Data(_) | Stmt::At(_) => {}
    });
    n
}

#[cfg(test)]
mod tests {
    use crate::codegen::kernel_call::tests::{expand, section};

    #[test]
    fn the_layer_and_its_output_are_one_call_where_the_density_is_summed() {
        let out = expand(
            "fn m(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize, sigma: f64) {
                let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
                let b1 ~ Normal(0.0, 1.0).iid(hidden);
                let w2 ~ Normal(0.0, 1.0).iid(hidden);
                let b2 ~ Normal(0.0, 1.0);
                let h = (x * w1 + b1.transpose()).tanh();
                y ~ Normal(h * w2 + b2, sigma);
            }",
        );
        for (start, end) in [
            ("fn __grad", "fn __sim"),
            ("fn __lp", "fn __terms"),
            ("fn __terms", "fn __grad"),
        ] {
            let body = section(&out, start, end);
            assert!(body.contains("normal_tanh_layer"), "{start}: {body}");
            assert!(
                !body.contains("tanh_fwd") && !body.contains("tanh ("),
                "{start}: {body}"
            );
        }
        // The constructor runs the rules (their checks), then the kernel once.
        let build = section(&out, "fn __build", "fn __derive");
        assert!(
            build.contains("normal_tanh_layer") && build.contains("tanh"),
            "{build}"
        );
    }

    #[test]
    fn other_forms_match_and_near_misses_do_not() {
        for (src, fused) in [
            (
                "let h = (x * w1 + b1.transpose()).tanh(); y ~ Normal(h * w2 + b2, s);",
                true,
            ),
            (
                "let h = tanh(x * w1 + b1.transpose()); y ~ Normal(b2 + h * w2, sigma);",
                true,
            ),
            (
                "let h = tanh(b1.transpose() + x * w1); y ~ Normal(h * w2, 0.1);",
                true,
            ),
            // `h` read twice, kept, a vector noise, a `let` for the location, no bias, another
            // activation, another distribution, a data vector `w2`.
            (
                "let h = tanh(x * w1 + b1.transpose()); y ~ Normal(h * w2 + b2, s); \
                 target += sum(h);",
                false,
            ),
            (
                "#[keep] let h = tanh(x * w1 + b1.transpose()); y ~ Normal(h * w2 + b2, s);",
                false,
            ),
            (
                "let h = tanh(x * w1 + b1.transpose()); y ~ Normal(h * w2 + b2, sv);",
                false,
            ),
            (
                "let h = tanh(x * w1 + b1.transpose()); let mu = h * w2 + b2; y ~ Normal(mu, s);",
                false,
            ),
            ("let h = tanh(x * w1); y ~ Normal(h * w2 + b2, s);", false),
            (
                "let h = sigmoid(x * w1 + b1.transpose()); y ~ Normal(h * w2 + b2, s);",
                false,
            ),
            (
                "let h = tanh(x * w1 + b1.transpose()); y ~ StudentT(3.0, h * w2 + b2, s);",
                false,
            ),
            (
                "let h = tanh(x * w1 + b1.transpose()); y ~ Normal(h * v + b2, s);",
                false,
            ),
        ] {
            let model = format!(
                "fn m(x: &DMatrix<f64>, y: &DVector<f64>, v: &DVector<f64>, sigma: f64) {{
                    let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), 4));
                    let b1 ~ Normal(0.0, 1.0).iid(4);
                    let w2 ~ Normal(0.0, 1.0).iid(4);
                    let b2 ~ Normal(0.0, 1.0);
                    let s ~ HalfNormal(1.0);
                    let sv ~ HalfNormal(1.0).iid(x.nrows());
                    {src}
                }}"
            );
            let out = expand(&model);
            let grad = section(&out, "fn __grad", "fn __sim");
            assert_eq!(grad.contains("normal_tanh_layer"), fused, "{src}: {grad}");
        }
    }
}
