// Longer than 800 lines: the syntax tree of the DSL and one `Parse` impl per construct, with
// the error recovery that lets one run report every statement's error; a reader looks up one
// construct.
//! Tokens -> the syntax tree of the DSL: one `Parse` impl per construct.
//!
//! ```text
//! model   := attrs vis `fn` name `(` (name `:` Type),* `)` block
//! block   := `{` stmt* `}`
//! stmt    := `let` name `~` dist modifier* `;`                     latent
//!          | expr `~` dist `;`                                     observation
//!          | (`#[keep]`)? `let` pat (`:` Type)? `=` expr `;`       deterministic / data
//!          | place (`=` | `+=` | `-=` | `*=` | `/=`) expr `;`      assignment
//!          | `target` `+=` expr `;`
//!          | `for` pat `in` expr block
//!          | `if` expr block (`else` (block | if ...))?
//! modifier := `.iid(` expr `)` | `.ordered()` | `.positive_ordered()`
//!          | `.lower(` expr `)` | `.upper(` expr `)` | `.bounds(` expr `,` expr `)`
//!          | expr `;`
//! dist    := Name `(` expr,* `)` | `Flat`
//! ```
//!
//! A statement that does not parse is kept as [`Stmt::Error`] and parsing goes on with the
//! next statement, so one model reports all of its malformed statements at once.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, Attribute, Expr, Ident, Pat, Token, Type, Visibility};

mod kw {
    syn::custom_keyword!(iid);
    syn::custom_keyword!(target);
}

/// The whole `model! { ... }` input.
pub struct ModelDef {
    /// Outer attributes and doc comments, passed on to the struct and constructor.
    pub attrs: Vec<Attribute>,
    /// Visibility of the struct and constructor.
    pub vis: Visibility,
    /// The model's name (the constructor's name).
    pub name: Ident,
    /// The data arguments.
    pub args: Vec<DataArg>,
    /// The statements.
    pub body: Block,
    /// User functions written before the model's function (Stan's functions block):
    /// `fn name(args) -> Type { body }`, inlined at their calls (`analyse/functions.rs`).
    pub fns: Vec<syn::ItemFn>,
}

/// One data argument `name: Type`.
pub struct DataArg {
    /// The argument's name.
    pub name: Ident,
    /// Its type as written.
    pub ty: Type,
}

/// A `{ ... }` block of statements.
#[derive(Clone)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
}

/// One statement of the DSL.
#[derive(Clone)]
pub enum Stmt {
    /// `let name ~ Dist(args).iid(n);`
    Latent(LatentStmt),
    /// `expr ~ Dist(args);`
    Observe(ObserveStmt),
    /// `let [mut] pat [: Ty] = expr;`
    Let(LetStmt),
    /// `place op= expr;`
    Assign(AssignStmt),
    /// `target += expr;`
    Target(TargetStmt),
    /// `for pat in expr { ... }`
    For(ForStmt),
    /// `if cond { ... } else { ... }`
    If(IfStmt),
    /// `expr;`
    Expr(ExprStmt),
    /// A statement that did not parse; the error is reported by the analyser.
    Error(syn::Error),
}

/// `let name ~ Dist(args)[.iid(shape)];`
#[derive(Clone)]
pub struct LatentStmt {
    /// `mut`, which a latent may not have.
    pub mutability: Option<Token![mut]>,
    /// The latent's name.
    pub name: Ident,
    /// The prior.
    pub dist: DistCall,
    /// `.iid(n)` or `.iid((r, c))`.
    pub iid: Option<Expr>,
    /// The constraint modifiers after it: `.ordered()`, `.lower(a)`, ...
    pub mods: Vec<Modifier>,
    /// Modifiers that are unknown or have the wrong number of arguments.
    pub mod_errors: Vec<syn::Error>,
    /// The statement's source text, without the `;`.
    pub src: String,
}

/// A modifier after a latent's prior that says its constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModKind {
    /// `.ordered()`
    Ordered,
    /// `.positive_ordered()`
    PositiveOrdered,
    /// `.lower(a)`
    Lower,
    /// `.upper(b)`
    Upper,
    /// `.bounds(a, b)`
    Bounds,
}

/// The modifiers that exist, with their arities, in the order messages list them (`iid`
/// first, which is parsed on its own).
pub const MODIFIERS: &[(&str, usize)] = &[
    ("iid", 1),
    ("ordered", 0),
    ("positive_ordered", 0),
    ("lower", 1),
    ("upper", 1),
    ("bounds", 2),
];

/// `.ordered()`, `.lower(a)`, ... after a latent's prior.
#[derive(Clone)]
pub struct Modifier {
    /// Which.
    pub kind: ModKind,
    /// Its name, for spans.
    pub name: Ident,
    /// Its arguments (data bounds).
    pub args: Vec<Expr>,
}

/// `expr ~ Dist(args);`
#[derive(Clone)]
pub struct ObserveStmt {
    /// The observed expression.
    pub lhs: Expr,
    /// Its distribution.
    pub dist: DistCall,
    /// `.iid(..)` given on an observation (an error).
    pub iid: Option<Expr>,
    /// The statement's source text, without the `;`.
    pub src: String,
}

/// `Dist(arg, ...)`.
#[derive(Clone)]
pub struct DistCall {
    /// The distribution's name as written.
    pub name: Ident,
    /// The arguments.
    pub args: Vec<Expr>,
    /// The span of the parentheses.
    pub paren_span: Span,
}

/// `let [mut] pat [: Ty] = expr;`
#[derive(Clone)]
pub struct LetStmt {
    /// The pattern (a name, or any pattern for data).
    pub pat: Pat,
    /// The type annotation.
    pub ty: Option<Type>,
    /// The initialiser.
    pub init: Expr,
    /// The statement's source text, without the `;`.
    pub src: String,
    /// `#[keep]` before it: the value is reported by the posterior (a derived quantity).
    pub keep: Option<Span>,
    /// A `let` of a user function's body or one binding an argument, inlined at a call
    /// (`analyse/functions.rs`): its value follows the DSL's arithmetic even on data, so a
    /// function means the same on data and on a latent's path.
    pub inlined: bool,
}

/// The operator of an assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
}

/// `place op expr;`
#[derive(Clone)]
pub struct AssignStmt {
    /// The assigned place (a name or an element `v[i]`).
    pub lhs: Expr,
    /// The operator.
    pub op: AssignOp,
    /// The operator's span.
    pub op_span: Span,
    /// The value.
    pub rhs: Expr,
    /// The statement's source text, without the `;`.
    pub src: String,
}

/// `target += expr;`
#[derive(Clone)]
pub struct TargetStmt {
    /// The term.
    pub expr: Expr,
    /// The statement's source text, without the `;`.
    pub src: String,
}

/// `for pat in expr { ... }`
#[derive(Clone)]
pub struct ForStmt {
    /// The loop pattern (data).
    pub pat: Pat,
    /// What is iterated over (data).
    pub iter: Expr,
    /// The body.
    pub body: Block,
    /// `for pat in expr`, for messages.
    pub src: String,
}

/// `if cond { ... } [else ...]`
#[derive(Clone)]
pub struct IfStmt {
    /// The condition (data).
    pub cond: Expr,
    /// The `then` block.
    pub then: Block,
    /// The `else` block; an `else if` is a block holding one `if` statement.
    pub els: Option<Block>,
    /// `if cond`, for messages.
    pub src: String,
}

/// `expr;`
#[derive(Clone)]
pub struct ExprStmt {
    /// The expression.
    pub expr: Expr,
    /// Whether a `;` followed it.
    pub semi: bool,
}

impl Parse for ModelDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // User functions: items with a return type before the model's function (whose body,
        // with its `~`, is not Rust).
        let mut fns = Vec::new();
        loop {
            let fork = input.fork();
            match fork.parse::<syn::ItemFn>() {
                Ok(f) if matches!(f.sig.output, syn::ReturnType::Type(..)) && !fork.is_empty() => {
                    fns.push(input.parse::<syn::ItemFn>()?);
                }
                _ => break,
            }
        }
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let lookahead = input.lookahead1();
        if !lookahead.peek(Token![fn]) {
            return Err(lookahead.error());
        }
        let _: Token![fn] = input.parse()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error("a model cannot be generic: its data types are fixed"));
        }
        let content;
        parenthesized!(content in input);
        let args: Punctuated<DataArg, Token![,]> =
            content.parse_terminated(DataArg::parse, Token![,])?;
        if input.peek(Token![->]) {
            return Err(input.error("a model has no return type: it returns its log density"));
        }
        let body: Block = input.parse()?;
        if !input.is_empty() {
            return Err(input
                .error("unexpected tokens after the model's body; write one model per `model!`"));
        }
        Ok(ModelDef {
            attrs,
            vis,
            name,
            args: args.into_iter().collect(),
            body,
            fns,
        })
    }
}

impl Parse for DataArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![mut]) {
            return Err(input.error("data arguments cannot be `mut`"));
        }
        let name: Ident = input.parse()?;
        let _: Token![:] = input.parse()?;
        let ty: Type = input.parse()?;
        Ok(DataArg { name, ty })
    }
}

impl Parse for Block {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        braced!(content in input);
        let mut stmts = Vec::new();
        while !content.is_empty() {
            let fork = content.fork();
            match fork.parse::<Stmt>() {
                Ok(_) => stmts.push(content.parse::<Stmt>()?),
                Err(e) => {
                    stmts.push(Stmt::Error(e));
                    skip_statement(&content)?;
                }
            }
        }
        Ok(Block { stmts })
    }
}

/// Skips tokens up to and including the next `;` (or one braced group) at this level.
fn skip_statement(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            rest = next;
            match &tt {
                TokenTree::Punct(p) if p.as_char() == ';' => return Ok(((), rest)),
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                    // A block ends a statement unless `else` follows.
                    match rest.ident() {
                        Some((id, _)) if id == "else" => {}
                        _ => return Ok(((), rest)),
                    }
                }
                _ => {}
            }
        }
        Ok(((), rest))
    })
}

impl Parse for Stmt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let keep = keep_attribute(input)?;
        let start = input.fork();
        if keep.is_some() && !input.peek(Token![let]) {
            return Err(input.error(
                "`#[keep]` marks a `let` whose value the posterior reports: `#[keep] let a = ..;`",
            ));
        }
        if input.peek(Token![let]) {
            let _: Token![let] = input.parse()?;
            if input.peek(Token![~]) || input.peek(Token![=]) {
                return Err(
                    input.error("expected a name: `let name ~ Dist(..);` or `let name = ..;`")
                );
            }
            let pat = Pat::parse_single(input)?;
            if input.peek(Token![~]) {
                let _: Token![~] = input.parse()?;
                let (mutability, name) = match pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                        (p.mutability, p.ident)
                    }
                    other => return Err(syn::Error::new_spanned(
                        other,
                        "a latent variable is declared with a plain name: `let name ~ Dist(..);`",
                    )),
                };
                let dist: DistCall = input.parse()?;
                let (iid, mods, mod_errors) = parse_modifiers(input)?;
                let src = source_between(&start, input);
                input.parse::<Token![;]>()?;
                return Ok(Stmt::Latent(LatentStmt {
                    mutability,
                    name,
                    dist,
                    iid,
                    mods,
                    mod_errors,
                    src,
                }));
            }
            let ty = if input.peek(Token![:]) {
                let _: Token![:] = input.parse()?;
                Some(input.parse::<Type>()?)
            } else {
                None
            };
            let lookahead = input.lookahead1();
            if !lookahead.peek(Token![=]) {
                return Err(lookahead.error());
            }
            let _: Token![=] = input.parse()?;
            let init: Expr = input.parse()?;
            let src = source_between(&start, input);
            input.parse::<Token![;]>()?;
            return Ok(Stmt::Let(LetStmt {
                pat,
                ty,
                init,
                src,
                keep,
                inlined: false,
            }));
        }
        if input.peek(Token![for]) {
            let _: Token![for] = input.parse()?;
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            let _: Token![in] = input.parse()?;
            let iter = Expr::parse_without_eager_brace(input)?;
            let src = source_between(&start, input);
            let body: Block = input.parse()?;
            return Ok(Stmt::For(ForStmt {
                pat,
                iter,
                body,
                src,
            }));
        }
        if input.peek(Token![if]) {
            return Ok(Stmt::If(input.parse()?));
        }
        if input.peek(kw::target) && input.peek2(Token![+=]) {
            let _: kw::target = input.parse()?;
            let _: Token![+=] = input.parse()?;
            let expr: Expr = input.parse()?;
            let src = source_between(&start, input);
            input.parse::<Token![;]>()?;
            return Ok(Stmt::Target(TargetStmt { expr, src }));
        }
        if input.peek(Token![while]) || input.peek(Token![loop]) {
            return Err(input.error(
                "`while` and `loop` are not supported in a model: use `for` over a range of data",
            ));
        }
        let expr: Expr = input.parse()?;
        if input.peek(Token![~]) {
            let _: Token![~] = input.parse()?;
            let dist: DistCall = input.parse()?;
            let iid = parse_iid(input)?;
            let src = source_between(&start, input);
            input.parse::<Token![;]>()?;
            return Ok(Stmt::Observe(ObserveStmt {
                lhs: expr,
                dist,
                iid,
                src,
            }));
        }
        let src = source_between(&start, input);
        let block_like = matches!(
            expr,
            Expr::Block(_) | Expr::Match(_) | Expr::Unsafe(_) | Expr::If(_) | Expr::ForLoop(_)
        );
        let semi = if block_like {
            input.parse::<Option<Token![;]>>()?.is_some()
        } else {
            let lookahead = input.lookahead1();
            if lookahead.peek(Token![;]) {
                input.parse::<Token![;]>()?;
                true
            } else if lookahead.peek(Token![~]) {
                unreachable_peek(input)?;
                true
            } else {
                return Err(lookahead.error());
            }
        };
        Ok(match expr {
            Expr::Assign(a) => Stmt::Assign(AssignStmt {
                op_span: a.eq_token.span,
                lhs: *a.left,
                op: AssignOp::Set,
                rhs: *a.right,
                src,
            }),
            Expr::Binary(b) if compound(&b.op).is_some() => Stmt::Assign(AssignStmt {
                lhs: *b.left,
                op: compound(&b.op).unwrap_or(AssignOp::Set),
                op_span: op_span(&b.op),
                rhs: *b.right,
                src,
            }),
            expr => Stmt::Expr(ExprStmt { expr, semi }),
        })
    }
}

/// The attributes before a statement: `#[keep]` (its span), or none; any other is an error.
fn keep_attribute(input: ParseStream) -> syn::Result<Option<Span>> {
    let mut keep = None;
    for a in input.call(Attribute::parse_outer)? {
        match &a.meta {
            syn::Meta::Path(p) if p.is_ident("keep") => keep = Some(a.pound_token.span),
            _ => {
                return Err(syn::Error::new_spanned(
                    &a,
                    "unknown attribute: a statement may only be marked `#[keep]` (a `let` whose \
                     value the posterior reports)",
                ))
            }
        }
    }
    Ok(keep)
}

fn unreachable_peek(input: ParseStream) -> syn::Result<()> {
    Err(input.error("expected `;`"))
}

fn compound(op: &syn::BinOp) -> Option<AssignOp> {
    match op {
        syn::BinOp::AddAssign(_) => Some(AssignOp::Add),
        syn::BinOp::SubAssign(_) => Some(AssignOp::Sub),
        syn::BinOp::MulAssign(_) => Some(AssignOp::Mul),
        syn::BinOp::DivAssign(_) => Some(AssignOp::Div),
        _ => None,
    }
}

fn op_span(op: &syn::BinOp) -> Span {
    let ts = op.to_token_stream();
    ts.into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

/// `.iid(shape)` and the constraint modifiers after a latent's prior, in any order. An
/// unknown modifier or a wrong number of arguments is an error at the modifier's name
/// (listing those that exist, with the nearest), kept with the statement so the latent is
/// still declared and no follow-on error appears.
fn parse_modifiers(
    input: ParseStream,
) -> syn::Result<(Option<Expr>, Vec<Modifier>, Vec<syn::Error>)> {
    let mut iid = None;
    let mut mods = Vec::new();
    let mut errors = Vec::new();
    while input.peek(Token![.]) {
        if input.peek2(kw::iid) {
            if iid.is_some() {
                return Err(input.error("`.iid` is given twice"));
            }
            iid = parse_iid(input)?;
            continue;
        }
        let _: Token![.] = input.parse()?;
        let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let content;
        parenthesized!(content in input);
        let args: syn::punctuated::Punctuated<Expr, Token![,]> =
            content.parse_terminated(Expr::parse, Token![,])?;
        let args: Vec<Expr> = args.into_iter().collect();
        let text = name.to_string();
        let Some(&(_, arity)) = MODIFIERS.iter().find(|(m, _)| *m == text) else {
            let known = MODIFIERS
                .iter()
                .map(|(m, _)| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = crate::catalogue::suggest_modifier(&text)
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                name.span(),
                format!("unknown modifier `.{text}()`{hint} (the modifiers are {known})"),
            ));
            continue;
        };
        if args.len() != arity {
            let what = match arity {
                0 => "no arguments".to_string(),
                1 => "one argument".to_string(),
                n => format!("{n} arguments"),
            };
            errors.push(syn::Error::new(
                name.span(),
                format!("`.{text}` takes {what}, found {}", args.len()),
            ));
            continue;
        }
        let kind = match text.as_str() {
            "ordered" => ModKind::Ordered,
            "positive_ordered" => ModKind::PositiveOrdered,
            "lower" => ModKind::Lower,
            "upper" => ModKind::Upper,
            _ => ModKind::Bounds,
        };
        mods.push(Modifier { kind, name, args });
    }
    Ok((iid, mods, errors))
}

fn parse_iid(input: ParseStream) -> syn::Result<Option<Expr>> {
    if !input.peek(Token![.]) {
        return Ok(None);
    }
    let _: Token![.] = input.parse()?;
    let lookahead = input.lookahead1();
    if !lookahead.peek(kw::iid) {
        return Err(lookahead.error());
    }
    let _: kw::iid = input.parse()?;
    let content;
    parenthesized!(content in input);
    let e: Expr = content.parse()?;
    if !content.is_empty() {
        return Err(content.error("`.iid` takes one shape: `.iid(n)` or `.iid((rows, cols))`"));
    }
    Ok(Some(e))
}

impl Parse for DistCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if !lookahead.peek(Ident) {
            return Err(lookahead.error());
        }
        let name: Ident = input.parse()?;
        if name == "Flat" && !input.peek(syn::token::Paren) {
            // A distribution with no parameters may drop its parentheses: `let h ~ Flat;`.
            return Ok(DistCall {
                paren_span: name.span(),
                name,
                args: Vec::new(),
            });
        }
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected a distribution call such as `{name}(..)`"),
            ));
        }
        let content;
        let paren = parenthesized!(content in input);
        let args: Punctuated<Expr, Token![,]> = content.parse_terminated(Expr::parse, Token![,])?;
        Ok(DistCall {
            name,
            args: args.into_iter().collect(),
            paren_span: paren.span.join(),
        })
    }
}

impl Parse for IfStmt {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let start = input.fork();
        let _: Token![if] = input.parse()?;
        if input.peek(Token![let]) {
            return Err(input.error("`if let` is not supported in a model; use `if` over data"));
        }
        let cond = Expr::parse_without_eager_brace(input)?;
        let src = source_between(&start, input);
        let then: Block = input.parse()?;
        let els = if input.peek(Token![else]) {
            let _: Token![else] = input.parse()?;
            if input.peek(Token![if]) {
                let inner: IfStmt = input.parse()?;
                Some(Block {
                    stmts: vec![Stmt::If(inner)],
                })
            } else {
                Some(input.parse::<Block>()?)
            }
        } else {
            None
        };
        Ok(IfStmt {
            cond,
            then,
            els,
            src,
        })
    }
}

/// The source text of the tokens consumed between `start` and `end`.
fn source_between(start: &syn::parse::ParseBuffer, end: ParseStream) -> String {
    let mut tokens = TokenStream::new();
    let mut cursor = start.cursor();
    let stop = end.cursor();
    while cursor != stop {
        match cursor.token_tree() {
            Some((tt, next)) => {
                tokens.extend(std::iter::once(tt));
                cursor = next;
            }
            None => break,
        }
    }
    pretty(tokens)
}

/// Renders tokens as a person would write them: `y ~ Normal(x * w + b, sigma)`.
pub fn pretty(tokens: TokenStream) -> String {
    let mut out = String::new();
    let mut prev: Option<TokenTree> = None;
    // Whether `prev` is a unary `-` (after an operator or at the start): glued to its operand.
    let mut unary = false;
    let mut before_prev_is_op = true;
    for tt in tokens {
        if let Some(p) = &prev {
            if !unary && needs_space(p, &tt) {
                out.push(' ');
            }
        }
        unary = matches!(&tt, TokenTree::Punct(q) if q.as_char() == '-' && q.spacing() == Spacing::Alone)
            && before_prev_is_op;
        before_prev_is_op = matches!(&tt, TokenTree::Punct(q) if q.spacing() == Spacing::Alone);
        match &tt {
            TokenTree::Group(g) => {
                let inner = pretty(g.stream());
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                if inner.is_empty() && g.delimiter() == Delimiter::Brace {
                    out.push_str("{}");
                } else {
                    out.push_str(open);
                    out.push_str(&inner);
                    out.push_str(close);
                }
            }
            other => out.push_str(&other.to_string()),
        }
        prev = Some(tt);
    }
    out.replace(":: ", "::").replace(" ::", "::")
}

fn needs_space(prev: &TokenTree, next: &TokenTree) -> bool {
    let is_word = |t: &TokenTree| matches!(t, TokenTree::Ident(_) | TokenTree::Literal(_));
    match (prev, next) {
        (_, TokenTree::Punct(p)) if matches!(p.as_char(), ',' | ';' | '.' | '?') => false,
        (_, TokenTree::Punct(p))
            if p.as_char() == ':' && matches!(prev, TokenTree::Punct(q) if q.as_char() == ':') =>
        {
            false
        }
        (TokenTree::Punct(p), _) if p.as_char() == '.' => false,
        (TokenTree::Punct(p), _) if p.as_char() == ':' && p.spacing() == Spacing::Joint => false,
        (TokenTree::Punct(p), _) if p.spacing() == Spacing::Joint => false,
        (TokenTree::Punct(p), TokenTree::Punct(_)) if p.as_char() == ':' => false,
        (_, TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint => false,
        (TokenTree::Punct(p), _) if p.as_char() == '&' || p.as_char() == '!' => false,
        (TokenTree::Punct(p), _) if p.as_char() == '-' || p.as_char() == '*' => {
            // Unary minus / deref glue to their operand; binary operators are spaced by the
            // rule for their left side below.
            true
        }
        (p, TokenTree::Group(g))
            if matches!(g.delimiter(), Delimiter::Parenthesis | Delimiter::Bracket) =>
        {
            !(is_word(p)
                || matches!(p, TokenTree::Group(_))
                || matches!(p, TokenTree::Punct(q) if q.as_char() == '!'))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_model(ts: TokenStream) -> ModelDef {
        syn::parse2(ts).expect("parses")
    }

    #[test]
    fn statements_of_every_kind() {
        let m = parse_model(quote! {
            /// Docs.
            pub fn linreg(x: &DMatrix<f64>, y: &DVector<f64>) {
                let w ~ Normal(0.0, 1.0).iid(x.ncols());
                let m ~ Normal(0.0, 1.0).iid((2, 3));
                let sigma ~ HalfNormal(1.0);
                let mu = x * w;
                let mut s = 0.0;
                s += mu[0];
                s = s * 2.0;
                y ~ Normal(mu, sigma);
                target += -s.powi(2);
                for i in 0..3 { y[i] ~ Normal(w[0], 1.0); }
                if y.len() > 2 { s = 1.0; } else if true { s = 2.0; } else {}
                println!("hi");
            }
        });
        assert_eq!(m.name, "linreg");
        assert_eq!(m.args.len(), 2);
        assert_eq!(m.attrs.len(), 1);
        let kinds: Vec<&str> = m
            .body
            .stmts
            .iter()
            .map(|s| match s {
                Stmt::Latent(_) => "latent",
                Stmt::Observe(_) => "observe",
                Stmt::Let(_) => "let",
                Stmt::Assign(_) => "assign",
                Stmt::Target(_) => "target",
                Stmt::For(_) => "for",
                Stmt::If(_) => "if",
                Stmt::Expr(_) => "expr",
                Stmt::Error(_) => "error",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "latent", "latent", "latent", "let", "let", "assign", "assign", "observe",
                "target", "for", "if", "expr"
            ]
        );
        let Stmt::Latent(l) = &m.body.stmts[0] else {
            unreachable!()
        };
        assert_eq!(l.src, "let w ~ Normal(0.0, 1.0).iid(x.ncols())");
        let Stmt::Observe(o) = &m.body.stmts[7] else {
            unreachable!()
        };
        assert_eq!(o.src, "y ~ Normal(mu, sigma)");
        assert_eq!(o.dist.args.len(), 2);
        let Stmt::Assign(a) = &m.body.stmts[5] else {
            unreachable!()
        };
        assert_eq!(a.op, AssignOp::Add);
    }

    #[test]
    fn pretty_prints_like_source() {
        assert_eq!(
            pretty(quote!(y ~ Normal(x * w + b, sigma))),
            "y ~ Normal(x * w + b, sigma)"
        );
        assert_eq!(
            pretty(quote!(y[t] ~ Normal(mu + phi * y[t - 1], s.exp()))),
            "y[t] ~ Normal(mu + phi * y[t - 1], s.exp())"
        );
        assert_eq!(
            pretty(quote!(let k = -x.len() as f64)),
            "let k = -x.len() as f64"
        );
        assert_eq!(pretty(quote!(a::b(&c))), "a::b(&c)");
    }

    #[test]
    fn malformed_statements_are_kept_and_parsing_goes_on() {
        let m = parse_model(quote! {
            fn m(y: f64) {
                let ~ Normal(0.0, 1.0);
                let a ~ ;
                y ~ Normal(0.0, 1.0);
            }
        });
        assert!(matches!(m.body.stmts[0], Stmt::Error(_)));
        assert!(matches!(m.body.stmts[1], Stmt::Error(_)));
        assert!(matches!(m.body.stmts[2], Stmt::Observe(_)));
    }
}
