//! The error collector: every stage reports its mistakes here, and they are emitted together
//! at the end, so a model with three mistakes shows three errors (serde's `Ctxt`).

use std::cell::RefCell;

/// Collects `syn::Error`s. Must be consumed with [`Ctxt::check`]; dropping it unchecked is
/// a bug in the macro and panics (in debug builds of the macro only while not unwinding).
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
    /// Names the macro gave to a user's names (a user function's locals, renamed at each
    /// call), with the names as written: messages say the latter.
    renames: RefCell<Vec<(String, String)>>,
}

impl Ctxt {
    /// A fresh context.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
            renames: RefCell::new(Vec::new()),
        }
    }

    /// Records an error at `span`.
    #[cfg(test)]
    pub fn error_at<M: std::fmt::Display>(&self, span: proc_macro2::Span, msg: M) {
        self.syn_error(syn::Error::new(span, msg));
    }

    /// Records a `syn::Error`.
    pub fn syn_error(&self, err: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(err);
        }
    }

    /// Records that the macro calls the user's name `written` `generated`, so a message
    /// naming `` `generated` `` says `` `written` ``.
    pub fn rename(&self, generated: String, written: String) {
        self.renames.borrow_mut().push((generated, written));
    }

    /// Consumes the context: `Ok` when no error was recorded, else all errors combined.
    pub fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        // The same message at the same token once (a user function's body is inlined at
        // each call, so a mistake inside it is found once per call).
        let mut seen = std::collections::HashSet::new();
        let mut iter = errors
            .into_iter()
            .flatten()
            .map(|e| {
                let msg = e.to_string();
                let mut said = msg.clone();
                // Renamed again when a function is inlined into another: back to the first.
                for _ in 0..8 {
                    let before = said.clone();
                    for (generated, written) in self.renames.borrow().iter() {
                        said = said.replace(&format!("`{generated}`"), &format!("`{written}`"));
                    }
                    if said == before {
                        break;
                    }
                }
                if said == msg {
                    e
                } else {
                    syn::Error::new(e.span(), said)
                }
            })
            .filter(|e| seen.insert((format!("{:?}", e.span()), e.to_string())));
        let Some(mut combined) = iter.next() else {
            return Ok(());
        };
        for rest in iter {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combines_all_errors() {
        let cx = Ctxt::new();
        assert!(cx.check().is_ok());
        let cx = Ctxt::new();
        cx.error_at(proc_macro2::Span::call_site(), "one");
        cx.error_at(proc_macro2::Span::call_site(), "two");
        let e = cx.check().unwrap_err();
        let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs, ["one", "two"]);
    }
}
