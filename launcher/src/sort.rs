//! Sorting through one compiled merge sort. std's `sort*` is compiled again for every element
//! type and comparison (driftsort or ipnsort: 2 to 5 KiB each, about 45 KiB over the
//! launcher's twenty calls); here the sort itself is compiled once, over indices with a `dyn`
//! comparison, and each call adds only the few instructions that put its elements in that
//! order. Stable and O(n log n) like `slice::sort_by`; fast enough for what the launcher sorts
//! (mounts, controllers, a directory's names, an archive's directories, JSON keys), one
//! indirect call per comparison.

use std::cmp::Ordering;

/// Sorts `v` stably by `compare`, as [`slice::sort_by`].
pub fn sort_by<T>(v: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let mut perm = order(v.len(), &mut |a, b| compare(&v[a], &v[b]) == Ordering::Less);
    permute(v, &mut perm);
}

/// Sorts `v` stably by the key `f` gives, as [`slice::sort_by_key`].
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut f: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| f(a).cmp(&f(b)));
}

/// Sorts `v` in ascending order, as [`slice::sort`].
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// The order of `0..n` that `less` sorts into, ties kept in index order: a bottom-up merge
/// sort, with runs of 8 insertion-sorted first.
fn order(n: usize, less: &mut dyn FnMut(usize, usize) -> bool) -> Vec<usize> {
    const RUN: usize = 8;
    let mut a: Vec<usize> = (0..n).collect();
    for run in a.chunks_mut(RUN) {
        for i in 1..run.len() {
            let mut j = i;
            while j > 0 && less(run[j], run[j - 1]) {
                run.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    if n <= RUN {
        return a;
    }
    let mut b = vec![0; n];
    let mut width = RUN;
    while width < n {
        for lo in (0..n).step_by(2 * width) {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j) = (lo, mid);
            for slot in &mut b[lo..hi] {
                // The right run's element goes first only when strictly less: stable.
                if j < hi && (i == mid || less(a[j], a[i])) {
                    *slot = a[j];
                    j += 1;
                } else {
                    *slot = a[i];
                    i += 1;
                }
            }
        }
        std::mem::swap(&mut a, &mut b);
        width *= 2;
    }
    a
}

/// Puts `v[perm[i]]` at `i` for every `i`, one cycle of the permutation at a time (`perm` is
/// used up).
fn permute<T>(v: &mut [T], perm: &mut [usize]) {
    for start in 0..v.len() {
        let mut at = start;
        while perm[at] != at {
            let from = perm[at];
            perm[at] = at;
            if from == start {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), for inputs of every shape.
    fn numbers(n: usize, seed: u64, modulo: u64) -> Vec<u64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % modulo
            })
            .collect()
    }

    #[test]
    fn sorts_like_std_and_is_stable() {
        for n in [0, 1, 2, 7, 8, 9, 16, 17, 63, 64, 65, 100, 1000, 4097] {
            for (seed, modulo) in [(1, 5), (2, 1000), (3, u64::MAX), (4, 1)] {
                // (key, original index): stability shows in the index order of equal keys.
                let mut v: Vec<(u64, usize)> = numbers(n, seed, modulo).into_iter().zip(0..).collect();
                let mut want = v.clone();
                want.sort_by_key(|p| p.0);
                sort_by_key(&mut v, |p| p.0);
                assert_eq!(v, want, "n={n} modulo={modulo}");
            }
        }
        let mut sorted: Vec<u32> = (0..100).collect();
        sort(&mut sorted);
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        let mut reversed: Vec<u32> = (0..100).rev().collect();
        sort(&mut reversed);
        assert_eq!(reversed, sorted);
    }

    #[test]
    fn sorts_owned_values_by_a_comparison() {
        let mut v: Vec<String> = ["web", "db", "cache", "api", "db"].iter().map(|s| s.to_string()).collect();
        sort_by(&mut v, |a, b| b.cmp(a));
        assert_eq!(v, ["web", "db", "db", "cache", "api"]);
    }
}
