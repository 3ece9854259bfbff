//! The order in which the engine runs the nodes that are ready, as torch's engine runs them.
//!
//! torch keeps ready nodes in a `std::priority_queue` ordered by the node's sequence number
//! (the order nodes were made: the latest first), except that a leaf's `AccumulateGrad` has
//! the highest number there is, so a leaf's gradient is accumulated (and its hooks run) as
//! soon as it is ready. Several leaves ready at once tie, and then the order is whatever the
//! heap's algorithm leaves it in: `(a * b).backward()` runs `a`'s hooks before `b`'s,
//! `(a * b * c).backward()` runs `c`'s, `a`'s, `b`'s. So this is that heap, step for step: GNU
//! libstdc++'s `push_heap` and `pop_heap` (torch's x86-64 Linux wheels are built with it),
//! with our node ids (made in order, as sequence numbers are) as the priority.

use super::node::Node;

/// Nodes ready to run, as `(priority, node id)`.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    heap: Vec<(u64, u64)>,
}

impl ReadyQueue {
    /// A queue holding `node`.
    pub fn with(node: &Node) -> ReadyQueue {
        let mut queue = ReadyQueue::default();
        queue.push(node);
        queue
    }

    /// Adds a node that became ready.
    pub fn push(&mut self, node: &Node) {
        let priority = if node.is_accumulate_grad() { u64::MAX } else { node.id() };
        let value = (priority, node.id());
        // (the value from registers: reading back the slot just written stalled the load
        // on the two 8-byte stores)
        self.heap.push(value);
        self.sift_up(self.heap.len() - 1, 0, value);
    }

    /// Takes the node to run next (its id).
    pub fn pop(&mut self) -> Option<u64> {
        let len = self.heap.len();
        if len == 0 {
            return None;
        }
        if len > 1 {
            // pop_heap: the last value leaves its place to the top, which goes to the end
            let value = self.heap[len - 1];
            self.heap[len - 1] = self.heap[0];
            self.adjust(0, len - 1, value);
        }
        self.heap.pop().map(|(_, id)| id)
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// libstdc++'s `__push_heap`: moves `value` up from `hole` while its parent ranks lower.
    fn sift_up(&mut self, mut hole: usize, top: usize, value: (u64, u64)) {
        while hole > top {
            let parent = (hole - 1) / 2;
            if self.heap[parent].0 >= value.0 {
                break;
            }
            self.heap[hole] = self.heap[parent];
            hole = parent;
        }
        self.heap[hole] = value;
    }

    /// libstdc++'s `__adjust_heap` on the first `len` slots: the hole at `hole` goes down to
    /// a leaf along the higher-ranked child (the right one on a tie), then `value` goes up.
    fn adjust(&mut self, mut hole: usize, len: usize, value: (u64, u64)) {
        let top = hole;
        let mut child = hole;
        while child < (len - 1) / 2 {
            child = 2 * (child + 1);
            if self.heap[child].0 < self.heap[child - 1].0 {
                child -= 1;
            }
            self.heap[hole] = self.heap[child];
            hole = child;
        }
        if len.is_multiple_of(2) && len >= 2 && child == (len - 2) / 2 {
            child = 2 * (child + 1);
            self.heap[hole] = self.heap[child - 1];
            hole = child - 1;
        }
        self.sift_up(hole, top, value);
    }
}
