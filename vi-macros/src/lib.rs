//! The `model!` macro of the `vi` crate. Use it through `vi::model!` / `vi::prelude`.
//!
//! The pipeline, one stage per file or folder, each a plain function of the previous one's
//! output: `parse` (tokens -> DSL syntax tree), `analyse` (names, latent vs observed, shapes,
//! constraints, activity -> the `ir`), `hoist` (loop invariants out of their loops),
//! `vectorise` (loops over observations as whole-vector statements), `codegen` (Rust: the
//! items, the forward pass and the reverse sweep). The vocabulary (distributions, functions) is the table in
//! `catalogue`; `ARCHITECTURE.md` at the repository root is the map. Errors go to a
//! `ctxt::Ctxt` and are reported together.

mod analyse;
mod catalogue;
mod codegen;
mod ctxt;
mod hoist;
mod ir;
mod parse;
mod shape;
mod vectorise;

use proc_macro::TokenStream;

/// Compiles a model written as prior and likelihood statements into a log density and its
/// gradient. See the `vi` crate's documentation.
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    run(input.into()).into()
}

/// The whole pipeline on `proc_macro2` tokens (so tests can drive it).
fn run(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let def: parse::ModelDef = match syn::parse2(input) {
        Ok(d) => d,
        Err(e) => return e.to_compile_error(),
    };
    let cx = ctxt::Ctxt::new();
    let model = analyse::analyse(&cx, &def);
    match cx.check() {
        Ok(()) => {
            // Which arguments are rows, planned on the statements as written.
            let rows = codegen::rows::plan(&model);
            let subsample = codegen::rows::methods(&model, &rows);
            let expanded = codegen::expand(&vectorise::vectorise(hoist::hoist(model)));
            quote::quote!(#expanded #subsample)
        }
        Err(e) => {
            let errors = e.to_compile_error();
            let stub = codegen::fallback(&def);
            quote::quote!(#errors #stub)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::run;
    use proc_macro2::TokenStream;

    /// A small seeded generator (the macro crate has no `rand`).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const WORDS: &[&str] = &[
        "let",
        "mut",
        "for",
        "in",
        "if",
        "else",
        "target",
        "y",
        "x",
        "mu",
        "w",
        "s",
        "t",
        "i",
        "Normal",
        "HalfNormal",
        "Beta",
        "Poisson",
        "Uniform",
        "iid",
        "exp",
        "powi",
        "sum",
        "dot",
        "ln",
        "0.0",
        "1.0",
        "2",
        "~",
        ";",
        "=",
        "+=",
        "+",
        "-",
        "*",
        "/",
        ".",
        ",",
        ":",
        "..",
        "&",
        "!",
        "<",
        ">",
        "==",
        "f64",
        "usize",
        "as",
        "fn",
        "pub",
        "mu.exp()",
        "x.len()",
        "y[i]",
        "w[(0, 1)]",
    ];

    fn random_tokens(rng: &mut Lcg, depth: usize) -> String {
        let n = rng.below(12);
        let mut s = String::new();
        for _ in 0..n {
            match rng.below(10) {
                0 if depth < 3 => {
                    let (o, c) = [("(", ")"), ("[", "]"), ("{", "}")][rng.below(3)];
                    s.push_str(o);
                    s.push_str(&random_tokens(rng, depth + 1));
                    s.push_str(c);
                }
                _ => s.push_str(WORDS[rng.below(WORDS.len())]),
            }
            s.push(' ');
        }
        s
    }

    const VALID: &str = "pub fn m(x: &DMatrix<f64>, y: &[f64], n: usize) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let s ~ HalfNormal(1.0);
        let mut acc = 0.0;
        for i in 0..n { acc += w[0] * y[i]; if i > 2 { acc = acc * s; } }
        let mu = x * w + acc;
        y ~ Normal(mu, s.exp());
        target += -s.powi(2);
    }";

    fn no_panic(src: &str) {
        let Ok(ts) = src.parse::<TokenStream>() else {
            return;
        };
        let r = std::panic::catch_unwind(|| run(ts));
        assert!(r.is_ok(), "the macro panicked on: {src}");
    }

    #[test]
    fn never_panics_on_random_or_mangled_input() {
        let mut rng = Lcg(20_261_123);
        no_panic(VALID);
        for _ in 0..400 {
            // Random statements inside a model's body.
            let body = random_tokens(&mut rng, 0);
            no_panic(&format!("fn m(x: &[f64], y: f64) {{ {body} }}"));
            // Random tokens anywhere.
            no_panic(&random_tokens(&mut rng, 0));
        }
        // A valid model with tokens deleted, duplicated or replaced.
        let tokens: Vec<String> = VALID
            .parse::<TokenStream>()
            .map(flatten)
            .unwrap_or_default();
        for _ in 0..400 {
            let mut t = tokens.clone();
            for _ in 0..1 + rng.below(3) {
                let k = rng.below(t.len());
                match rng.below(3) {
                    0 => {
                        t.remove(k);
                    }
                    1 => {
                        let d = t[k].clone();
                        t.insert(k, d);
                    }
                    _ => t[k] = WORDS[rng.below(WORDS.len())].to_string(),
                }
            }
            no_panic(&t.join(" "));
        }
    }

    /// Tokens as strings, groups opened and closed as separate tokens so mutations can
    /// unbalance them (such inputs fail to tokenize and are skipped, as rustc would).
    fn flatten(ts: TokenStream) -> Vec<String> {
        let mut out = Vec::new();
        for t in ts {
            match t {
                proc_macro2::TokenTree::Group(g) => {
                    let (o, c) = match g.delimiter() {
                        proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                        proc_macro2::Delimiter::Bracket => ("[", "]"),
                        proc_macro2::Delimiter::Brace => ("{", "}"),
                        proc_macro2::Delimiter::None => ("", ""),
                    };
                    out.push(o.to_string());
                    out.extend(flatten(g.stream()));
                    out.push(c.to_string());
                }
                other => out.push(other.to_string()),
            }
        }
        out
    }

    #[test]
    fn a_vector_filled_in_a_loop_is_written_in_place() {
        let out = run(quote::quote! {
            fn rw(y: &[f64]) {
                let sigma ~ HalfNormal(1.0);
                let eps ~ Normal(0.0, 1.0).iid(y.len());
                let mut z = DVector::zeros(y.len());
                for t in 1..y.len() {
                    z[t] = z[t - 1] + sigma * eps[t];
                }
                y ~ Normal(z, 1.0);
            }
        })
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        // No copy of the vector per write, none saved per iteration: writes into `z` itself,
        // its undo log's mark saved per iteration.
        assert!(!out.contains("set_elem"), "{out}");
        assert!(out.contains(". write (& mut __v"), "{out}");
        assert!(out.contains(". mark ()"), "{out}");
        assert!(out.contains("write_elem (& mut __v"), "{out}");
        assert!(!out.contains("__cv"), "{out}");
    }

    #[test]
    fn a_valid_model_expands_without_errors() {
        let out = run(VALID.parse().expect("tokens")).to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("struct M"));
    }
}
