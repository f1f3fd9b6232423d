//! The free / nonfull / full cluster lists (`si->free_clusters`,
//! `si->nonfull_clusters`, `si->full_clusters`), as intrusive doubly linked
//! lists over cluster indices so that a move is O(1), like `list_move_tail`.

/// Which list a cluster is on. A cluster's list is a function of its used
/// count, updated under the cluster lock whenever the count crosses a
/// boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListId {
    Free = 0,
    Nonfull = 1,
    Full = 2,
    /// Off every list: some CPU's current cluster (`CLUSTER_FLAG_NONE` after
    /// `isolate_lock_cluster`).
    Isolated = 3,
}

impl ListId {
    #[inline]
    pub(crate) fn classify(used: u32, size: u32) -> ListId {
        if used == 0 {
            ListId::Free
        } else if used == size {
            ListId::Full
        } else {
            ListId::Nonfull
        }
    }
}

const NIL: u32 = u32::MAX;

pub(crate) struct ClusterLists {
    next: Box<[u32]>,
    prev: Box<[u32]>,
    on: Box<[ListId]>,
    head: [u32; 3],
    tail: [u32; 3],
    len: [u32; 4],
}

impl ClusterLists {
    /// All clusters, each on the list `initial(c)` gives it, in index order.
    pub(crate) fn new(n: u32, initial: impl Fn(u32) -> ListId) -> Self {
        let mut lists = ClusterLists {
            next: vec![NIL; n as usize].into(),
            prev: vec![NIL; n as usize].into(),
            on: vec![ListId::Free; n as usize].into(),
            head: [NIL; 3],
            tail: [NIL; 3],
            len: [0; 4],
        };
        for c in 0..n {
            lists.push_back(c, initial(c));
        }
        lists
    }

    fn push_back(&mut self, c: u32, l: ListId) {
        let li = l as usize;
        self.on[c as usize] = l;
        self.len[li] += 1;
        if l == ListId::Isolated {
            return;
        }
        self.next[c as usize] = NIL;
        self.prev[c as usize] = self.tail[li];
        if self.tail[li] == NIL {
            self.head[li] = c;
        } else {
            self.next[self.tail[li] as usize] = c;
        }
        self.tail[li] = c;
    }

    fn unlink(&mut self, c: u32) {
        let li = self.on[c as usize] as usize;
        self.len[li] -= 1;
        if self.on[c as usize] == ListId::Isolated {
            return;
        }
        let (p, n) = (self.prev[c as usize], self.next[c as usize]);
        if p == NIL {
            self.head[li] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail[li] = p;
        } else {
            self.prev[n as usize] = p;
        }
    }

    /// Moves `c` to the tail of `l` (`move_cluster`).
    pub(crate) fn move_to(&mut self, c: u32, l: ListId) {
        self.unlink(c);
        self.push_back(c, l);
    }

    /// The first cluster of list `l`.
    pub(crate) fn head(&self, l: ListId) -> Option<u32> {
        let c = self.head[l as usize];
        (c != NIL).then_some(c)
    }

    pub(crate) fn len(&self, l: ListId) -> u32 {
        self.len[l as usize]
    }

    pub(crate) fn on(&self, c: u32) -> ListId {
        self.on[c as usize]
    }

    /// Walks every list and checks the links and lengths (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut seen = vec![false; self.on.len()];
        for l in [ListId::Free, ListId::Nonfull, ListId::Full] {
            let (mut c, mut prev, mut n) = (self.head[l as usize], NIL, 0);
            while c != NIL {
                assert!(!seen[c as usize], "cluster {c} on two lists");
                seen[c as usize] = true;
                assert_eq!(self.on[c as usize], l);
                assert_eq!(self.prev[c as usize], prev);
                prev = c;
                c = self.next[c as usize];
                n += 1;
            }
            assert_eq!(self.tail[l as usize], prev);
            assert_eq!(self.len[l as usize], n);
        }
        let isolated = self.on.iter().filter(|&&l| l == ListId::Isolated).count();
        assert_eq!(self.len[ListId::Isolated as usize] as usize, isolated);
        for (c, &l) in self.on.iter().enumerate() {
            assert!(
                seen[c] || l == ListId::Isolated,
                "cluster {c} is on no list"
            );
        }
    }
}
