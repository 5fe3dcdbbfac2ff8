use vi::prelude::*;

/// A user type the constructor cannot look inside.
#[derive(Clone)]
pub struct Table {
    pub rows: Vec<f64>,
}

impl std::ops::Index<usize> for Table {
    type Output = f64;
    fn index(&self, i: usize) -> &f64 {
        &self.rows[i]
    }
}

model! {
    fn tabled(t: &Table, y: &[f64]) {
        let mu ~ Normal(t[0], 1.0);
        y ~ Normal(mu, 1.0);
    }
}

fn main() {}
