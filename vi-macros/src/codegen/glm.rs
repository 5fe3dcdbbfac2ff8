//! Observations that are Gaussian linear regressions on a data matrix,
//! `y ~ Normal(x * w + b, sigma)` (also `b + x * w`, and `x * w` alone), emitted as one call
//! of the runtime's fused kernel (`__private::normal_id_glm`, `vi_runtime::ad::glm`): one
//! pass over `x` computes the locations, the density and every partial, where the rules
//! would read `x` twice (`x * w` forward, `x^T r` in the sweep) and make two vectors of
//! length `N` between.
//!
//! Recognised when `x` is a model argument declared `DMatrix<f64>` or `&DMatrix<f64>`, and
//! `w` a latent declared as a vector (`.iid(k)`) or an argument declared as a vector of
//! `f64` (`DVector<f64>`, `Vec<f64>`, `[f64]`, behind `&` or not). `b` and `sigma` may be
//! anything the rules lower (latents, data, expressions); the kernel takes each as one number
//! or one per row. Every other statement, and this one in the runs that need the rules'
//! operands afterwards (a loop's recomputation before its sweep), is lowered as before. The
//! constructor's run checks the statement as before (the same messages), then runs the fused
//! kernel once, so a length it cannot take is a `ModelError` naming the statement there.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Expr, Type};

use super::kernel_call::{addends, around_call, kernel_adjoint, kernel_slice, Run};
use super::lower::V;
use super::pass::{Mode, Pass};
use super::Emitter;
use crate::catalogue::{Binary, DistInfo};
use crate::ir::{AExpr, Operand, Shape};

/// The parts of a matched observation.
struct Parts<'a> {
    /// The design matrix: a model argument.
    x: &'a Expr,
    /// The coefficients.
    w: &'a AExpr,
    /// The intercept, when there is one: the sum's other terms.
    b: Option<AExpr>,
}

fn run_of(m: Mode) -> Option<Run> {
    match m.pass {
        Pass::Simulate | Pass::Derive => None,
        Pass::Build => Some(Run::Build),
        Pass::Gradient | Pass::Sweep => Some(Run::Grad),
        // A recomputation whose sweep comes later (it needs the rules' operands), or a run
        // that does not call kernels.
        Pass::Recompute | Pass::Values => None,
        Pass::Density | Pass::Terms => Some(Run::Value),
    }
}

impl Emitter<'_> {
    /// The statement `lhs ~ dist(args)` through the fused kernel, when it is a Gaussian
    /// linear regression on a data matrix and this body can take it; `None` otherwise.
    pub(super) fn glm_observe(
        &self,
        src: usize,
        lhs: &Expr,
        dist: &DistInfo,
        args: &[Operand],
        m: Mode,
    ) -> Option<TokenStream> {
        let run = run_of(m)?;
        let (parts, sigma) = self.glm_parts(dist, args)?;
        let fused = self.glm_call(src, lhs, &parts, sigma, dist, &run, m);
        Some(self.with_rules(&run, src, lhs, dist, args, m, fused))
    }

    /// `Normal(x * w + b, sigma)`'s parts, when `x` and `w` are of the shapes the kernel
    /// takes.
    fn glm_parts<'a>(
        &self,
        dist: &DistInfo,
        args: &'a [Operand],
    ) -> Option<(Parts<'a>, &'a Operand)> {
        if dist.name != "Normal" || args.len() != 2 {
            return None;
        }
        let Operand::Active(mu) = &args[0] else {
            return None;
        };
        let product = |e: &'a AExpr| -> Option<(&'a Expr, &'a AExpr)> {
            let AExpr::Binary(Binary::Mul, x, w, _) = e else {
                return None;
            };
            let AExpr::Data(x) = &**x else {
                return None;
            };
            (self.is_matrix_arg(x) && self.is_vector(w)).then_some((x, &**w))
        };
        // The terms of a sum (`x * w + b + c` is `(x * w + b) + c`): one is the product, the
        // others, summed in their order, the intercept.
        let mut terms = Vec::new();
        addends(mu, &mut terms);
        let k = terms.iter().position(|t| product(t).is_some())?;
        let (x, w) = product(terms[k])?;
        let mut b: Option<AExpr> = None;
        for (i, t) in terms.iter().enumerate() {
            if i != k {
                b = Some(match b {
                    None => (*t).clone(),
                    Some(acc) => {
                        AExpr::Binary(Binary::Add, Box::new(acc), Box::new((*t).clone()), span(mu))
                    }
                });
            }
        }
        let parts = Parts { x, w, b };
        Some((parts, &args[1]))
    }

    /// Whether `e` names an argument declared `DMatrix<f64>` (behind `&` or not).
    fn is_matrix_arg(&self, e: &Expr) -> bool {
        self.arg_type(e)
            .is_some_and(|t| matches!(elem_of(t), Some(("DMatrix", true))))
    }

    /// Whether `w` is a vector: a latent declared with `.iid(k)`, or an argument declared as
    /// a vector of `f64`.
    fn is_vector(&self, w: &AExpr) -> bool {
        match w {
            AExpr::Var(b) => self
                .m
                .latents
                .iter()
                .any(|l| l.binding.id == b.id && matches!(l.shape, Shape::Vector(_))),
            AExpr::Data(e) => self.arg_type(e).is_some_and(|t| {
                matches!(t, Type::Slice(s) if is_f64(&s.elem))
                    || matches!(elem_of(t), Some(("DVector" | "Vec", true)))
            }),
            _ => false,
        }
    }

    /// The kernel's call, the operands' forward code before it and their sweep after it.
    #[allow(clippy::too_many_arguments)]
    fn glm_call(
        &self,
        src: usize,
        lhs: &Expr,
        parts: &Parts<'_>,
        sigma: &Operand,
        dist: &DistInfo,
        run: &Run,
        m: Mode,
    ) -> TokenStream {
        let grad = matches!(run, Run::Grad);
        let mut low = self.lowering(src);
        if !grad {
            low.without_partials();
        }
        let y = low.data(lhs);
        // `w`, then `b` when there is one, then `sigma`.
        let mut vals = vec![low.lower(parts.w, None)];
        vals.extend(parts.b.as_ref().map(|b| low.lower(b, None)));
        vals.push(match sigma {
            Operand::Data(e) => low.data(e),
            Operand::Active(a) => low.lower(a, None),
        });
        // The same variable twice (`Normal(x * w + s, s)`) gets a copy: the adjoints are
        // borrowed mutably side by side.
        low.distinct_kernel(&mut vals);
        let fwd = low.forward();
        let slice = kernel_slice;
        let adj = |v: &V| kernel_adjoint(v, grad);
        let none = quote!(::core::option::Option::None);
        let (w, dw) = (slice(&vals[0]), adj(&vals[0]));
        let (s, ds) = (slice(&vals[vals.len() - 1]), adj(&vals[vals.len() - 1]));
        let (b, db) = match &parts.b {
            Some(_) => (slice(&vals[1]), adj(&vals[1])),
            None => (quote!(&[]), none),
        };
        let yv = slice(&y);
        let x = parts.x;
        let names = self.glm_names(src, lhs, parts, sigma, dist);
        let lp = format_ident!("__lp{}", src);
        let call = quote! {
            let #lp = ::vi::__private::normal_id_glm(
                #src, [#(#names),*], &*#x, #yv, #w, #b, #s, #dw, #db, #ds,
            )?;
        };
        around_call(run, src, m, &low, fwd, call, &lp)
    }

    /// The user's texts of `x`, `y`, `w`, `b` and `sigma`, for the kernel's messages.
    fn glm_names(
        &self,
        src: usize,
        lhs: &Expr,
        p: &Parts<'_>,
        sigma: &Operand,
        dist: &DistInfo,
    ) -> Vec<String> {
        let text = |e: &AExpr, or: &str| match e {
            AExpr::Var(b) => b.name.to_string(),
            AExpr::Data(e) => crate::parse::pretty(e.to_token_stream()),
            _ => or.to_string(),
        };
        let s = match sigma {
            Operand::Data(e) => crate::parse::pretty(e.to_token_stream()),
            Operand::Active(a) => {
                let from_src = self.arg_names(src, 3, dist);
                text(a, from_src.get(2).map_or("sigma", String::as_str))
            }
        };
        vec![
            crate::parse::pretty(p.x.to_token_stream()),
            crate::parse::pretty(lhs.to_token_stream()),
            text(p.w, "w"),
            p.b.as_ref()
                .map_or_else(|| "0".to_string(), |b| text(b, "the intercept")),
            s,
        ]
    }
}

/// The span of a sum, for the intercept made of its other terms.
fn span(e: &AExpr) -> proc_macro2::Span {
    match e {
        AExpr::Binary(_, _, _, s) => *s,
        _ => proc_macro2::Span::call_site(),
    }
}

/// A path type's last segment and whether its one generic argument is `f64`:
/// `DMatrix<f64>` -> `("DMatrix", true)`.
fn elem_of(t: &Type) -> Option<(&'static str, bool)> {
    let Type::Path(p) = t else {
        return None;
    };
    let last = p.path.segments.last()?;
    let name = ["DMatrix", "DVector", "Vec"]
        .into_iter()
        .find(|n| last.ident == n)?;
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return Some((name, false));
    };
    let f64_arg = a.args.len() == 1
        && matches!(a.args.first(), Some(syn::GenericArgument::Type(t)) if is_f64(t));
    Some((name, f64_arg))
}

fn is_f64(t: &Type) -> bool {
    matches!(t, Type::Path(p) if p.path.is_ident("f64"))
}

#[cfg(test)]
mod tests {
    use crate::codegen::kernel_call::tests::{expand, section};

    const LINREG: &str = "fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }";

    #[test]
    fn the_regression_is_one_fused_call_in_every_body_that_sums_it() {
        let out = expand(LINREG);
        let grad = section(&out, "fn __grad", "fn __sim");
        assert!(grad.contains("normal_id_glm"), "{grad}");
        // No product nor its sweep: `x` is not read by the rules.
        assert!(
            !grad.contains("mul_add_fwd") && !grad.contains("mul_add_bwd"),
            "{grad}"
        );
        assert!(grad.contains("flat_mut (& mut __g1_w)"), "{grad}");
        let lp = section(&out, "fn __lp", "fn __terms");
        assert!(
            lp.contains("normal_id_glm") && !lp.contains("mul_add_fwd"),
            "{lp}"
        );
        let terms = section(&out, "fn __terms", "fn __grad");
        assert!(terms.contains("normal_id_glm"), "{terms}");
        // The constructor checks the statement with the rules, then runs the kernel once.
        let build = section(&out, "fn __build", "fn __derive");
        assert!(
            build.contains("mul_add_fwd") && build.contains("normal_id_glm"),
            "{build}"
        );
    }

    #[test]
    fn other_forms_match_and_near_misses_do_not() {
        for (src, fused) in [
            // `b + x * w`, no intercept, data coefficients, a vector scale.
            ("y ~ Normal(b + x * w, sigma);", true),
            ("y ~ Normal(x * w, sigma);", true),
            ("y ~ Normal(x * v + b, 2.0);", true),
            ("y ~ Normal(x * w + b, s);", true),
            ("y ~ Normal(x * w + b + b, sigma);", true),
            // A matrix that is not an argument, a product the other way round, another
            // distribution, a `let` in between, a matrix latent.
            ("let xx = x.clone(); y ~ Normal(xx * w + b, sigma);", false),
            ("y ~ Normal(w * x + b, sigma);", false),
            ("y ~ StudentT(3.0, x * w + b, sigma);", false),
            ("let mu = x * w + b; y ~ Normal(mu, sigma);", false),
            ("y ~ Normal(x * m + b, sigma);", false),
            // The row loop the tests compare against (vectorised, not fused).
            (
                "for i in 0..x.nrows() {
                    let mut mu = b;
                    for j in 0..x.ncols() {
                        mu += x[(i, j)] * w[j];
                    }
                    y[i] ~ Normal(mu, sigma);
                }",
                false,
            ),
        ] {
            let model = format!(
                "fn m(x: &DMatrix<f64>, y: &DVector<f64>, v: &DVector<f64>) {{
                    let w ~ Normal(0.0, 1.0).iid(x.ncols());
                    let m ~ Normal(0.0, 1.0).iid((x.ncols(), 1));
                    let b ~ Normal(0.0, 10.0);
                    let sigma ~ HalfNormal(1.0);
                    let s ~ HalfNormal(1.0).iid(x.nrows());
                    {src}
                }}"
            );
            let out = expand(&model);
            let grad = section(&out, "fn __grad", "fn __sim");
            assert_eq!(grad.contains("normal_id_glm"), fused, "{src}: {grad}");
        }
    }
}
