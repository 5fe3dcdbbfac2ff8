use std::collections::HashMap;
use vi::prelude::*;

model! {
    fn m(y: &[f64], names: &[String], table: &HashMap<String, f64>, flags: &[bool]) {
        let w ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(y.len());
        y ~ Normal(w * names.len() as f64, 1.0);
        target += dot(v, &names[1..]);
        target += sum(flags * v);
        y ~ Normal(table.get("a").copied().unwrap_or(0.0) + table * w, 1.0);
    }
}

fn main() {}
