//! Behaviours of python `priority`'s test suite, ported, plus regression tests for the
//! python defects h2kit fixes.

use std::collections::HashMap;

use h2kit_priority::{PriorityError, PriorityTree};

fn check(t: &PriorityTree) {
    if let Err(e) = t.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

/// The tree from python priority's README:
/// root -> 1 -> 5; root -> 3; root -> 7 (w32) -> 11 -> 9 (w8).
fn readme_tree() -> PriorityTree {
    let mut p = PriorityTree::new();
    p.insert_stream(1, None, 16, false).unwrap();
    p.insert_stream(3, None, 16, false).unwrap();
    p.insert_stream(5, Some(1), 16, false).unwrap();
    p.insert_stream(7, None, 32, false).unwrap();
    p.insert_stream(9, Some(7), 8, false).unwrap();
    p.insert_stream(11, Some(7), 16, true).unwrap();
    check(&p);
    p
}

fn picks(t: &mut PriorityTree, n: usize) -> Vec<u32> {
    (0..n).map(|_| t.next().unwrap()).collect()
}

/// python's `active_readme_streams_from_filter`: walking the README tree in order, the
/// first unblocked stream on each path.
fn readme_active(blocked: &[u32]) -> Vec<u32> {
    // Each stream of the README tree has at most one child, so the tree is three paths.
    let paths: [&[u32]; 3] = [&[1, 5], &[3], &[7, 11, 9]];
    paths
        .iter()
        .filter_map(|path| path.iter().copied().find(|id| !blocked.contains(id)))
        .collect()
}

fn subsets() -> impl Iterator<Item = Vec<u32>> {
    let ids = [1, 3, 5, 7, 9, 11];
    (0u32..64).map(move |mask| {
        ids.iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, &id)| id)
            .collect()
    })
}

#[test]
fn initially_outputs_active_streams_in_id_order() {
    for blocked in subsets() {
        let mut t = readme_tree();
        for &id in &blocked {
            t.block(id).unwrap();
        }
        check(&t);
        let expected = readme_active(&blocked);
        if expected.is_empty() {
            assert_eq!(t.next(), Err(PriorityError::Deadlock));
        } else {
            assert_eq!(
                picks(&mut t, expected.len()),
                expected,
                "blocked {blocked:?}"
            );
        }
    }
}

#[test]
fn blocking_everything_then_unblocking_is_isomorphic() {
    for allowed in subsets() {
        let mut t = readme_tree();
        for id in (1..12).step_by(2) {
            t.block(id).unwrap();
        }
        for &id in &allowed {
            t.unblock(id).unwrap();
        }
        check(&t);
        let blocked: Vec<u32> = [1, 3, 5, 7, 9, 11]
            .into_iter()
            .filter(|id| !allowed.contains(id))
            .collect();
        let expected = readme_active(&blocked);
        if !expected.is_empty() {
            assert_eq!(
                picks(&mut t, expected.len()),
                expected,
                "allowed {allowed:?}"
            );
        }
    }
}

#[test]
fn removing_streams_behaves_like_blocking_them() {
    for removed in subsets() {
        let mut t = readme_tree();
        for &id in &removed {
            t.remove_stream(id).unwrap();
            check(&t);
        }
        // Removal re-parents children, so the streams served are the same as when the
        // removed ones are blocked; only the order may differ.
        let mut expected = readme_active(&removed);
        let mut got = picks(&mut t, expected.len());
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected, "removed {removed:?}");
        if expected.is_empty() {
            assert!(t.is_empty());
        }
    }
}

#[test]
fn deadlock_when_all_blocked() {
    let mut t = readme_tree();
    for id in (1..12).step_by(2) {
        t.block(id).unwrap();
    }
    assert_eq!(t.next(), Err(PriorityError::Deadlock));
    assert_eq!(PriorityTree::new().next(), Err(PriorityError::Deadlock));
    t.unblock(9).unwrap();
    assert_eq!(picks(&mut t, 3), [9, 9, 9]);
}

#[test]
fn can_reprioritize_a_stream() {
    // (stream, new parent, exclusive, weight, blocked, expected picks), from python.
    #[allow(clippy::type_complexity)]
    let cases: &[(u32, Option<u32>, bool, u16, &[u32], &[u32])] = &[
        (1, Some(3), false, 16, &[], &[3, 7, 7, 3, 7, 7, 3, 7, 7]),
        (1, Some(5), false, 16, &[], &[3, 5, 7, 7, 3, 5, 7, 7, 3]),
        (1, Some(5), false, 16, &[5], &[3, 1, 7, 7, 3, 1, 7, 7, 3]),
        (
            5,
            Some(7),
            false,
            16,
            &[7, 1],
            &[3, 5, 11, 3, 5, 11, 3, 5, 11],
        ),
        (11, None, false, 16, &[], &[1, 3, 7, 11, 7, 1, 3, 7, 11]),
        (11, None, false, 16, &[11], &[1, 3, 7, 9, 7, 1, 3, 7, 9]),
        (7, Some(9), false, 16, &[], &[1, 3, 9, 1, 3, 1, 3, 9, 1]),
        (7, Some(1), true, 16, &[], &[1, 3, 1, 3, 1, 3, 1, 3, 1]),
        (7, Some(1), true, 16, &[1], &[7, 3, 7, 3, 7, 3, 7, 3, 7]),
        (
            7,
            Some(1),
            true,
            16,
            &[1, 7],
            &[5, 3, 11, 3, 5, 3, 11, 3, 5],
        ),
        (1, Some(0), false, 32, &[], &[1, 3, 7, 1, 7, 1, 3, 7, 1]),
    ];
    for &(stream, parent, exclusive, weight, blocked, expected) in cases {
        let mut t = readme_tree();
        for &id in blocked {
            t.block(id).unwrap();
        }
        t.reprioritize(stream, parent, weight, exclusive).unwrap();
        check(&t);
        assert_eq!(
            picks(&mut t, expected.len()),
            expected,
            "reprioritize({stream}, {parent:?}, {weight}, {exclusive}) with {blocked:?} blocked"
        );
    }
}

#[test]
fn duplicate_and_missing_streams_are_errors() {
    let mut p = PriorityTree::new();
    p.insert_stream(1, None, 16, false).unwrap();
    assert_eq!(
        p.insert_stream(1, None, 16, false),
        Err(PriorityError::Duplicate(1))
    );
    assert_eq!(
        p.reprioritize(3, None, 16, false),
        Err(PriorityError::Missing(3))
    );
    assert_eq!(p.block(3), Err(PriorityError::Missing(3)));
    assert_eq!(p.unblock(3), Err(PriorityError::Missing(3)));
    assert_eq!(p.remove_stream(3), Err(PriorityError::Missing(3)));
    p.remove_stream(1).unwrap();
    assert_eq!(
        p.remove_stream(1),
        Err(PriorityError::Missing(1)),
        "not idempotent"
    );
    check(&p);
}

#[test]
fn bad_arguments_are_typed_errors() {
    let mut p = PriorityTree::new();
    assert_eq!(
        p.insert_stream(0, None, 16, false),
        Err(PriorityError::PseudoStream)
    );
    assert_eq!(
        p.insert_stream(1, None, 0, false),
        Err(PriorityError::BadWeight(0))
    );
    assert_eq!(
        p.insert_stream(1, None, 257, false),
        Err(PriorityError::BadWeight(257))
    );
    assert_eq!(
        p.insert_stream(1, Some(1), 16, false),
        Err(PriorityError::SelfDependency(1))
    );
    p.insert_stream(1, None, 256, false).unwrap();
    p.insert_stream(3, None, 1, false).unwrap();
    assert_eq!(
        p.reprioritize(1, Some(1), 16, false),
        Err(PriorityError::SelfDependency(1))
    );
    assert_eq!(
        p.reprioritize(1, None, 300, false),
        Err(PriorityError::BadWeight(300))
    );
    assert_eq!(p.block(0), Err(PriorityError::PseudoStream));
    assert_eq!(p.unblock(0), Err(PriorityError::PseudoStream));
    assert_eq!(p.remove_stream(0), Err(PriorityError::PseudoStream));
    assert_eq!(p.len(), 2);
    check(&p);
}

#[test]
fn block_and_unblock_are_idempotent() {
    let mut t = readme_tree();
    t.block(1).unwrap();
    t.block(1).unwrap();
    assert_eq!(t.is_blocked(1), Some(true));
    check(&t);
    t.unblock(1).unwrap();
    t.unblock(1).unwrap();
    assert_eq!(t.is_blocked(1), Some(false));
    check(&t);
    assert_eq!(picks(&mut t, 3), [1, 3, 7]);
}

#[test]
fn inserting_with_absent_parent_creates_it_blocked() {
    for exclusive in [false, true] {
        let mut p = PriorityTree::new();
        p.insert_stream(3, Some(1), 32, exclusive).unwrap();
        check(&p);
        assert_eq!(p.is_blocked(1), Some(true));
        assert_eq!(p.weight(1), Some(16));
        assert_eq!(p.parent(1), Some(0));
        assert_eq!(picks(&mut p, 10), [3; 10]);
        p.unblock(1).unwrap();
        assert_eq!(picks(&mut p, 10), [1; 10]);
        p.insert_stream(5, None, 16, false).unwrap();
        assert_eq!(picks(&mut p, 10), [5, 1].repeat(5));
    }
}

#[test]
fn reprioritizing_with_absent_parent_creates_it_blocked() {
    for exclusive in [false, true] {
        let mut p = PriorityTree::new();
        p.insert_stream(3, None, 16, false).unwrap();
        p.reprioritize(3, Some(1), 32, exclusive).unwrap();
        check(&p);
        assert_eq!(picks(&mut p, 10), [3; 10]);
        p.unblock(1).unwrap();
        assert_eq!(picks(&mut p, 10), [1; 10]);
        p.insert_stream(5, None, 16, false).unwrap();
        assert_eq!(picks(&mut p, 10), [5, 1].repeat(5));
    }
}

#[test]
fn refuses_too_many_streams() {
    for count in (1..2000).step_by(97) {
        let mut p = PriorityTree::with_max_streams(count);
        for id in 1..=count as u32 {
            p.insert_stream(id, None, 16, false).unwrap();
        }
        assert_eq!(
            p.insert_stream(count as u32 + 1, None, 16, false),
            Err(PriorityError::TooMany { limit: count })
        );
        assert_eq!(p.len(), count);
    }
}

/// python defect 4: python counted the root against `maximum_streams` (so
/// `maximum_streams=n` allowed n-1 streams) and inserted a missing parent after checking
/// the limit for the child alone, overshooting by one.
#[test]
fn regression_limit_counts_real_streams_only() {
    let mut p = PriorityTree::with_max_streams(2);
    p.insert_stream(1, None, 16, false).unwrap();
    p.insert_stream(3, None, 16, false).unwrap(); // python refused this one
    assert!(matches!(
        p.insert_stream(5, None, 16, false),
        Err(PriorityError::TooMany { .. })
    ));

    // A child with a missing parent needs two places; refuse both rather than overshoot.
    let mut p = PriorityTree::with_max_streams(2);
    p.insert_stream(1, None, 16, false).unwrap();
    assert_eq!(
        p.insert_stream(5, Some(3), 16, false),
        Err(PriorityError::TooMany { limit: 2 })
    );
    assert!(!p.contains(3) && !p.contains(5));
    assert_eq!(
        p.reprioritize(1, Some(9), 16, false),
        Ok(()),
        "the placeholder fits in the second place"
    );
    assert_eq!(
        p.reprioritize(1, Some(11), 16, false),
        Err(PriorityError::TooMany { limit: 2 })
    );
    assert_eq!(p.len(), 2);
    check(&p);
}

/// python defect 1: making a stream depend on its own descendant removed the descendant with
/// `strip_children=True` (scattering its subtree) and then left those children in two child
/// lists. RFC 7540 §5.3.3: the descendant moves, with its subtree and weight, to the
/// stream's old parent first.
#[test]
fn regression_reprioritize_under_own_descendant() {
    // root -> 1 -> 3 -> 5 -> 7
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, Some(1), 16, false).unwrap();
    t.insert_stream(5, Some(3), 12, false).unwrap();
    t.insert_stream(7, Some(5), 16, false).unwrap();
    t.insert_stream(9, Some(3), 16, false).unwrap();
    t.reprioritize(1, Some(5), 20, false).unwrap();
    check(&t);
    // 5 moved to 1's old parent (the root), keeping weight 12 and its child 7.
    assert_eq!(t.parent(5), Some(0));
    assert_eq!(t.weight(5), Some(12));
    assert_eq!(t.children(5), Some(vec![7, 1]));
    // 1 now depends on 5, keeping its remaining subtree 3 -> 9.
    assert_eq!(t.parent(1), Some(5));
    assert_eq!(t.weight(1), Some(20));
    assert_eq!(t.children(1), Some(vec![3]));
    assert_eq!(t.children(3), Some(vec![9]));
    assert_eq!(t.children(0), Some(vec![5]));

    // The exclusive form (RFC 7540 §5.3.3's example): 1 becomes 5's only child.
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, Some(1), 16, false).unwrap();
    t.insert_stream(5, Some(3), 16, false).unwrap();
    t.insert_stream(7, Some(5), 16, false).unwrap();
    t.reprioritize(1, Some(5), 16, true).unwrap();
    check(&t);
    assert_eq!(t.children(0), Some(vec![5]));
    assert_eq!(t.children(5), Some(vec![1]));
    assert_eq!(t.children(1), Some(vec![3, 7]));
    assert_eq!(picks(&mut t, 2), [5, 5]);
    t.block(5).unwrap();
    assert_eq!(picks(&mut t, 2), [1, 1]);
}

/// python defect 2: removing a stream gave its children the parent with their own weights.
/// RFC 7540 §5.3.4: they share the removed stream's weight in proportion to their weights.
#[test]
fn regression_remove_shares_weight_proportionally() {
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, Some(1), 8, false).unwrap();
    t.insert_stream(5, Some(1), 24, false).unwrap();
    t.insert_stream(7, None, 16, false).unwrap();
    t.remove_stream(1).unwrap();
    check(&t);
    assert_eq!(t.weight(3), Some(4));
    assert_eq!(t.weight(5), Some(12));
    assert_eq!(t.parent(3), Some(0));
    // Together 3 and 5 still get what 1 got: half the connection.
    let got = picks(&mut t, 32 * 10);
    let count = |id| got.iter().filter(|&&x| x == id).count();
    assert_eq!(count(7), 160);
    assert_eq!(count(3) + count(5), 160);
    assert_eq!(count(5), 3 * count(3));

    // Results stay within 1..=256.
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 256, false).unwrap();
    t.insert_stream(3, Some(1), 1, false).unwrap();
    t.insert_stream(5, Some(1), 256, false).unwrap();
    t.insert_stream(7, None, 1, false).unwrap();
    t.insert_stream(9, Some(7), 256, false).unwrap();
    t.remove_stream(1).unwrap();
    t.remove_stream(7).unwrap();
    assert_eq!(t.weight(3), Some(1));
    assert_eq!(t.weight(5), Some(255));
    assert_eq!(t.weight(9), Some(1));
    check(&t);
}

/// python defect 3: cycle detection gave up (with `PriorityLoop`) on trees deeper than 100.
#[test]
fn regression_cycle_detection_has_no_depth_cap() {
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    for id in 2..=500 {
        t.insert_stream(id, Some(id - 1), 16, false).unwrap();
    }
    // 1 under its descendant 500, 499 levels down.
    t.reprioritize(1, Some(500), 16, false).unwrap();
    check(&t);
    assert_eq!(t.parent(500), Some(0));
    assert_eq!(t.parent(1), Some(500));
    assert_eq!(t.parent(2), Some(1));
    // Deep but not a descendant: no error either.
    t.reprioritize(250, Some(500), 16, false).unwrap();
    check(&t);
    assert_eq!(t.parent(250), Some(500));
    assert_eq!(t.next(), Ok(500));
}

#[test]
fn distribution_matches_weights() {
    // python README figures: 16/32/8 over 560 picks give 160/320/80.
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, None, 32, false).unwrap();
    t.insert_stream(5, None, 8, false).unwrap();
    let mut count = HashMap::new();
    for _ in 0..560 {
        *count.entry(t.next().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(count[&1], 160);
    assert_eq!(count[&3], 320);
    assert_eq!(count[&5], 80);
}

fn weights_cases() -> Vec<Vec<(u32, u16)>> {
    vec![
        vec![(1, 16)],
        vec![(1, 16), (3, 32), (5, 8)],
        vec![(1, 1), (3, 255)],
        vec![(7, 3), (9, 5), (11, 7), (13, 200)],
        vec![(1, 100), (2, 101), (3, 102), (99, 1)],
        (1..=40).map(|i| (i, (i * 37 % 255 + 1) as u16)).collect(),
    ]
}

#[test]
fn period_of_repetition_is_sum_of_weights() {
    for streams in weights_cases() {
        let mut t = PriorityTree::new();
        for &(id, w) in &streams {
            t.insert_stream(id, None, w, false).unwrap();
        }
        let period: usize = streams.iter().map(|&(_, w)| usize::from(w)).sum();
        picks(&mut t, streams.len());
        let pattern = picks(&mut t, period);
        for round in 0..5 {
            assert_eq!(picks(&mut t, period), pattern, "{streams:?} round {round}");
        }
        for &(id, w) in &streams {
            let n = pattern.iter().filter(|&&x| x == id).count();
            assert_eq!(n, usize::from(w), "stream {id} in {streams:?}");
        }
    }
}

#[test]
fn active_parent_is_served_before_descendants_and_share_passes_down() {
    // root -> 1 (w16) -> {3 (w16), 5 (w48)}; root -> 7 (w16)
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, Some(1), 16, false).unwrap();
    t.insert_stream(5, Some(1), 48, false).unwrap();
    t.insert_stream(7, None, 16, false).unwrap();
    let got = picks(&mut t, 64);
    assert!(!got.contains(&3) && !got.contains(&5));
    t.block(1).unwrap();
    let got = picks(&mut t, 64 * 4);
    let count = |id| got.iter().filter(|&&x| x == id).count();
    assert_eq!(count(7), 128);
    assert_eq!(count(3), 32);
    assert_eq!(count(5), 96);
    // With no active descendant, a blocked stream's turns go to its siblings.
    t.block(3).unwrap();
    t.block(5).unwrap();
    assert_eq!(picks(&mut t, 8), [7; 8]);
}

#[test]
fn exclusive_insert_adopts_siblings() {
    let mut t = readme_tree();
    t.insert_stream(13, None, 16, true).unwrap();
    check(&t);
    assert_eq!(t.children(0), Some(vec![13]));
    assert_eq!(t.children(13), Some(vec![1, 3, 7]));
    assert_eq!(picks(&mut t, 3), [13, 13, 13]);
    t.block(13).unwrap();
    assert_eq!(picks(&mut t, 3), [1, 3, 7]);
}

#[test]
fn reprioritize_same_parent_keeps_position() {
    // Repeated same-parent reprioritisation must not let a stream jump the queue.
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 16, false).unwrap();
    t.insert_stream(3, None, 16, false).unwrap();
    let mut ones = 0;
    for _ in 0..100 {
        t.reprioritize(1, None, 16, false).unwrap();
        if t.next().unwrap() == 1 {
            ones += 1;
        }
    }
    assert_eq!(ones, 50);
}

#[test]
fn slots_are_reused_after_removal() {
    let mut t = PriorityTree::with_max_streams(4);
    for round in 0..50u32 {
        let base = round * 8 + 1;
        for k in 0..4 {
            t.insert_stream(base + 2 * k, None, 16, false).unwrap();
        }
        assert_eq!(t.len(), 4);
        for _ in 0..8 {
            t.next().unwrap();
        }
        for k in 0..4 {
            t.remove_stream(base + 2 * k).unwrap();
        }
        check(&t);
    }
    assert!(t.is_empty());
}

/// The picks stream 1 gets out of the next `n`.
fn count_of(t: &mut PriorityTree, id: u32, n: usize) -> usize {
    picks(t, n).iter().filter(|&&x| x == id).count()
}

/// Four siblings under the root, stream 1 at weight 1 and streams 3, 5, 7 at `others`; picks
/// run until stream 1 has just been served (after at least 40 picks), the moment its pass is
/// furthest ahead: one weight-1 turn, 256.
fn just_served_weight_one(others: u16) -> PriorityTree {
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 1, false).unwrap();
    for id in [3, 5, 7] {
        t.insert_stream(id, None, others, false).unwrap();
    }
    let mut n = 0;
    loop {
        n += 1;
        if t.next().unwrap() == 1 && n > 40 {
            return t;
        }
    }
}

/// Issue 11, item 4: a stream raised from weight 1 to 100 kept the pass its weight-1 stride
/// had given it (a whole turn, 256, ahead of its siblings), so it waited for the siblings
/// to use up 256 of virtual time before its next pick: beside three siblings of weight 64
/// it got none of the next 64 picks where its RFC 7540 share is 100/292 of them (21.9).
///
/// Bound: within 3 of the share. One level of stride scheduling keeps each sibling within
/// about one pick of its place (the stream itself less than one turn ahead, and each of the
/// three others able to be due once before it); the bound `tree_share_matches_rfc_model` in
/// `props.rs` derives gives 2.96 (siblings of weight 1) and 2.2 (weight 64) here.
#[test]
fn regression_raised_weight_gets_its_share_at_once() {
    let mut wrong = Vec::new();
    for others in [1u16, 64] {
        let mut t = just_served_weight_one(others);
        t.reprioritize(1, None, 100, false).unwrap();
        check(&t);
        let share = 64.0 * 100.0 / (100.0 + 3.0 * f64::from(others));
        let got = count_of(&mut t, 1, 64);
        if (got as f64 - share).abs() > 3.0 {
            wrong.push(format!(
                "siblings of weight {others}: stream 1 raised to weight 100 got {got} of 64 \
                 picks, its share is {share:.1}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The same when the weight changes while the stream is blocked (its heap entry left in
/// place, lazily) and it is unblocked afterwards.
#[test]
fn regression_raised_weight_while_blocked_gets_its_share_on_unblock() {
    let mut wrong = Vec::new();
    for others in [1u16, 64] {
        let mut t = just_served_weight_one(others);
        t.block(1).unwrap();
        picks(&mut t, 5);
        t.reprioritize(1, None, 100, false).unwrap();
        t.unblock(1).unwrap();
        check(&t);
        let share = 64.0 * 100.0 / (100.0 + 3.0 * f64::from(others));
        let got = count_of(&mut t, 1, 64);
        if (got as f64 - share).abs() > 3.0 {
            wrong.push(format!(
                "siblings of weight {others}: stream 1 raised to weight 100 while blocked got \
                 {got} of 64 picks, its share is {share:.1}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Why `tree_share_matches_rfc_model` (in `props.rs`) bounds a stream's lag by a sum over
/// its siblings rather than a flat `depth + 2`: stride scheduling serves siblings whose
/// turns fall at the same virtual time one after another, so a heavy stream waits while
/// every light sibling due at that moment is served. One stream of weight 256 beside ten of
/// weight 1, all new (due at once): in the first 64 picks the heavy one gets 54, where its
/// share is 64 * 256 / 266 = 61.6, a lag of 7.6 picks at depth 1. The same happens every
/// 266 picks, when the light streams' turns come round together again. python `priority`
/// and H2O schedule the same way; the lag is bounded by the siblings served in between
/// (the model's bound here is 9.7).
#[test]
fn stride_lag_grows_with_aligned_siblings() {
    let mut t = PriorityTree::new();
    t.insert_stream(1, None, 256, false).unwrap();
    for id in (3..=21).step_by(2) {
        t.insert_stream(id, None, 1, false).unwrap();
    }
    let share = 64.0 * 256.0 / 266.0;
    let got = count_of(&mut t, 1, 64);
    assert_eq!(got, 54);
    assert!(share - got as f64 > 1.0 + 2.0);
    // 266 picks later the light streams are due together again.
    let mut t2 = PriorityTree::new();
    t2.insert_stream(1, None, 256, false).unwrap();
    for id in (3..=21).step_by(2) {
        t2.insert_stream(id, None, 1, false).unwrap();
    }
    picks(&mut t2, 266);
    assert_eq!(count_of(&mut t2, 1, 64), 54);
}

/// The `Iterator` impl yields what `next` returns and ends where it returns `Deadlock`.
#[test]
fn iterator_yields_next_and_ends_on_deadlock() {
    let mut a = readme_tree();
    let mut b = readme_tree();
    let from_next = picks(&mut a, 50);
    let from_iter: Vec<u32> = b.by_ref().take(50).collect();
    assert_eq!(from_iter, from_next);
    for id in (1..12).step_by(2) {
        b.block(id).unwrap();
    }
    assert_eq!(Iterator::next(&mut b), None);
    assert_eq!(b.next(), Err(PriorityError::Deadlock));
    b.unblock(9).unwrap();
    assert_eq!((&mut b).take(3).collect::<Vec<_>>(), [9, 9, 9]);
    for id in (1..12).step_by(2) {
        b.remove_stream(id).unwrap();
    }
    assert_eq!((&mut b).count(), 0);
}
