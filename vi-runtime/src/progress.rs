//! Progress bars on long fits (the `progress` cargo feature): one bar per chain, drawn
//! with [`indicatif`](https://docs.rs/indicatif) on standard error, and only when standard
//! error is a terminal, so logs, pipes and CI output stay clean. Without the feature every
//! call is a no-op. Engines turn them off with their `progress(false)` setting.
//!
//! ```
//! let bars = vi_runtime::progress::Bars::new("NUTS");
//! bars.start(0, "warmup", 1000);
//! bars.advance(0, 1);
//! bars.finish(0);
//! ```

#[cfg(feature = "progress")]
mod bars {
    use std::io::IsTerminal;
    use std::sync::Mutex;

    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// One progress bar per chain (VI and Laplace use chain 0), or nothing at all when standard
    /// error is not a terminal. Safe to share between the threads that run the chains.
    #[derive(Debug)]
    pub struct Bars {
        label: String,
        multi: Option<MultiProgress>,
        bars: Mutex<Vec<Option<ProgressBar>>>,
    }

    impl Bars {
        /// Bars labelled `label` (the method, `"NUTS"`), drawn only if standard error is a
        /// terminal.
        pub fn new(label: impl Into<String>) -> Self {
            let visible = std::io::stderr().is_terminal();
            Self::with_visibility(label, visible)
        }

        /// Bars that are never drawn; every call is a no-op.
        pub fn hidden(label: impl Into<String>) -> Self {
            Self::with_visibility(label, false)
        }

        fn with_visibility(label: impl Into<String>, visible: bool) -> Self {
            Bars {
                label: label.into(),
                multi: visible
                    .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
                bars: Mutex::new(Vec::new()),
            }
        }

        /// Whether the bars are drawn.
        pub fn is_visible(&self) -> bool {
            self.multi.is_some()
        }

        /// Chain `chain` starts a phase (`"warmup"`, `"sampling"`, `"optimising"`) of `total`
        /// iterations; replaces the chain's previous bar.
        pub fn start(&self, chain: usize, phase: &str, total: u64) {
            let Some(multi) = &self.multi else {
                return;
            };
            let style = ProgressStyle::with_template(
                "{prefix:>14} {msg:<10} [{bar:30}] {pos:>6}/{len:6} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(total)
                .with_style(style)
                .with_prefix(format!("{} chain {}", self.label, chain + 1))
                .with_message(phase.to_string());
            let Ok(mut bars) = self.bars.lock() else {
                return;
            };
            if bars.len() <= chain {
                bars.resize(chain + 1, None);
            }
            let bar = match bars[chain].take() {
                Some(old) => {
                    let bar = multi.insert_after(&old, bar);
                    old.finish_and_clear();
                    multi.remove(&old);
                    bar
                }
                None => multi.add(bar),
            };
            bars[chain] = Some(bar);
        }

        /// Chain `chain` did `n` more iterations.
        pub fn advance(&self, chain: usize, n: u64) {
            if let Some(bar) = self.bar(chain) {
                bar.inc(n);
            }
        }

        /// Chain `chain` is done: its bar stays, completed at the iteration it reached (a VI
        /// fit that converged early ends short of its cap).
        pub fn finish(&self, chain: usize) {
            if let Some(bar) = self.bar(chain) {
                bar.set_length(bar.position());
                bar.finish();
            }
        }

        fn bar(&self, chain: usize) -> Option<ProgressBar> {
            self.multi.as_ref()?;
            self.bars.lock().ok()?.get(chain)?.clone()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hidden_bars_do_nothing_and_never_panic() {
            let bars = Bars::hidden("NUTS");
            assert!(!bars.is_visible());
            bars.advance(3, 1); // before any start
            bars.start(1, "warmup", 10);
            bars.advance(1, 5);
            bars.finish(1);
            bars.finish(7);
        }

        #[test]
        fn visible_bars_count_iterations_per_chain() {
            let mut bars = Bars::with_visibility("VI", true);
            // Draw into a hidden target so the test prints nothing.
            bars.multi = Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden()));
            bars.start(1, "warmup", 10);
            bars.advance(1, 4);
            bars.advance(0, 4); // a chain that never started: ignored
            assert_eq!(bars.bar(1).unwrap().position(), 4);
            bars.start(1, "sampling", 20);
            bars.advance(1, 20);
            bars.finish(1);
            let b = bars.bar(1).unwrap();
            assert_eq!((b.position(), b.length()), (20, Some(20)));
            assert!(b.is_finished());
            assert!(bars.bar(0).is_none());
        }
    }
}

#[cfg(not(feature = "progress"))]
mod bars {
    /// Progress bars; without the `progress` feature they are never drawn.
    #[derive(Debug)]
    pub struct Bars;

    impl Bars {
        /// Bars labelled `label`; without the `progress` feature, never drawn.
        pub fn new(label: impl Into<String>) -> Self {
            let _ = label.into();
            Bars
        }

        /// Bars that are never drawn.
        pub fn hidden(label: impl Into<String>) -> Self {
            Self::new(label)
        }

        /// Whether the bars are drawn: never, without the `progress` feature.
        pub fn is_visible(&self) -> bool {
            false
        }

        /// Does nothing without the `progress` feature.
        pub fn start(&self, _chain: usize, _phase: &str, _total: u64) {}

        /// Does nothing without the `progress` feature.
        pub fn advance(&self, _chain: usize, _n: u64) {}

        /// Does nothing without the `progress` feature.
        pub fn finish(&self, _chain: usize) {}
    }
}

pub use bars::Bars;
