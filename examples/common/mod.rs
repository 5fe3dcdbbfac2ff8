//! What every lecture example shares: its size from the command line, and where its figures go.

/// `small` from the command line (`small` or `--small`) or `VI_EXAMPLE_SMALL=1`.
pub fn small_requested() -> bool {
    std::env::args().any(|a| a == "small" || a == "--small")
        || std::env::var("VI_EXAMPLE_SMALL").is_ok_and(|v| v == "1")
}

/// `target/plots/<name>` of this workspace (or of `CARGO_TARGET_DIR`).
#[cfg(feature = "plot")]
pub fn plot_dir(name: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("plots").join(name)
}
