//! State written in place: the versions of every `let mut` vector or matrix written
//! element by element, joined into pieces and renamed to one binding where the piece can
//! live in one vector.

use std::collections::{HashMap, HashSet};

use crate::ir::*;

/// The versions of every `let mut` state, recorded while analysing, to find the vectors and
/// matrices written element by element (`v[i] = e`, `m[(i, j)] += e`) that can be written in
/// place.
///
/// A version is made by a `let mut` or a whole assignment (`v = e`: a new value, a *root*), by
/// an element write (from the version it writes into), or stands for another across a loop
/// (`outer`, `entry`, `last`, `exit` of [`Carried`]) or an `if` (the versions of [`Joined`]).
/// Versions linked by the last two kinds form one piece of state; a piece with one root and
/// at least one element write lives in one vector from its root on, so
/// [`StateVersions::write_in_place`] renames all its versions to the root: a write is then
/// `Let { binding: v, init: Set(Var(v), ..) }` with one binding on both sides, a loop
/// carrying it has all four versions `v`, an `if` joining it all three. The expansion writes
/// such a `Set` into the one vector (with an undo log for the reverse sweep) and carries
/// nothing for it across iterations or branches. A piece with two roots (a loop whose body
/// assigns the whole vector, an `if` assigning it whole in one branch) keeps its versions.
#[derive(Default)]
pub(super) struct StateVersions {
    /// Every version recorded, by id.
    bindings: HashMap<BindingId, Binding>,
    /// Union-find over versions: the pieces of state.
    parent: HashMap<BindingId, BindingId>,
    /// Versions made by a `let mut` or a whole assignment.
    roots: HashSet<BindingId>,
    /// Versions made by an element write.
    elements: HashSet<BindingId>,
}

impl StateVersions {
    pub(super) fn add(&mut self, b: &Binding) {
        self.bindings.entry(b.id).or_insert_with(|| b.clone());
    }

    pub(super) fn find(&self, mut id: BindingId) -> BindingId {
        while let Some(&p) = self.parent.get(&id) {
            if p == id {
                break;
            }
            id = p;
        }
        id
    }

    pub(super) fn union(&mut self, a: BindingId, b: BindingId) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(rb, ra);
        }
    }

    /// `let mut v = e` or `v = e`: a new value.
    pub(super) fn root(&mut self, b: &Binding) {
        self.add(b);
        self.roots.insert(b.id);
    }

    /// `v[i] = e`: version `b` is `prev` with one element replaced.
    pub(super) fn element(&mut self, b: &Binding, prev: &Binding) {
        self.add(b);
        self.add(prev);
        self.elements.insert(b.id);
        self.union(prev.id, b.id);
    }

    /// Versions that stand for one another (across a loop or an `if`).
    pub(super) fn alias(&mut self, bs: &[&Binding]) {
        for b in bs {
            self.add(b);
            self.union(bs[0].id, b.id);
        }
    }

    /// Renames every version of each piece of state written in place to the piece's root.
    pub(super) fn write_in_place(&self, body: &mut [Stmt]) {
        let mut pieces: HashMap<BindingId, Vec<BindingId>> = HashMap::new();
        for &id in self.bindings.keys() {
            pieces.entry(self.find(id)).or_default().push(id);
        }
        let mut rename: HashMap<BindingId, Binding> = HashMap::new();
        for ids in pieces.values() {
            let roots: Vec<BindingId> = ids
                .iter()
                .copied()
                .filter(|i| self.roots.contains(i))
                .collect();
            let written = ids.iter().any(|i| self.elements.contains(i));
            if let ([root], true) = (roots.as_slice(), written) {
                let r = &self.bindings[root];
                for &id in ids {
                    rename.insert(id, r.clone());
                }
            }
        }
        if !rename.is_empty() {
            rename_stmts(body, &rename);
        }
    }
}

fn rename_binding(b: &mut Binding, map: &HashMap<BindingId, Binding>) {
    if let Some(r) = map.get(&b.id) {
        *b = r.clone();
    }
}

fn rename_aexpr(e: &mut AExpr, map: &HashMap<BindingId, Binding>) {
    match e {
        AExpr::Var(b) => rename_binding(b, map),
        AExpr::Data(_) => {}
        AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => rename_aexpr(x, map),
        AExpr::Binary(_, a, b, _) | AExpr::Set(a, _, b, _) => {
            rename_aexpr(a, map);
            rename_aexpr(b, map);
        }
        AExpr::Nary(_, xs, _) => xs.iter_mut().for_each(|x| rename_aexpr(x, map)),
    }
}

fn rename_operand(o: &mut Operand, map: &HashMap<BindingId, Binding>) {
    if let Operand::Active(a) = o {
        rename_aexpr(a, map);
    }
}

fn rename_stmts(stmts: &mut [Stmt], map: &HashMap<BindingId, Binding>) {
    for s in stmts {
        match s {
            Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
                args.iter_mut().for_each(|a| rename_operand(a, map));
            }
            Stmt::Target { value, .. } => rename_operand(value, map),
            Stmt::Density { value, args, .. } => {
                rename_aexpr(value, map);
                args.iter_mut().for_each(|a| rename_operand(a, map));
            }
            Stmt::Let { binding, init, .. } => {
                rename_binding(binding, map);
                rename_aexpr(init, map);
            }
            Stmt::Data(_) | Stmt::At(_) => {}
            Stmt::For { body, carried, .. } => {
                rename_stmts(body, map);
                for c in carried {
                    for b in [&mut c.outer, &mut c.entry, &mut c.last, &mut c.exit] {
                        rename_binding(b, map);
                    }
                }
            }
            Stmt::If {
                then, els, joined, ..
            } => {
                rename_stmts(then, map);
                rename_stmts(els, map);
                for j in joined {
                    for b in [&mut j.then_last, &mut j.else_last, &mut j.exit] {
                        rename_binding(b, map);
                    }
                }
            }
        }
    }
}
