//! The free / full cluster lists and the per-order nonfull / frag lists
//! (`si->free_clusters`, `si->full_clusters`, `si->nonfull_clusters[order]`,
//! `si->frag_clusters[order]`), as intrusive doubly linked
//! lists over cluster indices so that a move is O(1), like `list_move_tail`.

/// Folio orders the allocator serves: 0 up to 9 (`SWAP_NR_ORDERS`, with
/// `THP_SWAP`: up to the PMD order of 4 KiB pages, 512 slots). A map serves
/// orders up to the log2 of its cluster size as well.
pub const SWAP_NR_ORDERS: usize = 10;

/// Which list a cluster is on. A cluster's list is a function of its used
/// count, the order it serves and whether an allocation of that order failed
/// in it, updated under the cluster lock whenever one of them changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListId {
    /// No slot in use (`si->free_clusters`).
    Free,
    /// Every slot in use (`si->full_clusters`).
    Full,
    /// Partly used, serving allocations of this order
    /// (`si->nonfull_clusters[order]`).
    Nonfull(u8),
    /// Partly used, and an allocation of this order found no aligned free
    /// run in it (`si->frag_clusters[order]`).
    Frag(u8),
    /// Off every list: some CPU's current cluster (`CLUSTER_FLAG_NONE` after
    /// `isolate_lock_cluster`).
    Isolated,
}

/// Lists with a head and a tail: free, full, nonfull and frag per order.
const NR_LINKED: usize = 2 + 2 * SWAP_NR_ORDERS;

impl ListId {
    /// The list of a cluster with `used` of `size` slots in use that serves
    /// `order` and is not fragmented (`relocate_cluster`).
    #[inline]
    pub(crate) fn classify(used: u32, size: u32, order: u8) -> ListId {
        if used == 0 {
            ListId::Free
        } else if used == size {
            ListId::Full
        } else {
            ListId::Nonfull(order)
        }
    }

    /// Index into the per-list arrays; `Isolated` is the last.
    #[inline]
    fn index(self) -> usize {
        match self {
            ListId::Free => 0,
            ListId::Full => 1,
            ListId::Nonfull(o) => 2 + o as usize,
            ListId::Frag(o) => 2 + SWAP_NR_ORDERS + o as usize,
            ListId::Isolated => NR_LINKED,
        }
    }

    /// Every linked list (tests only).
    #[cfg(test)]
    fn linked() -> impl Iterator<Item = ListId> {
        let per_order =
            (0..SWAP_NR_ORDERS as u8).flat_map(|o| [ListId::Nonfull(o), ListId::Frag(o)]);
        [ListId::Free, ListId::Full].into_iter().chain(per_order)
    }
}

const NIL: u32 = u32::MAX;

pub(crate) struct ClusterLists {
    next: Box<[u32]>,
    prev: Box<[u32]>,
    on: Box<[ListId]>,
    head: [u32; NR_LINKED],
    tail: [u32; NR_LINKED],
    len: [u32; NR_LINKED + 1],
}

impl ClusterLists {
    /// All clusters, each on the list `initial(c)` gives it, in index order.
    pub(crate) fn new(n: u32, initial: impl Fn(u32) -> ListId) -> Self {
        let mut lists = ClusterLists {
            next: vec![NIL; n as usize].into(),
            prev: vec![NIL; n as usize].into(),
            on: vec![ListId::Free; n as usize].into(),
            head: [NIL; NR_LINKED],
            tail: [NIL; NR_LINKED],
            len: [0; NR_LINKED + 1],
        };
        for c in 0..n {
            lists.push_back(c, initial(c));
        }
        lists
    }

    fn push_back(&mut self, c: u32, l: ListId) {
        let li = l.index();
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
        let li = self.on[c as usize].index();
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
        let c = self.head[l.index()];
        (c != NIL).then_some(c)
    }

    pub(crate) fn len(&self, l: ListId) -> u32 {
        self.len[l.index()]
    }

    pub(crate) fn on(&self, c: u32) -> ListId {
        self.on[c as usize]
    }

    /// Walks every list and checks the links and lengths (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut seen = vec![false; self.on.len()];
        for l in ListId::linked() {
            let (mut c, mut prev, mut n) = (self.head[l.index()], NIL, 0);
            while c != NIL {
                assert!(!seen[c as usize], "cluster {c} on two lists");
                seen[c as usize] = true;
                assert_eq!(self.on[c as usize], l);
                assert_eq!(self.prev[c as usize], prev);
                prev = c;
                c = self.next[c as usize];
                n += 1;
            }
            assert_eq!(self.tail[l.index()], prev);
            assert_eq!(self.len[l.index()], n);
        }
        let isolated = self.on.iter().filter(|&&l| l == ListId::Isolated).count();
        assert_eq!(self.len[ListId::Isolated.index()] as usize, isolated);
        for (c, &l) in self.on.iter().enumerate() {
            assert!(
                seen[c] || l == ListId::Isolated,
                "cluster {c} is on no list"
            );
        }
    }
}
