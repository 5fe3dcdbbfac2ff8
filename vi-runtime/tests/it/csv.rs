//! Draws written as they are made (CmdStan CSV) and read back.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::models::{CoinToss, LinRegKnownNoise};
use vi_runtime::infer::csv::{CsvMethod, CsvWriter};
use vi_runtime::{read_csv, Diagnostics, Laplace, ParamLayout, SamplerStats, Transform};

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vi-it-csv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn laplace_output_reads_back_to_the_same_draws() {
    let dir = temp_dir("laplace");
    let m = LinRegKnownNoise::synthetic(40, 3, 0.5, 2);
    let post = Laplace::default()
        .seed(4)
        .draws(300)
        .output(&dir)
        .fit(&m)
        .unwrap();
    let path = dir.join("laplace-1.csv");
    let back = read_csv([&path]).unwrap();
    assert_eq!(back.method(), "Laplace");
    assert_eq!(back.layout().flat_names(), ["w.1", "w.2", "w.3"]);
    // Shortest round-trip decimals: the draws and lp__ come back bit for bit.
    assert_eq!(back.chains(), post.chains());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# model = vi_model\n# method = laplace\n# id = 1\n"));
    assert!(text.contains("\nlp__,log_p__,log_g__,w.1,w.2,w.3\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_cut_mid_line_is_read_to_its_last_complete_draw() {
    let dir = temp_dir("cut");
    let m = CoinToss::new(2.0, 3.0, 7, 10);
    let post = Laplace::default()
        .seed(1)
        .draws(50)
        .output(&dir)
        .fit(&m)
        .unwrap();
    let path = dir.join("laplace-1.csv");
    let bytes = std::fs::read(&path).unwrap();
    // Cut the file in the middle of its last line, as a killed writer may leave it.
    let last_line_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let cut = last_line_start + (bytes.len() - last_line_start) / 2;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let back = read_csv([&path]).unwrap();
    let (got, want) = (&back.chains()[0], &post.chains()[0]);
    assert_eq!(got.lp, want.lp[..49]);
    assert_eq!(got.draws, want.draws[..49]);
    // A malformed line that is not the last is an error naming the file and the line.
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let bad = lines.len() - 10;
    lines[bad] = b"1.5,oops";
    std::fs::write(&path, lines.join(&b'\n')).unwrap();
    let e = read_csv([&path]).unwrap_err();
    assert_eq!(e.line, Some(bad + 1));
    assert!(e.to_string().contains("laplace-1.csv, line"), "{e}");
    assert!(e.to_string().contains("`1.5,oops`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn stats(k: usize) -> SamplerStats {
    SamplerStats {
        accept_stat: 0.5 + 0.01 * k as f64,
        step_size: 0.25,
        tree_depth: 1 + k % 3,
        n_leapfrog: 3 + k,
        divergent: k % 7 == 3,
        energy: 1.0 + k as f64,
    }
}

#[test]
fn nuts_files_keep_their_sampler_statistics_and_matrices_come_back_row_major() {
    let dir = temp_dir("nuts");
    let mut layout = ParamLayout::new();
    layout.push("sigma", vec![], Transform::POSITIVE);
    layout.push("m", vec![2, 3], Transform::Identity);
    let mut paths = Vec::new();
    let mut want = Vec::new();
    for chain in 0..2 {
        let mut w = CsvWriter::create_in(
            &dir,
            CsvMethod::Nuts,
            chain,
            &layout,
            &["max_depth = 3".into()],
        )
        .unwrap()
        .flush_every(4);
        let mut rows = Vec::new();
        for k in 0..20 {
            let x: Vec<f64> = (0..7)
                .map(|j| (chain * 100 + k * 10 + j) as f64 / 8.0)
                .collect();
            w.write_draw(-(k as f64), Some(&stats(k)), &x).unwrap();
            rows.push(x);
        }
        paths.push(w.finish().unwrap());
        want.push(rows);
    }
    assert_eq!(paths[1], dir.join("nuts-2.csv"));
    let back = read_csv(&paths).unwrap();
    let Diagnostics::Nuts(d) = back.diagnostics() else {
        panic!("expected NUTS diagnostics, got {}", back.method())
    };
    assert_eq!(
        back.layout().flat_names()[1..4],
        ["m.1.1", "m.1.2", "m.1.3"]
    );
    for (chain, rows) in want.iter().enumerate() {
        assert_eq!(
            d.chains[chain].sampler,
            (0..20).map(stats).collect::<Vec<_>>()
        );
        assert_eq!(back.chains()[chain].draws, rows.concat());
    }
    // Divergent at k = 3, 10, 17; depth 3 (the file's max_depth) at k = 2, 5, 8, 11, 14, 17.
    assert_eq!(d.divergences, [3, 3]);
    assert_eq!(d.chains[0].max_depth_hits, 6);
    // Convergence diagnostics are recomputed: the chains sit far apart.
    assert!(d.param("m.2.3").unwrap().rhat > 1.5);

    // CmdStan writes matrices column-major: the reader puts them row-major.
    let path = dir.join("cmdstan.csv");
    std::fs::write(
        &path,
        "# method = sample (Default)\nlp__,accept_stat__,m.1.1,m.2.1,m.1.2,m.2.2\n\
         -1,0.9,11,21,12,22\n",
    )
    .unwrap();
    let back = read_csv([&path]).unwrap();
    assert_eq!(back.draws("m").unwrap(), [vec![11.0, 12.0, 21.0, 22.0]]);
    assert_eq!(back.layout().params()[0].shape, [2, 2]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run as a child process by `a_killed_writer_leaves_a_readable_file`: writes a draw every
/// 2 ms for a minute, flushing each.
#[test]
fn child_writes_slowly() {
    let Some(path) = std::env::var_os("VI_CSV_CHILD") else {
        return;
    };
    let mut layout = ParamLayout::new();
    layout.push("w", vec![2], Transform::Identity);
    let mut w = CsvWriter::create(
        std::path::Path::new(&path),
        CsvMethod::Nuts,
        0,
        &layout,
        &[],
    )
    .unwrap();
    for k in 0..30_000 {
        let x = [k as f64 / 3.0, -(k as f64) / 7.0];
        w.write_draw(-(k as f64) / 11.0, Some(&stats(k)), &x)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_killed_writer_leaves_a_readable_file() {
    let dir = temp_dir("killed");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nuts-1.csv");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["csv::child_writes_slowly", "--exact", "--test-threads=1"])
        .env("VI_CSV_CHILD", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some draws are on disk, then kill the writer mid-run (SIGKILL: no chance
    // to clean up).
    let start = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
        if lines > 50 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let back = read_csv([&path]).unwrap();
    let n = back.num_draws();
    assert!(n > 40, "{n} draws read");
    assert!(n < 30_000, "the child finished before it was killed");
    // Every draw read is the one the child wrote.
    let draws = back.draws("w").unwrap();
    for (k, (x, lp)) in draws.iter().zip(&back.chains()[0].lp).enumerate() {
        assert_eq!(x, &[k as f64 / 3.0, -(k as f64) / 7.0]);
        assert_eq!(*lp, -(k as f64) / 11.0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
