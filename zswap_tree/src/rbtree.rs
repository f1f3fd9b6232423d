//! An arena-based red-black tree keyed by `u64`, as `lib/rbtree.c` is used by
//! zswap (`zswap_rb_search`, `zswap_rb_insert`, `zswap_rb_erase`).
//!
//! Nodes live in a `Vec` and link to each other by `u32` index; erased nodes go
//! on a free list and are reused. Erasure relinks nodes (as `rb_erase` does)
//! instead of moving keys and values between nodes, so a [`NodeId`] stays valid
//! until its own node is erased. `ZswapTree` relies on that to thread its LRU
//! list through the tree's values.
//!
//! The tree is not synchronised: `ZswapTree` keeps each one under a lock.
//! [`RbTree::check_invariants`] verifies the five red-black properties plus
//! the parent links and the length; the tests call it after every operation.

use std::fmt;

const NIL: u32 = u32::MAX;

/// A stable handle on a node of an [`RbTree`], valid until that node is erased.
///
/// Handles of erased nodes may be reused by later insertions; using a stale
/// handle is a logic error that the accessors report with `None` only when the
/// slot is free (they cannot tell a reused slot from the original).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(u32);

#[derive(Debug)]
struct Node<V> {
    key: u64,
    parent: u32,
    left: u32,
    right: u32,
    red: bool,
    /// `None` while the node is on the free list (then `right` links the list).
    value: Option<V>,
}

/// A red-black tree mapping `u64` keys to values of type `V`.
pub struct RbTree<V> {
    nodes: Vec<Node<V>>,
    root: u32,
    free: u32,
    len: usize,
}

/// A violated red-black tree property, as found by [`RbTree::check_invariants`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvariantError {
    /// The root node is red.
    RedRoot {
        /// The root's key.
        key: u64,
    },
    /// A red node has a red child.
    RedRed {
        /// The parent's key.
        parent: u64,
        /// The child's key.
        child: u64,
    },
    /// Two paths below a node hold different numbers of black nodes.
    BlackHeight {
        /// The node's key.
        key: u64,
        /// Black height of the left subtree.
        left: usize,
        /// Black height of the right subtree.
        right: usize,
    },
    /// An in-order walk met a key not greater than the previous one.
    Order {
        /// The earlier key.
        prev: u64,
        /// The key that follows it.
        next: u64,
    },
    /// A node's parent link does not point at the node that links to it.
    Parent {
        /// The node's key.
        key: u64,
    },
    /// The reachable node count differs from `len()`.
    Len {
        /// Nodes reachable from the root.
        reachable: usize,
        /// The recorded length.
        len: usize,
    },
    /// A link points at a free or out-of-range slot.
    Dangling {
        /// The slot index.
        index: u32,
    },
}

impl fmt::Display for InvariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RedRoot { key } => write!(f, "root {key} is red"),
            Self::RedRed { parent, child } => write!(f, "red node {parent} has red child {child}"),
            Self::BlackHeight { key, left, right } => {
                write!(f, "black height below {key}: left {left}, right {right}")
            }
            Self::Order { prev, next } => write!(f, "key {next} follows {prev} in order"),
            Self::Parent { key } => write!(f, "parent link of {key} is inconsistent"),
            Self::Len { reachable, len } => write!(f, "{reachable} nodes reachable, len {len}"),
            Self::Dangling { index } => write!(f, "link to free or missing slot {index}"),
        }
    }
}

impl std::error::Error for InvariantError {}

impl<V> Default for RbTree<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: fmt::Debug> fmt::Debug for RbTree<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> RbTree<V> {
    /// An empty tree.
    pub const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            root: NIL,
            free: NIL,
            len: 0,
        }
    }

    /// An empty tree with room for `capacity` nodes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(capacity),
            root: NIL,
            free: NIL,
            len: 0,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    // --- link helpers (NIL-tolerant where the algorithms need it) ---

    fn n(&self, i: u32) -> &Node<V> {
        &self.nodes[i as usize]
    }

    fn nm(&mut self, i: u32) -> &mut Node<V> {
        &mut self.nodes[i as usize]
    }

    fn is_red(&self, i: u32) -> bool {
        // NIL (u32::MAX) is never a slot index: one check covers both.
        self.nodes.get(i as usize).is_some_and(|n| n.red)
    }

    fn parent(&self, i: u32) -> u32 {
        self.n(i).parent
    }

    fn left(&self, i: u32) -> u32 {
        self.n(i).left
    }

    fn right(&self, i: u32) -> u32 {
        self.n(i).right
    }

    fn set_parent(&mut self, i: u32, p: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.parent = p;
        }
    }

    fn find_index(&self, key: u64) -> u32 {
        let mut cur = self.root;
        // NIL (u32::MAX) is never a slot index: `get` ends the walk at it
        // and does the bounds check in the same comparison.
        while let Some(node) = self.nodes.get(cur as usize) {
            if key == node.key {
                return cur;
            }
            cur = if key < node.key {
                node.left
            } else {
                node.right
            };
        }
        NIL
    }

    fn min_below(&self, mut i: u32) -> u32 {
        while self.left(i) != NIL {
            i = self.left(i);
        }
        i
    }

    fn live(&self, id: NodeId) -> Option<&Node<V>> {
        self.nodes.get(id.0 as usize).filter(|n| n.value.is_some())
    }

    // --- lookups ---

    /// The node holding `key` (`zswap_rb_search`).
    pub fn find(&self, key: u64) -> Option<NodeId> {
        let i = self.find_index(key);
        (i != NIL).then_some(NodeId(i))
    }

    /// The value stored under `key`.
    pub fn get(&self, key: u64) -> Option<&V> {
        let i = self.find_index(key);
        if i == NIL {
            None
        } else {
            self.n(i).value.as_ref()
        }
    }

    /// The value stored under `key`, mutably.
    pub fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        let i = self.find_index(key);
        if i == NIL {
            None
        } else {
            self.nm(i).value.as_mut()
        }
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: u64) -> bool {
        self.find_index(key) != NIL
    }

    /// Key and value of a live node.
    pub fn node(&self, id: NodeId) -> Option<(u64, &V)> {
        self.live(id)
            .and_then(|n| n.value.as_ref().map(|v| (n.key, v)))
    }

    /// Value of a live node, mutably.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut V> {
        self.nodes
            .get_mut(id.0 as usize)
            .and_then(|n| n.value.as_mut())
    }

    /// The smallest key and its value.
    pub fn first(&self) -> Option<(u64, &V)> {
        if self.root == NIL {
            return None;
        }
        self.node(NodeId(self.min_below(self.root)))
    }

    /// In-order iterator over `(key, &value)`.
    pub fn iter(&self) -> Iter<'_, V> {
        let next = if self.root == NIL {
            NIL
        } else {
            self.min_below(self.root)
        };
        Iter {
            tree: self,
            next,
            remaining: self.len,
        }
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(k, _)| k)
    }

    // --- rotations ---

    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NIL {
            self.root = new;
        } else if self.left(parent) == old {
            self.nm(parent).left = new;
        } else {
            self.nm(parent).right = new;
        }
    }

    fn rotate_left(&mut self, x: u32) {
        let y = self.right(x);
        let yl = self.left(y);
        self.nm(x).right = yl;
        self.set_parent(yl, x);
        let xp = self.parent(x);
        self.nm(y).parent = xp;
        self.replace_child(xp, x, y);
        self.nm(y).left = x;
        self.nm(x).parent = y;
    }

    fn rotate_right(&mut self, x: u32) {
        let y = self.left(x);
        let yr = self.right(y);
        self.nm(x).left = yr;
        self.set_parent(yr, x);
        let xp = self.parent(x);
        self.nm(y).parent = xp;
        self.replace_child(xp, x, y);
        self.nm(y).right = x;
        self.nm(x).parent = y;
    }

    // --- insertion ---

    fn alloc(&mut self, key: u64, parent: u32, value: V) -> u32 {
        let node = Node {
            key,
            parent,
            left: NIL,
            right: NIL,
            red: true,
            value: Some(value),
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.right(i);
            self.nodes[i as usize] = node;
            i
        } else {
            let i = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("RbTree holds at most u32::MAX - 1 nodes");
            self.nodes.push(node);
            i
        }
    }

    /// Inserts `value` under `key`; if `key` was present, its value is
    /// replaced in place and the old one returned. Returns the node's handle.
    ///
    /// # Panics
    /// If the tree would hold more than `u32::MAX - 1` nodes.
    pub fn insert_node(&mut self, key: u64, value: V) -> (NodeId, Option<V>) {
        let mut parent = NIL;
        let mut cur = self.root;
        let mut go_left = false;
        while cur != NIL {
            parent = cur;
            let node = self.nm(cur);
            match key.cmp(&node.key) {
                std::cmp::Ordering::Less => {
                    go_left = true;
                    cur = node.left;
                }
                std::cmp::Ordering::Greater => {
                    go_left = false;
                    cur = node.right;
                }
                std::cmp::Ordering::Equal => {
                    let old = node.value.replace(value);
                    return (NodeId(cur), old);
                }
            }
        }
        let z = self.alloc(key, parent, value);
        if parent == NIL {
            self.root = z;
        } else if go_left {
            self.nm(parent).left = z;
        } else {
            self.nm(parent).right = z;
        }
        self.len += 1;
        self.insert_fixup(z);
        (NodeId(z), None)
    }

    /// Inserts `value` under `key`, returning the value it replaces.
    ///
    /// # Panics
    /// If the tree would hold more than `u32::MAX - 1` nodes.
    pub fn insert(&mut self, key: u64, value: V) -> Option<V> {
        self.insert_node(key, value).1
    }

    fn insert_fixup(&mut self, mut z: u32) {
        while self.is_red(self.parent(z)) {
            let p = self.parent(z);
            // p is red, so it is not the root: g exists.
            let g = self.parent(p);
            if p == self.left(g) {
                let u = self.right(g);
                if self.is_red(u) {
                    self.nm(p).red = false;
                    self.nm(u).red = false;
                    self.nm(g).red = true;
                    z = g;
                } else {
                    if z == self.right(p) {
                        z = p;
                        self.rotate_left(z);
                    }
                    let p = self.parent(z);
                    let g = self.parent(p);
                    self.nm(p).red = false;
                    self.nm(g).red = true;
                    self.rotate_right(g);
                }
            } else {
                let u = self.left(g);
                if self.is_red(u) {
                    self.nm(p).red = false;
                    self.nm(u).red = false;
                    self.nm(g).red = true;
                    z = g;
                } else {
                    if z == self.left(p) {
                        z = p;
                        self.rotate_right(z);
                    }
                    let p = self.parent(z);
                    let g = self.parent(p);
                    self.nm(p).red = false;
                    self.nm(g).red = true;
                    self.rotate_left(g);
                }
            }
        }
        let root = self.root;
        self.nm(root).red = false;
    }

    // --- erasure ---

    /// Erases the node `id`, returning its key and value (`zswap_rb_erase`).
    /// Returns `None` if `id` names a free slot.
    pub fn remove_node(&mut self, id: NodeId) -> Option<(u64, V)> {
        let z = id.0;
        let Node {
            parent: zp,
            left: zl,
            right: zr,
            red: z_red,
            ..
        } = *self.live(id)?;
        let mut removed_red = z_red;
        let x;
        let xp;
        if zl == NIL || zr == NIL {
            x = if zl == NIL { zr } else { zl };
            xp = zp;
            self.replace_child(zp, z, x);
            self.set_parent(x, zp);
        } else {
            let y = self.min_below(zr);
            let Node {
                parent: yp,
                right: yr,
                red: y_red,
                ..
            } = *self.n(y);
            removed_red = y_red;
            x = yr;
            if yp == z {
                xp = y;
            } else {
                xp = yp;
                self.replace_child(yp, y, x);
                self.set_parent(x, yp);
                self.nm(y).right = zr;
                self.nm(zr).parent = y;
            }
            self.replace_child(zp, z, y);
            let yn = self.nm(y);
            yn.parent = zp;
            yn.left = zl;
            yn.red = z_red;
            self.nm(zl).parent = y;
        }
        if !removed_red {
            self.erase_fixup(x, xp);
        }
        self.len -= 1;
        let free = self.free;
        let node = self.nm(z);
        let key = node.key;
        let value = node.value.take();
        node.left = NIL;
        node.parent = NIL;
        node.right = free;
        node.red = false;
        self.free = z;
        value.map(|v| (key, v))
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        let i = self.find_index(key);
        if i == NIL {
            None
        } else {
            self.remove_node(NodeId(i)).map(|(_, v)| v)
        }
    }

    fn erase_fixup(&mut self, mut x: u32, mut xp: u32) {
        while x != self.root && !self.is_red(x) {
            // x is "doubly black"; its sibling exists because the removed
            // black node left a non-zero black height on the other side.
            if x == self.left(xp) {
                let mut w = self.right(xp);
                if self.is_red(w) {
                    self.nm(w).red = false;
                    self.nm(xp).red = true;
                    self.rotate_left(xp);
                    w = self.right(xp);
                }
                if !self.is_red(self.left(w)) && !self.is_red(self.right(w)) {
                    self.nm(w).red = true;
                    x = xp;
                    xp = self.parent(x);
                } else {
                    if !self.is_red(self.right(w)) {
                        let wl = self.left(w);
                        self.nm(wl).red = false;
                        self.nm(w).red = true;
                        self.rotate_right(w);
                        w = self.right(xp);
                    }
                    self.nm(w).red = self.n(xp).red;
                    self.nm(xp).red = false;
                    let wr = self.right(w);
                    self.nm(wr).red = false;
                    self.rotate_left(xp);
                    x = self.root;
                    xp = NIL;
                }
            } else {
                let mut w = self.left(xp);
                if self.is_red(w) {
                    self.nm(w).red = false;
                    self.nm(xp).red = true;
                    self.rotate_right(xp);
                    w = self.left(xp);
                }
                if !self.is_red(self.left(w)) && !self.is_red(self.right(w)) {
                    self.nm(w).red = true;
                    x = xp;
                    xp = self.parent(x);
                } else {
                    if !self.is_red(self.left(w)) {
                        let wr = self.right(w);
                        self.nm(wr).red = false;
                        self.nm(w).red = true;
                        self.rotate_left(w);
                        w = self.left(xp);
                    }
                    self.nm(w).red = self.n(xp).red;
                    self.nm(xp).red = false;
                    let wl = self.left(w);
                    self.nm(wl).red = false;
                    self.rotate_right(xp);
                    x = self.root;
                    xp = NIL;
                }
            }
        }
        if x != NIL {
            self.nm(x).red = false;
        }
    }

    /// Removes every key, keeping the arena's capacity.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.root = NIL;
        self.free = NIL;
        self.len = 0;
    }

    /// Removes every key and returns the `(key, value)` pairs in key order.
    pub fn drain(&mut self) -> Vec<(u64, V)> {
        let mut out = Vec::with_capacity(self.len);
        let mut i = if self.root == NIL {
            NIL
        } else {
            self.min_below(self.root)
        };
        while i != NIL {
            let next = self.successor(i);
            let node = self.nm(i);
            if let Some(v) = node.value.take() {
                out.push((node.key, v));
            }
            i = next;
        }
        self.clear();
        out
    }

    fn successor(&self, i: u32) -> u32 {
        if self.right(i) != NIL {
            return self.min_below(self.right(i));
        }
        let mut cur = i;
        let mut p = self.parent(cur);
        while p != NIL && cur == self.right(p) {
            cur = p;
            p = self.parent(p);
        }
        p
    }

    // --- checking ---

    fn checked(&self, i: u32) -> Result<&Node<V>, InvariantError> {
        self.nodes
            .get(i as usize)
            .filter(|n| n.value.is_some())
            .ok_or(InvariantError::Dangling { index: i })
    }

    /// Verifies the red-black properties: the root is black and has no
    /// parent, no red node has a red child, every root-to-leaf path holds the
    /// same number of black nodes, keys are strictly increasing in order,
    /// every child's parent link points back, and `len()` nodes are reachable.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        if self.root == NIL {
            if self.len != 0 {
                return Err(InvariantError::Len {
                    reachable: 0,
                    len: self.len,
                });
            }
            return Ok(());
        }
        let root = self.checked(self.root)?;
        if root.red {
            return Err(InvariantError::RedRoot { key: root.key });
        }
        if root.parent != NIL {
            return Err(InvariantError::Parent { key: root.key });
        }
        // Iterative post-order walk (no recursion: depth is bounded by
        // 2 log2(n) anyway, but an invalid tree could be deep).
        let mut reachable = 0usize;
        let mut prev_key: Option<u64> = None;
        // Stack of (node, state): state 0 = descend left, 1 = visit + right, 2 = done.
        let mut stack: Vec<(u32, u8)> = vec![(self.root, 0)];
        let mut heights: Vec<usize> = Vec::new();
        while let Some(&(i, state)) = stack.last() {
            let node = self.checked(i)?;
            let top = stack.len() - 1;
            match state {
                0 => {
                    stack[top].1 = 1;
                    if node.left != NIL {
                        self.check_child(node, node.left, i)?;
                        stack.push((node.left, 0));
                    } else {
                        heights.push(1);
                    }
                }
                1 => {
                    stack[top].1 = 2;
                    reachable += 1;
                    if reachable > self.nodes.len() {
                        return Err(InvariantError::Len {
                            reachable,
                            len: self.len,
                        });
                    }
                    if let Some(prev) = prev_key
                        && prev >= node.key
                    {
                        return Err(InvariantError::Order {
                            prev,
                            next: node.key,
                        });
                    }
                    prev_key = Some(node.key);
                    if node.right != NIL {
                        self.check_child(node, node.right, i)?;
                        stack.push((node.right, 0));
                    } else {
                        heights.push(1);
                    }
                }
                _ => {
                    stack.pop();
                    let right = heights.pop().unwrap_or(0);
                    let left = heights.pop().unwrap_or(0);
                    if left != right {
                        return Err(InvariantError::BlackHeight {
                            key: node.key,
                            left,
                            right,
                        });
                    }
                    heights.push(left + usize::from(!node.red));
                }
            }
        }
        if reachable != self.len {
            return Err(InvariantError::Len {
                reachable,
                len: self.len,
            });
        }
        Ok(())
    }

    fn check_child(
        &self,
        parent: &Node<V>,
        child: u32,
        parent_index: u32,
    ) -> Result<(), InvariantError> {
        let c = self.checked(child)?;
        if c.parent != parent_index {
            return Err(InvariantError::Parent { key: c.key });
        }
        if parent.red && c.red {
            return Err(InvariantError::RedRed {
                parent: parent.key,
                child: c.key,
            });
        }
        Ok(())
    }

    /// Test hook: flips the colour of the node holding `key`.
    #[cfg(test)]
    pub(crate) fn flip_colour(&mut self, key: u64) {
        let i = self.find_index(key);
        self.nm(i).red ^= true;
    }

    /// Test hook: overwrites the key of the node holding `key`.
    #[cfg(test)]
    pub(crate) fn set_key(&mut self, key: u64, new_key: u64) {
        let i = self.find_index(key);
        self.nm(i).key = new_key;
    }

    /// Test hook: points the root's left child's parent link at itself.
    #[cfg(test)]
    pub(crate) fn break_parent_link(&mut self) {
        let l = self.left(self.root);
        self.nm(l).parent = l;
    }
}

/// In-order iterator over an [`RbTree`], from [`RbTree::iter`].
pub struct Iter<'a, V> {
    tree: &'a RbTree<V>,
    next: u32,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (u64, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == NIL {
            return None;
        }
        let i = self.next;
        self.next = self.tree.successor(i);
        self.remaining = self.remaining.saturating_sub(1);
        let node = self.tree.n(i);
        node.value.as_ref().map(|v| (node.key, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a, V> IntoIterator for &'a RbTree<V> {
    type Item = (u64, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn check<V>(t: &RbTree<V>) {
        if let Err(e) = t.check_invariants() {
            panic!("invariant violated: {e}");
        }
    }

    #[test]
    fn ascending_descending_and_reuse() {
        let mut t = RbTree::new();
        for k in 0..200u64 {
            assert_eq!(t.insert(k, k * 10), None);
            check(&t);
        }
        for k in (0..200u64).rev().step_by(2) {
            assert_eq!(t.remove(k), Some(k * 10));
            check(&t);
        }
        assert_eq!(t.len(), 100);
        let arena = t.nodes.len();
        for k in 1000..1100u64 {
            t.insert(k, k);
            check(&t);
        }
        assert_eq!(t.nodes.len(), arena, "freed slots are reused");
        assert_eq!(t.keys().count(), 200);
        assert!(t.keys().zip(t.keys().skip(1)).all(|(a, b)| a < b));
        assert_eq!(t.first(), Some((0, &0)));
    }

    #[test]
    fn handles_survive_other_erasures() {
        let mut t = RbTree::new();
        let ids: Vec<_> = (0..64u64).map(|k| t.insert_node(k, k).0).collect();
        for k in (0..64u64).filter(|k| k % 3 != 0) {
            t.remove(k);
            check(&t);
        }
        for k in (0..64u64).step_by(3) {
            assert_eq!(t.node(ids[k as usize]), Some((k, &k)));
        }
        let (k, v) = t.remove_node(ids[3]).unwrap();
        assert_eq!((k, v), (3, 3));
        assert_eq!(t.remove_node(ids[3]), None, "a freed handle is refused");
        check(&t);
    }

    #[test]
    fn replace_keeps_node() {
        let mut t = RbTree::new();
        let (a, none) = t.insert_node(5, "a");
        assert!(none.is_none());
        let (b, old) = t.insert_node(5, "b");
        assert_eq!((a, old), (b, Some("a")));
        assert_eq!(t.len(), 1);
        assert_eq!(t.drain(), vec![(5, "b")]);
        assert!(t.is_empty());
        check(&t);
    }

    fn sample() -> RbTree<()> {
        let mut t = RbTree::new();
        for k in [50u64, 20, 80, 10, 30, 70, 90, 5, 15] {
            t.insert(k, ());
        }
        check(&t);
        t
    }

    #[test]
    fn checker_reports_red_root() {
        let mut t = sample();
        let root = t.n(t.root).key;
        t.flip_colour(root);
        assert_eq!(
            t.check_invariants(),
            Err(InvariantError::RedRoot { key: root })
        );
    }

    #[test]
    fn checker_reports_black_height_or_red_red() {
        let mut t = sample();
        // Recolouring any single non-root node breaks black height or red-red.
        for k in [20u64, 80, 10, 30, 5, 15, 70, 90] {
            t.flip_colour(k);
            assert!(matches!(
                t.check_invariants(),
                Err(InvariantError::BlackHeight { .. } | InvariantError::RedRed { .. })
            ));
            t.flip_colour(k);
            check(&t);
        }
    }

    #[test]
    fn checker_reports_order_and_parent() {
        let mut t = sample();
        t.set_key(30, 60);
        assert!(matches!(
            t.check_invariants(),
            Err(InvariantError::Order { .. })
        ));
        let mut t = sample();
        t.break_parent_link();
        assert!(matches!(
            t.check_invariants(),
            Err(InvariantError::Parent { .. })
        ));
        let mut t = sample();
        t.len += 1;
        assert!(matches!(
            t.check_invariants(),
            Err(InvariantError::Len { .. })
        ));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
        Get(u64),
        RemoveFirst,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Small key space so that replaces and removes of present keys happen.
        let key = 0u64..256;
        prop_oneof![
            4 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => key.clone().prop_map(Op::Remove),
            2 => key.prop_map(Op::Get),
            1 => Just(Op::RemoveFirst),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 256 }))]

        #[test]
        fn matches_btreemap(ops in proptest::collection::vec(op(), 1..400)) {
            let mut t = RbTree::new();
            let mut m = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(t.insert(k, v), m.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(t.remove(k), m.remove(&k)),
                    Op::Get(k) => prop_assert_eq!(t.get(k), m.get(&k)),
                    Op::RemoveFirst => {
                        let first = t.first().map(|(k, _)| k);
                        prop_assert_eq!(first, m.keys().next().copied());
                        if let Some(k) = first {
                            let id = t.find(k).unwrap();
                            prop_assert_eq!(t.remove_node(id).map(|(_, v)| v), m.remove(&k));
                        }
                    }
                }
                if let Err(e) = t.check_invariants() {
                    return Err(TestCaseError::fail(format!("{e}")));
                }
                prop_assert_eq!(t.len(), m.len());
            }
            let ours: Vec<_> = t.iter().map(|(k, v)| (k, *v)).collect();
            let theirs: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(ours, theirs);
        }
    }
}
