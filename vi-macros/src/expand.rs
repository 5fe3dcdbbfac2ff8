//! The analysed model -> Rust: the struct, its constructor, `impl Model`, `simulate`.
//!
//! One emitter writes the body in several modes: the forward pass alone (`log_density_jac`),
//! with per-statement terms, the constructor's checking run (which also builds the layout),
//! the posterior-predictive run, and the gradient (forward code with each statement's reverse
//! sweep right after it, and the sweeps of values that outlive a statement at the end of their
//! block, in reverse order). A `for` loop that carries active state is run forward once
//! saving its state at each iteration, and replayed backwards in the sweep. State written only
//! element by element is not saved but written in place, each write logging the old element
//! in the state's undo log ([`WriteMode`]; a replayed iteration rewinds the vector to where
//! its log stood when the iteration began).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use std::collections::{HashMap, HashSet};

use crate::analyse::{
    AExpr, Binding, BindingId, Carried, Constraint, Joined, Latent, Model, Operand, Shape, Stmt,
    Stored,
};
use crate::diff::{gname, span_of, uname, vname, CacheSlots, Lowering, WriteMode, V};

#[derive(Clone, Copy, Default)]
struct Mode {
    /// Gradient: adjoints, immediate sweeps, deferred sweeps at block ends.
    grad: bool,
    /// Accumulate the log density (call the kernels for their value).
    lp: bool,
    /// Declare adjoints of values and save the state of carried loops (a later sweep needs them).
    save: bool,
    /// Accumulate per-statement terms.
    terms: bool,
    /// The constructor's run: build the layout, check the data.
    build: bool,
    /// Posterior predictive: sample each observation.
    sim: bool,
    /// Element writes into state written in place whose root (the `let mut` or whole
    /// assignment it starts from) is inside this region (a loop's or an `if`'s statement
    /// index, [`ALL`] for the whole body) keep nothing: this run is recomputed before it is
    /// swept.
    plain_inside: Option<usize>,
    /// Element writes into state whose root is outside this region (a loop or `if` being
    /// recomputed for its sweep) replay writes already logged.
    redo_outside: Option<usize>,
}

/// The whole body, as a region of [`Mode`].
const ALL: usize = usize::MAX;

impl Mode {
    /// The mode of a body run without adjoints (nor saves) inside region `src`: writes into
    /// state declared from there on keep nothing.
    fn plain_in(self, src: usize) -> Mode {
        if self.grad || self.save || self.plain_inside.is_some() {
            self
        } else {
            Mode {
                plain_inside: Some(src),
                ..self
            }
        }
    }
}

struct Emitter<'a> {
    m: &'a Model,
    /// Slots of the model's `DataCache` (see [`Model::cached`]).
    slots: CacheSlots,
    /// State written in place (see `analyse::StateVersions`): its binding id -> the loops
    /// and `if`s (statement indices) around its root, outermost first.
    groups: HashMap<BindingId, Vec<usize>>,
    /// The versions a loop or `if` moves out of its body (last versions of loop state, the
    /// branches' versions of what an `if` assigns).
    moved: HashSet<BindingId>,
}

/// [`Emitter::moved`] of a block, at any depth.
fn moved_versions(stmts: &[Stmt], out: &mut HashSet<BindingId>) {
    for s in stmts {
        match s {
            Stmt::For { body, carried, .. } => {
                out.extend(carried.iter().map(|c| c.last.id));
                moved_versions(body, out);
            }
            Stmt::If {
                then, els, joined, ..
            } => {
                out.extend(joined.iter().flat_map(|j| [j.then_last.id, j.else_last.id]));
                moved_versions(then, out);
                moved_versions(els, out);
            }
            _ => {}
        }
    }
}

/// The generated code for a model that analysed without errors.
pub fn expand(m: &Model) -> TokenStream {
    let slots = m
        .cached
        .iter()
        .cloned()
        .enumerate()
        .map(|(k, key)| (key, k))
        .collect();
    let e = Emitter {
        m,
        slots: std::rc::Rc::new(slots),
        groups: in_place_groups(&m.body),
        moved: {
            let mut moved = HashSet::new();
            moved_versions(&m.body, &mut moved);
            moved
        },
    };
    e.model()
}

/// Whether `init` writes one element of `binding` in place (`v[i] = x` on state written in
/// place: the vector written and the result are one binding).
fn writes_in_place(binding: &Binding, init: &AExpr) -> bool {
    matches!(init, AExpr::Set(v, ..) if matches!(&**v, AExpr::Var(b) if b.id == binding.id))
}

/// State written in place, with the regions around its root.
fn in_place_groups(body: &[Stmt]) -> HashMap<BindingId, Vec<usize>> {
    fn targets(stmts: &[Stmt], out: &mut HashSet<BindingId>) {
        for s in stmts {
            match s {
                Stmt::Let { binding, init, .. } if writes_in_place(binding, init) => {
                    out.insert(binding.id);
                }
                Stmt::For { body, .. } => targets(body, out),
                Stmt::If { then, els, .. } => {
                    targets(then, out);
                    targets(els, out);
                }
                _ => {}
            }
        }
    }
    fn roots(
        stmts: &[Stmt],
        targets: &HashSet<BindingId>,
        path: &mut Vec<usize>,
        out: &mut HashMap<BindingId, Vec<usize>>,
    ) {
        for s in stmts {
            match s {
                Stmt::Let { binding, init, .. }
                    if targets.contains(&binding.id) && !writes_in_place(binding, init) =>
                {
                    out.insert(binding.id, path.clone());
                }
                Stmt::For { body, src, .. } => {
                    path.push(*src);
                    roots(body, targets, path, out);
                    path.pop();
                }
                Stmt::If { then, els, src, .. } => {
                    path.push(*src);
                    roots(then, targets, path, out);
                    roots(els, targets, path, out);
                    path.pop();
                }
                _ => {}
            }
        }
    }
    let mut t = HashSet::new();
    targets(body, &mut t);
    let mut out = HashMap::new();
    if !t.is_empty() {
        roots(body, &t, &mut Vec::new(), &mut out);
    }
    out
}

/// The struct name: CamelCase of the model's name.
pub fn struct_name(name: &Ident) -> Ident {
    let s = name.to_string();
    let camel: String = s
        .trim_start_matches("r#")
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    format_ident!(
        "{}",
        if camel.is_empty() {
            "Model".to_string()
        } else {
            camel
        },
        span = name.span()
    )
}

/// `impl Simulate` for the model's struct, delegating to its `simulate` method.
fn simulate_impl(sname: &Ident) -> TokenStream {
    quote! {
        impl ::vi::__private::Simulate for #sname {
            fn simulate_with(
                &self,
                constrained: &[f64],
                rng: &mut dyn ::vi::__private::rand::RngCore,
            ) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                let mut __rng = rng;
                #sname::simulate(self, constrained, &mut __rng)
            }
        }
    }
}

/// A stub of the struct and constructor, emitted next to the errors so the user's later code
/// does not drown them in follow-on errors.
pub fn fallback(def: &crate::parse::ModelDef) -> TokenStream {
    let name = &def.name;
    let sname = struct_name(name);
    let vis = &def.vis;
    let simulate_impl = simulate_impl(&sname);
    let args = def.args.iter().map(|a| {
        let (n, t) = (&a.name, &a.ty);
        quote!(#n: #t)
    });
    quote! {
        #[allow(dead_code)]
        #vis struct #sname;
        impl ::vi::__private::Model for #sname {
            fn layout(&self) -> &::vi::__private::ParamLayout {
                unimplemented!()
            }
            fn log_density_grad_jac(&self, _: &[f64], _: &mut [f64], _: bool) -> f64 {
                unimplemented!()
            }
        }
        #simulate_impl
        impl #sname {
            #[allow(dead_code)]
            #vis fn simulate(&self, _: &[f64], _: &mut impl ::vi::__private::rand::Rng) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                unimplemented!()
            }
        }
        #[allow(dead_code, unused_variables)]
        #vis fn #name(#(#args),*) -> ::core::result::Result<#sname, ::vi::__private::ModelError> {
            unimplemented!()
        }
    }
}

impl Emitter<'_> {
    fn model(&self) -> TokenStream {
        let m = self.m;
        let name = &m.name;
        let sname = struct_name(name);
        let simulate_impl = simulate_impl(&sname);
        let vis = &m.vis;
        let attrs = &m.attrs;
        let fields = m.args.iter().map(|a| {
            let n = &a.name;
            match &a.stored {
                Stored::Ref(t) => quote!(#n: <#t as ::std::borrow::ToOwned>::Owned),
                _ => {
                    let t = &a.ty;
                    quote!(#n: #t)
                }
            }
        });
        let params = m.args.iter().map(|a| {
            let (n, t) = (&a.name, &a.ty);
            quote!(#n: #t)
        });
        let inits = m.args.iter().map(|a| {
            let n = &a.name;
            match &a.stored {
                Stored::Ref(_) => quote!(#n: ::std::borrow::ToOwned::to_owned(#n)),
                _ => quote!(#n),
            }
        });
        let finite = m.args.iter().map(|a| {
            let n = &a.name;
            let s = n.to_string();
            quote!((&::vi::__private::FiniteCheck(&#n)).check_finite(#s)?;)
        });
        let srcs = &m.srcs;
        let terms = &m.terms;
        let n_srcs = m.srcs.len();
        let n_obs = m.observed.len();
        let n_cached = m.cached.len();
        let observed = &m.observed;

        let bind = self.bind_data();
        let lp_body = self.block(
            &m.body,
            Mode {
                lp: true,
                plain_inside: Some(ALL),
                ..Mode::default()
            },
        );
        // The log density alone: the values of the body's `let`s are done with at its end.
        let lp_done = self.recycle_lets(&m.body, false);
        let latents_done = crate::diff::recycle(m.latents.iter().map(|l| vname(&l.binding)));
        let lp_body = quote!(#lp_body #lp_done #latents_done);
        let terms_body = self.block(
            &m.body,
            Mode {
                lp: true,
                terms: true,
                plain_inside: Some(ALL),
                ..Mode::default()
            },
        );
        let build_body = self.block(
            &m.body,
            Mode {
                lp: true,
                build: true,
                plain_inside: Some(ALL),
                ..Mode::default()
            },
        );
        let sim_body = self.block(
            &m.body,
            Mode {
                sim: true,
                plain_inside: Some(ALL),
                ..Mode::default()
            },
        );
        let grad_body = self.block(
            &m.body,
            Mode {
                grad: true,
                lp: true,
                save: true,
                ..Mode::default()
            },
        );
        // The rules' traits, for method-call dispatch on operands (`(&Bin(&a, &b)).mul_fwd()`).
        let rules = quote! {
            #[allow(unused_imports)]
            use ::vi::__private::{
                ScalarRules as _, ColScalarRules as _, GeneralAdd as _, GeneralSub as _,
                GeneralMul as _, GeneralDiv as _, ScalarMulAdd as _, GeneralMulAdd as _,
            };
        };
        let grad_done = crate::diff::recycle(
            m.latents
                .iter()
                .flat_map(|l| [vname(&l.binding), gname(&l.binding)]),
        );
        let grad_out = m.latents.iter().enumerate().map(|(k, l)| {
            let g = gname(&l.binding);
            quote!(::vi::__private::Latent::grad_back(&#g, theta, &__params[#k], grad, jacobian);)
        });
        let doc_ctor = format!(
            "Builds the model `{name}` from its data, checking every value (finite, inside its \
             distribution's support) and every shape.\n\n# Errors\n\nA \
             [`ModelError`](::vi::ModelError) naming the statement, the argument and the index."
        );
        let doc_struct = format!(
            "The model `{name}` with its data, built by [`{name}`]; implements \
             [`Model`](::vi::Model)."
        );
        let doc_sim = "Draws one replicate of every observation at the given parameter values \
            (constrained scale, in the layout's order): the posterior predictive when the values \
            are a posterior draw. Returns (observed expression, draws) per observation statement.";

        quote! {
            #(#attrs)*
            #[doc = ""]
            #[doc = #doc_struct]
            #vis struct #sname {
                #(#fields,)*
                __layout: ::vi::__private::ParamLayout,
                __cache: ::vi::__private::DataCache,
            }

            #(#attrs)*
            #[doc = ""]
            #[doc = #doc_ctor]
            #[allow(clippy::too_many_arguments, clippy::ptr_arg)]
            #vis fn #name(#(#params),*) -> ::core::result::Result<#sname, ::vi::__private::ModelError> {
                #[allow(unused_imports)]
                use ::vi::__private::{CheckFiniteKnown as _, CheckFiniteOther as _};
                #(#finite)*
                let mut __model = #sname {
                    #(#inits,)*
                    __layout: ::vi::__private::ParamLayout::new(),
                    __cache: ::vi::__private::DataCache::new(#n_cached),
                };
                let __layout = ::vi::__private::catch(#sname::__SRCS, || __model.__build())?;
                __model.__layout = __layout;
                ::core::result::Result::Ok(__model)
            }

            #[allow(
                unused_variables, unused_mut, unused_assignments, unused_braces, unused_parens,
                non_snake_case, clippy::all, clippy::pedantic
            )]
            const _: () = {
                impl #sname {
                    const __SRCS: &'static [&'static str] = &[#(#srcs),*];
                    const __TERMS: &'static [usize] = &[#(#terms),*];
                    const __OBSERVED: &'static [&'static str] = &[#(#observed),*];

                    fn __build(&self) -> ::core::result::Result<::vi::__private::ParamLayout, ::vi::__private::Fail> {
                        #rules
                        let mut __layout = ::vi::__private::ParamLayout::new();
                        #bind
                        let mut __lp = 0.0f64;
                        #build_body
                        ::core::result::Result::Ok(__layout)
                    }

                    fn __lp(&self, theta: &[f64], jacobian: bool) -> ::core::result::Result<f64, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        let mut __lp = 0.0f64;
                        #lp_body
                        ::core::result::Result::Ok(__lp)
                    }

                    fn __terms(&self, theta: &[f64]) -> ::core::result::Result<::std::vec::Vec<f64>, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        let jacobian = true;
                        #bind
                        let mut __lp = 0.0f64;
                        let mut __terms = ::std::vec![0.0f64; #n_srcs];
                        #terms_body
                        ::core::result::Result::Ok(__terms)
                    }

                    fn __grad(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> ::core::result::Result<f64, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        let mut __lp = 0.0f64;
                        #grad_body
                        #(#grad_out)*
                        #grad_done
                        ::core::result::Result::Ok(__lp)
                    }

                    fn __sim<R: ::vi::__private::rand::Rng + ?Sized>(
                        &self,
                        constrained: &[f64],
                        __rng: &mut R,
                        __sims: &mut ::std::vec::Vec<::std::vec::Vec<f64>>,
                    ) -> ::core::result::Result<(), ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        #sim_body
                        ::core::result::Result::Ok(())
                    }

                    #[doc = #doc_sim]
                    #[allow(dead_code)]
                    pub fn simulate(
                        &self,
                        constrained: &[f64],
                        rng: &mut impl ::vi::__private::rand::Rng,
                    ) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                        let mut __sims = ::std::vec![::std::vec::Vec::new(); #n_obs];
                        let _ = self.__sim(constrained, rng, &mut __sims);
                        Self::__OBSERVED
                            .iter()
                            .zip(__sims)
                            .map(|(n, v)| (::std::string::ToString::to_string(n), v))
                            .collect()
                    }
                }

                #simulate_impl

                impl ::vi::__private::Model for #sname {
                    fn layout(&self) -> &::vi::__private::ParamLayout {
                        &self.__layout
                    }

                    fn log_density_jac(&self, theta: &[f64], jacobian: bool) -> f64 {
                        self.__lp(theta, jacobian).unwrap_or(f64::NAN)
                    }

                    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
                        match self.__grad(theta, grad, jacobian) {
                            ::core::result::Result::Ok(v) => v,
                            ::core::result::Result::Err(_) => {
                                for g in grad.iter_mut() {
                                    *g = f64::NAN;
                                }
                                f64::NAN
                            }
                        }
                    }

                    fn log_density_terms(&self, theta: &[f64]) -> ::std::vec::Vec<(::std::string::String, f64)> {
                        match self.__terms(theta) {
                            ::core::result::Result::Ok(t) => Self::__TERMS
                                .iter()
                                .map(|&k| (::std::string::ToString::to_string(Self::__SRCS[k]), t[k]))
                                .collect(),
                            ::core::result::Result::Err(_) => ::std::vec::Vec::new(),
                        }
                    }
                }
            };
        }
    }

    /// A lowering of statement `src` whose data operands use the model's `DataCache`.
    fn lowering(&self, src: usize) -> Lowering {
        Lowering::new(src).with_cache(&self.slots)
    }

    fn bind_data(&self) -> TokenStream {
        let binds = self.m.args.iter().map(|a| {
            let n = &a.name;
            let t = &a.ty;
            match &a.stored {
                Stored::Ref(inner) => {
                    quote!(let #n: &#inner = ::std::borrow::Borrow::borrow(&self.#n);)
                }
                Stored::Copy => quote!(let #n: #t = self.#n;),
                Stored::Owned => quote!(let #n: &#t = &self.#n;),
            }
        });
        let memos = self.memos();
        quote!(#(#binds)* #memos)
    }

    /// One kernel memo per distribution statement (`__k{src}`), declared once per call so a
    /// statement in a loop keeps its parameter-only pieces (`ln(sigma)`) across iterations.
    fn memos(&self) -> TokenStream {
        let mut out = Vec::new();
        crate::ir::walk(&self.m.body, &mut |s| {
            if let Stmt::Latent { dist, src, .. } | Stmt::Observe { dist, src, .. } = s {
                let k = format_ident!("__k{}", src);
                let module = format_ident!("{}", dist.module);
                out.push(quote! {
                    let mut #k = <::vi::__private::dist::#module::Scalar as ::core::default::Default>::default();
                });
            }
        });
        quote!(#(#out)*)
    }

    /// A block: forward code, and in gradient mode the deferred sweeps at its end.
    fn block(&self, stmts: &[Stmt], m: Mode) -> TokenStream {
        let mut out = TokenStream::new();
        let mut deferred: Vec<TokenStream> = Vec::new();
        for s in stmts {
            out.extend(self.stmt(s, m, &mut deferred));
        }
        for d in deferred.into_iter().rev() {
            out.extend(d);
        }
        if m.grad {
            // Swept: the values of the block's `let`s and their adjoints are done with.
            out.extend(self.recycle_lets(stmts, true));
        }
        out
    }

    /// Hands the storage of the values of the `let`s of a block (with `adjoints`, of their
    /// adjoints too) back to the pool, at the end of the block. Not state written in place
    /// (its log refers to it) nor versions a loop or `if` carries (they are moved), which are
    /// not plain `let`s of the block.
    fn recycle_lets(&self, stmts: &[Stmt], adjoints: bool) -> TokenStream {
        self.recycle_lets_but(stmts, adjoints, &HashSet::new())
    }

    /// What a loop iteration is done with at its end: the entry versions of the state the
    /// body replaced (saved values or stand-ins in the sweep), and the body's `let`s (with
    /// `adjoints`, theirs too) but those in `keep`.
    fn iteration_done(
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
        let mut out = crate::diff::recycle(entries);
        out.extend(self.recycle_lets_but(body, adjoints, keep));
        out
    }

    /// [`Emitter::recycle_lets`] but for the bindings in `keep` (moved elsewhere).
    fn recycle_lets_but(
        &self,
        stmts: &[Stmt],
        adjoints: bool,
        keep: &HashSet<BindingId>,
    ) -> TokenStream {
        let names = stmts.iter().filter_map(|s| match s {
            Stmt::Let { binding, init, .. }
                if !writes_in_place(binding, init)
                    && !self.groups.contains_key(&binding.id)
                    && !keep.contains(&binding.id) =>
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
        crate::diff::recycle(names.flatten())
    }

    fn stmt(&self, s: &Stmt, m: Mode, deferred: &mut Vec<TokenStream>) -> TokenStream {
        match s {
            Stmt::Data(ts) => ts.clone(),
            Stmt::Latent {
                latent,
                dist,
                args,
                src,
            } => {
                let l = &self.m.latents[*latent];
                let read = self.read_latent(*latent, l, *src, m);
                let kernel = if m.sim {
                    quote!()
                } else {
                    self.kernel(*src, Some(&l.binding), None, dist, args, m, true)
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
                if m.sim {
                    return self.sample(*src, lhs, dist, args, *obs);
                }
                self.kernel(
                    *src,
                    None,
                    Some(lhs),
                    dist,
                    args,
                    m,
                    m.lp || m.terms || m.grad,
                )
            }
            Stmt::Target { value, src } => self.target(*src, value, m),
            Stmt::Let {
                binding,
                ty,
                init,
                src,
            } => {
                let in_place = writes_in_place(binding, init);
                let mut low = self.lowering(*src);
                if in_place {
                    low.write_mode(self.write_mode(binding.id, m));
                }
                low.lower(init, Some(binding));
                let fwd = low.forward();
                let v = vname(binding);
                let g = gname(binding);
                let ty_check = ty
                    .as_ref()
                    .map(|t| quote_spanned!(span_of_ty(t)=> let _: &#t = &#v;));
                let mut adj = if (m.grad || m.save) && !in_place {
                    quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
                } else {
                    quote!()
                };
                if !in_place && self.groups.contains_key(&binding.id) {
                    // The root of state written in place (`let mut` or whole assignment): the
                    // one vector, its adjoint and, when a sweep follows, its undo log.
                    let u = uname(binding);
                    adj = if m.grad || m.save {
                        quote!(let mut #v = #v; #adj let mut #u = ::vi::__private::Undo::new();)
                    } else {
                        quote!(let mut #v = #v;)
                    };
                }
                if m.grad {
                    let adjs = low.adjoints();
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    deferred.push(quote!(#adjs #rev #done));
                }
                // Without a sweep to come, the temporaries are done with once the value is.
                let done = if m.grad || m.save {
                    quote!()
                } else {
                    low.recycle_temps(false)
                };
                quote!(#fwd #ty_check #adj #done)
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
                    if m.grad {
                        let b = self.block(body, m);
                        return quote!(for #pat in #iter_t { #b });
                    }
                    if m.save && !m.lp && data_carried.is_empty() {
                        // Recomputing a loop whose only effects are density terms: nothing to do.
                        return quote!();
                    }
                    let b = self.block(body, Mode { save: false, ..m }.plain_in(*src));
                    return quote!(for #pat in #iter_t { #b });
                }
                let save = m.grad || m.save;
                let fwd =
                    self.carried_forward(*src, pat, &iter_t, body, carried, data_carried, m, save);
                if m.grad {
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
                    let inner = if m.grad {
                        m
                    } else {
                        Mode { save: false, ..m }.plain_in(*src)
                    };
                    let t = self.block(then, inner);
                    let e = self.block(els, inner);
                    return quote!(#save_cond if #c { #t } else { #e });
                }
                let inner = Mode {
                    grad: false,
                    save: false,
                    ..m
                }
                .plain_in(*src);
                let t = self.block(then, inner);
                let e = self.block(els, inner);
                let (written, kept) = self.split_joined(joined);
                // Where the undo logs of state written in place stand before the branch.
                let marks = if (m.grad || m.save) && !written.is_empty() {
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
                let adjs = if m.grad || m.save {
                    let gs = kept.iter().map(|j| {
                        let (v, g) = (vname(&j.exit), gname(&j.exit));
                        quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
                    });
                    quote!(#(#gs)*)
                } else {
                    quote!()
                };
                if m.grad {
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
    fn carried_forward(
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
        let body_mode = Mode {
            grad: false,
            save: false,
            ..m
        }
        .plain_in(src);
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

    fn replay(
        &self,
        src: usize,
        pat: &syn::Pat,
        iter: &TokenStream,
        body: &[Stmt],
        carried: &[Carried],
        data_carried: &[Ident],
    ) -> TokenStream {
        let (written, carried) = self.split_carried(carried);
        let carried = &carried[..];
        let saves = format_ident!("__save{}", src);
        let gcs: Vec<Ident> = carried
            .iter()
            .map(|c| format_ident!("__gc{}", c.entry.id))
            .collect();
        let restored: Vec<Ident> = data_carried
            .iter()
            .map(|d| format_ident!("__restore_{}", d))
            .collect();
        let acc_flags = accumulators(body, carried);
        // Saved entry values; accumulators (`s += e` only) need no value in the sweep (the
        // rules of `+` and `-` do not read their operands' values): the exit value stands in.
        let entries: Vec<Ident> = carried
            .iter()
            .zip(&acc_flags)
            .filter(|(_, a)| !**a)
            .map(|(c, _)| vname(&c.entry))
            .collect();
        let stand_ins = carried
            .iter()
            .zip(&acc_flags)
            .filter(|(_, a)| **a)
            .map(|(c, _)| {
                let (e, x) = (vname(&c.entry), vname(&c.exit));
                quote!(let #e = ::vi::__private::copy_of(&#x);)
            });
        let needs_saves = !entries.is_empty() || !data_carried.is_empty() || !written.is_empty();
        // State written in place goes back to its value at the iteration's start (its log
        // entries stay for the sweep).
        let marks: Vec<Ident> = (0..written.len())
            .map(|k| format_ident!("__mark{}_{}", src, k))
            .collect();
        let rewind = written.iter().zip(&marks).map(|(b, mk)| {
            let (u, v) = (uname(b), vname(b));
            quote!(#u.rewind(&mut #v, #mk);)
        });
        let pop = if needs_saves {
            quote! {
                let ::core::option::Option::Some(((#(#entries,)*), (#(#restored,)*), (#(#marks,)*))) = #saves.pop() else {
                    break;
                };
                #(#data_carried = #restored;)*
                #(#rewind)*
            }
        } else {
            quote!()
        };
        let init = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.exit);
            quote!(let mut #gc = #g;)
        });
        let entry_adj = carried.iter().map(|c| {
            let (v, g) = (vname(&c.entry), gname(&c.entry));
            quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
        });
        let recompute = self.block(
            body,
            Mode {
                save: true,
                redo_outside: Some(src),
                ..Mode::default()
            },
        );
        // The last version's adjoint is still zero here (the recomputation accumulates
        // nothing): it becomes the carried adjoint, its zeros go back to the pool.
        let seed = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.last);
            quote!(::vi::__private::seed(&mut #g, #gc);)
        });
        let sweep = self.sweep(body);
        let next = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.entry);
            quote!(#gc = #g;)
        });
        let out = carried.iter().zip(&gcs).map(|(c, gc)| {
            let g = gname(&c.outer);
            quote!(::vi::__private::acc(&mut #g, &#gc);)
        });
        let gcs_done = crate::diff::recycle(gcs.iter().cloned());
        // The entries' adjoints are carried on (not `let`s of the body).
        let done = self.iteration_done(body, carried, true, &HashSet::new());
        quote! {
            #(#init)*
            for #pat in ::vi::__private::rev(#iter) {
                #pop
                #(#stand_ins)*
                #(#entry_adj)*
                #recompute
                #(#seed)*
                #sweep
                #(#next)*
                #done
            }
            #(#out)*
            #gcs_done
        }
    }

    fn if_sweep(
        &self,
        c: &Ident,
        src: usize,
        then: &[Stmt],
        els: &[Stmt],
        joined: &[Joined],
    ) -> TokenStream {
        let (written, joined) = self.split_joined(joined);
        let joined = &joined[..];
        // State written in place goes back to its value before the `if`.
        let mk = format_ident!("__mk{}", src);
        let rewind: Vec<TokenStream> = written
            .iter()
            .enumerate()
            .map(|(k, b)| {
                let (u, v) = (uname(b), vname(b));
                let k = syn::Index::from(k);
                quote!(#u.rewind(&mut #v, #mk.#k);)
            })
            .collect();
        let branch = |stmts: &[Stmt], last: &dyn Fn(&Joined) -> &crate::analyse::Binding| {
            let recompute = self.block(
                stmts,
                Mode {
                    save: true,
                    redo_outside: Some(src),
                    ..Mode::default()
                },
            );
            let seed = joined.iter().map(|j| {
                let g = gname(last(j));
                let gx = gname(&j.exit);
                quote!(::vi::__private::acc(&mut #g, &#gx);)
            });
            let sweep = self.sweep(stmts);
            quote!(#(#rewind)* #recompute #(#seed)* #sweep)
        };
        let t = branch(then, &|j| &j.then_last);
        let e = branch(els, &|j| &j.else_last);
        quote!(if #c { #t } else { #e })
    }

    /// The reverse of a block that was just recomputed (values and adjoints in scope).
    fn sweep(&self, stmts: &[Stmt]) -> TokenStream {
        let mut out = TokenStream::new();
        for s in stmts.iter().rev() {
            let part = match s {
                Stmt::Data(_) | Stmt::Latent { .. } => quote!(),
                Stmt::Observe { lhs, args, src, .. } => {
                    let (low, vals) = self.kernel_operands(*src, None, Some(lhs), args);
                    let adjs = low.adjoints();
                    let call = kernel_dispatch(*src, &vals, true);
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    quote!(#adjs let _ = #call; #rev #done)
                }
                Stmt::Target { value, src } => match value {
                    Operand::Data(_) => quote!(),
                    Operand::Active(a) => {
                        let mut low = self.lowering(*src);
                        let v = low.lower(a, None);
                        let adjs = low.adjoints();
                        let seed = seed_one(&v);
                        let rev = low.reverse();
                        quote!(#adjs #seed #rev)
                    }
                },
                Stmt::Let {
                    binding, init, src, ..
                } => {
                    let mut low = self.lowering(*src);
                    low.lower(init, Some(binding));
                    let adjs = low.adjoints();
                    let rev = low.reverse();
                    let done = low.recycle_temps(true);
                    quote!(#adjs #rev #done)
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
                        let b = self.block(
                            body,
                            Mode {
                                grad: true,
                                save: true,
                                ..Mode::default()
                            },
                        );
                        quote!(for #pat in #iter_t { #b })
                    } else {
                        self.replay(*src, pat, &iter_t, body, carried, data_carried)
                    }
                }
                Stmt::If {
                    then,
                    els,
                    joined,
                    src,
                    ..
                } => {
                    let c = format_ident!("__c{}", src);
                    if joined.is_empty() {
                        let gm = Mode {
                            grad: true,
                            save: true,
                            ..Mode::default()
                        };
                        let t = self.block(then, gm);
                        let e = self.block(els, gm);
                        quote!(if #c { #t } else { #e })
                    } else {
                        self.if_sweep(&c, *src, then, els, joined)
                    }
                }
            };
            out.extend(part);
        }
        out
    }

    /// How an element write into state written in place (`root`) is emitted in mode `m`.
    fn write_mode(&self, root: BindingId, m: Mode) -> WriteMode {
        let inside = |region: usize| {
            region == ALL || self.groups.get(&root).is_some_and(|p| p.contains(&region))
        };
        if m.plain_inside.is_some_and(inside) {
            WriteMode::Plain
        } else if m.redo_outside.is_some_and(|r| !inside(r)) {
            WriteMode::Redo
        } else {
            WriteMode::Tape
        }
    }

    /// State a loop carries: that written in place (not copied: its binding) and the rest.
    fn split_carried(&self, carried: &[Carried]) -> (Vec<Binding>, Vec<Carried>) {
        let (written, rest): (Vec<&Carried>, Vec<&Carried>) = carried
            .iter()
            .partition(|c| self.groups.contains_key(&c.exit.id));
        (
            written.into_iter().map(|c| c.exit.clone()).collect(),
            rest.into_iter().cloned().collect(),
        )
    }

    /// State an `if` assigns: that written in place (its binding) and the rest.
    fn split_joined(&self, joined: &[Joined]) -> (Vec<Binding>, Vec<Joined>) {
        let (written, rest): (Vec<&Joined>, Vec<&Joined>) = joined
            .iter()
            .partition(|j| self.groups.contains_key(&j.exit.id));
        (
            written.into_iter().map(|j| j.exit.clone()).collect(),
            rest.into_iter().cloned().collect(),
        )
    }

    fn read_latent(&self, k: usize, l: &Latent, src: usize, m: Mode) -> TokenStream {
        let v = vname(&l.binding);
        let g = gname(&l.binding);
        let ty = match &l.shape {
            Shape::Scalar => quote!(f64),
            Shape::Vector(_) => quote!(::vi::__private::nalgebra::DVector<f64>),
            Shape::Matrix(..) => quote!(::vi::__private::nalgebra::DMatrix<f64>),
        };
        let name = l.binding.name.to_string();
        let read = if m.build {
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
            };
            let shape = match &l.shape {
                Shape::Scalar => quote!(::std::vec::Vec::new()),
                Shape::Vector(n) => {
                    let n = quote_spanned!(span_of(n)=> ::vi::__private::len(#n));
                    quote!(::std::vec![#n])
                }
                Shape::Matrix(r, c) => {
                    let r = quote_spanned!(span_of(r)=> ::vi::__private::len(#r));
                    let c = quote_spanned!(span_of(c)=> ::vi::__private::len(#c));
                    quote!(::std::vec![#r, #c])
                }
            };
            quote!(<#ty as ::vi::__private::Latent>::build(&mut __layout, #name, #shape, #tr))
        } else if m.sim {
            quote!(<#ty as ::vi::__private::Latent>::read_constrained(constrained, &__params[#k]))
        } else if m.terms {
            quote!(<#ty as ::vi::__private::Latent>::read(theta, &__params[#k], &mut __terms[#src], jacobian))
        } else {
            quote!(<#ty as ::vi::__private::Latent>::read(theta, &__params[#k], &mut __lp, jacobian))
        };
        let adj = if m.grad {
            quote!(let mut #g = ::vi::__private::ad::zeros_like(&#v);)
        } else {
            quote!()
        };
        quote!(let #v: #ty = #read; #adj)
    }

    /// Lowers a distribution statement's operands: the value first, then the arguments.
    fn kernel_operands(
        &self,
        src: usize,
        latent: Option<&crate::analyse::Binding>,
        lhs: Option<&syn::Expr>,
        args: &[Operand],
    ) -> (Lowering, Vec<V>) {
        let mut low = self.lowering(src);
        let mut vals = Vec::new();
        match (latent, lhs) {
            (Some(b), _) => vals.push(V::Var(b.clone())),
            (None, Some(e)) => vals.push(low.data(e)),
            (None, None) => {}
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
    fn kernel(
        &self,
        src: usize,
        latent: Option<&crate::analyse::Binding>,
        lhs: Option<&syn::Expr>,
        dist: &crate::catalogue::DistInfo,
        args: &[Operand],
        m: Mode,
        call: bool,
    ) -> TokenStream {
        let (low, vals) = self.kernel_operands(src, latent, lhs, args);
        let fwd = low.forward();
        let lp = format_ident!("__lp{}", src);
        let mut out = quote!(#fwd);
        if m.build {
            out.extend(self.check(src, dist, &vals, latent.is_some()));
        }
        if !call && !m.grad {
            return out;
        }
        if m.grad {
            let adjs = low.adjoints();
            let c = kernel_dispatch(src, &vals, true);
            let rev = low.reverse();
            let acc = if m.lp { quote!(__lp += #lp;) } else { quote!() };
            let done = low.recycle_temps(true);
            out.extend(quote!(#adjs let #lp = #c; #acc #rev #done));
        } else {
            let c = kernel_dispatch(src, &vals, false);
            let acc = if m.terms {
                quote!(__terms[#src] += #lp;)
            } else if m.lp {
                quote!(__lp += #lp;)
            } else {
                quote!()
            };
            let done = if m.save {
                quote!()
            } else {
                low.recycle_temps(false)
            };
            out.extend(quote!(let #lp = #c; #acc #done));
        }
        out
    }

    fn check(
        &self,
        src: usize,
        dist: &crate::catalogue::DistInfo,
        vals: &[V],
        latent: bool,
    ) -> TokenStream {
        let module = format_ident!("{}", dist.module);
        let stmt = &self.m.srcs[src];
        let opts = vals.iter().enumerate().map(|(i, v)| match v {
            V::Data(..) if !(latent && i == 0) => {
                let f = v.flat();
                quote!(::core::option::Option::Some(#f))
            }
            _ => quote!(::core::option::Option::None),
        });
        let lens = vals.iter().map(|v| {
            let f = v.flat();
            quote!((#f).len())
        });
        let names = self.arg_names(src, vals.len(), dist);
        quote! {
            ::vi::__private::check_statement(
                #stmt,
                &[#(#names),*],
                &[#(#lens),*],
                ::vi::__private::dist::#module::check(#(#opts),*),
            )?;
        }
    }

    /// The user's text of each operand of statement `src` (the value first).
    fn arg_names(&self, src: usize, n: usize, dist: &crate::catalogue::DistInfo) -> Vec<String> {
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

    fn sample(
        &self,
        src: usize,
        lhs: &syn::Expr,
        dist: &crate::catalogue::DistInfo,
        args: &[Operand],
        obs: usize,
    ) -> TokenStream {
        let (low, vals) = self.kernel_operands(src, None, Some(lhs), args);
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

    fn target(&self, src: usize, value: &Operand, m: Mode) -> TokenStream {
        let acc = |v: TokenStream| {
            if m.terms {
                quote!(__terms[#src] += #v;)
            } else if m.lp {
                quote!(__lp += #v;)
            } else {
                quote!()
            }
        };
        if m.sim {
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
                let v = low.lower(a, None);
                let fwd = low.forward();
                let val = match &v {
                    V::Var(b) => {
                        let x = vname(b);
                        quote!(#x)
                    }
                    V::Temp(t, _) => quote!(#t),
                    V::Data(d, _) => quote!(*#d),
                };
                let add = acc(quote!({ let __t: f64 = #val; __t }));
                if m.grad {
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

/// For each carried variable, whether the loop only accumulates into it: every version in
/// the body is used once, as the left operand of the `+` or `-` that makes the next version
/// (`s += e`, `s = s - e`), and the last version is not used in the body. The sweep of such a
/// loop never needs the variable's value.
fn accumulators(body: &[Stmt], carried: &[Carried]) -> Vec<bool> {
    use crate::analyse::AExpr;
    use crate::catalogue::Binary;
    use std::collections::HashMap;
    fn count_aexpr(e: &AExpr, uses: &mut HashMap<BindingId, usize>) {
        match e {
            AExpr::Var(b) => *uses.entry(b.id).or_default() += 1,
            AExpr::Data(_) => {}
            AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => count_aexpr(x, uses),
            AExpr::Binary(_, a, b, _) | AExpr::Set(a, _, b, _) => {
                count_aexpr(a, uses);
                count_aexpr(b, uses);
            }
        }
    }
    fn count_op(o: &Operand, uses: &mut HashMap<BindingId, usize>) {
        if let Operand::Active(a) = o {
            count_aexpr(a, uses);
        }
    }
    fn count(stmts: &[Stmt], uses: &mut HashMap<BindingId, usize>) {
        for s in stmts {
            match s {
                Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
                    args.iter().for_each(|a| count_op(a, uses))
                }
                Stmt::Target { value, .. } => count_op(value, uses),
                Stmt::Let { init, .. } => count_aexpr(init, uses),
                Stmt::Data(_) => {}
                Stmt::For { body, carried, .. } => {
                    count(body, uses);
                    for c in carried {
                        *uses.entry(c.outer.id).or_default() += 1;
                    }
                }
                Stmt::If {
                    then, els, joined, ..
                } => {
                    count(then, uses);
                    count(els, uses);
                    for j in joined {
                        *uses.entry(j.then_last.id).or_default() += 1;
                        *uses.entry(j.else_last.id).or_default() += 1;
                    }
                }
            }
        }
    }
    let mut uses = HashMap::new();
    count(body, &mut uses);
    let mut links: HashMap<BindingId, BindingId> = HashMap::new();
    for s in body {
        if let Stmt::Let {
            binding,
            init: AExpr::Binary(Binary::Add | Binary::Sub, a, _, _),
            ..
        } = s
        {
            if let AExpr::Var(v) = &**a {
                links.insert(v.id, binding.id);
            }
        }
    }
    carried
        .iter()
        .map(|c| {
            let mut v = c.entry.id;
            let mut steps = 0;
            while v != c.last.id {
                if uses.get(&v).copied().unwrap_or(0) != 1 || steps > body.len() {
                    return false;
                }
                match links.get(&v) {
                    Some(&next) => v = next,
                    None => return false,
                }
                steps += 1;
            }
            steps > 0 && uses.get(&c.last.id).copied().unwrap_or(0) == 0
        })
        .collect()
}

fn seed_one(v: &V) -> TokenStream {
    match v.grad() {
        Some(g) => quote!(#g += 1.0;),
        None => quote!(),
    }
}

/// A distribution statement's kernel call, by method dispatch on its operands (see
/// `__private::Ops3`): when all are numbers, the inlined scalar kernel; otherwise the
/// vectorised one. Either way through the statement's memo `__k{src}`.
fn kernel_dispatch(src: usize, vals: &[V], grads: bool) -> TokenStream {
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
        V::Temp(t, _) => quote!(&#t),
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

fn span_of_ty(t: &syn::Type) -> Span {
    use quote::ToTokens;
    t.to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

#[cfg(test)]
mod kernel_dispatch_tests {
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

    #[test]
    fn a_statement_in_a_loop_keeps_one_memo_declared_before_the_loop() {
        let g = grad_fn(
            "fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
                let b ~ Normal(0.0, 1.0);
                let sigma ~ HalfNormal(1.0);
                let t ~ Normal(0.0, 1.0).iid(x.nrows());
                for i in 0..x.nrows() {
                    let mut mu = b;
                    for j in 0..x.ncols() {
                        mu += x[(i, j)] * b;
                    }
                    // A latent per observation: the loop stays a loop (not vectorised).
                    y[i] ~ Normal(mu + t[i], sigma);
                }
            }",
        );
        // One memo per distribution statement, all declared before the first loop.
        let decls: Vec<usize> = g.match_indices("let mut __k").map(|(i, _)| i).collect();
        assert_eq!(decls.len(), 4, "{g}");
        let first_loop = g.find("for i in").expect("the loop");
        assert!(decls.iter().all(|&d| d < first_loop), "{g}");
        // The observation's kernel call goes through operand dispatch with that memo.
        let call = g.rfind("Ops3").expect("a kernel call by dispatch");
        assert!(call > first_loop, "{g}");
        assert!(g[call..].contains("lpdf (& mut __k"), "{g}");
        assert!(!g.contains("dist :: normal :: lpdf"), "{g}");
    }
}
