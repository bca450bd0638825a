//! Behaviour of the RFC 9218 scheduler and the round-robin baseline, and the trait used
//! through `Box<dyn Scheduler>`.

use h2kit_priority::{
    ExtensiblePriority, ExtensibleScheduler, PriorityError, PrioritySignal, PriorityTree,
    RoundRobin, Scheduler, TreePriority, Urgency,
};

fn ext(u: u8, i: bool) -> PrioritySignal {
    PrioritySignal::extensible(ExtensiblePriority {
        urgency: Urgency::new(u).unwrap(),
        incremental: i,
    })
}

fn picks(s: &mut dyn Scheduler, n: usize) -> Vec<Option<u32>> {
    (0..n).map(|_| s.next()).collect()
}

fn ids(v: &[u32]) -> Vec<Option<u32>> {
    v.iter().map(|&x| Some(x)).collect()
}

#[test]
fn round_robin_serves_in_turn_and_skips_blocked() {
    let mut rr = RoundRobin::new();
    for id in [1, 3, 5, 7] {
        rr.insert(id, PrioritySignal::NONE).unwrap();
    }
    assert_eq!(picks(&mut rr, 8), ids(&[1, 3, 5, 7, 1, 3, 5, 7]));
    rr.block(5).unwrap();
    rr.block(5).unwrap();
    assert_eq!(picks(&mut rr, 6), ids(&[1, 3, 7, 1, 3, 7]));
    rr.unblock(5).unwrap();
    rr.unblock(5).unwrap();
    assert_eq!(picks(&mut rr, 4), ids(&[1, 3, 7, 5]));
    rr.remove(3).unwrap();
    assert_eq!(rr.remove(3), Err(PriorityError::Missing(3)));
    // Order within a round may change on removal; each is served once per round.
    let mut round = picks(&mut rr, 3);
    round.sort_unstable();
    assert_eq!(round, ids(&[1, 5, 7]));
    for id in [1, 5, 7] {
        rr.block(id).unwrap();
    }
    assert_eq!(rr.next(), None);
    assert_eq!(rr.len(), 3);
}

#[test]
fn round_robin_limits_and_errors() {
    let mut rr = RoundRobin::with_max_streams(2);
    assert_eq!(
        rr.insert(0, PrioritySignal::NONE),
        Err(PriorityError::PseudoStream)
    );
    rr.insert(1, PrioritySignal::NONE).unwrap();
    assert_eq!(
        rr.insert(1, PrioritySignal::NONE),
        Err(PriorityError::Duplicate(1))
    );
    rr.insert(3, PrioritySignal::NONE).unwrap();
    assert_eq!(
        rr.insert(5, PrioritySignal::NONE),
        Err(PriorityError::TooMany { limit: 2 })
    );
    assert_eq!(rr.block(9), Err(PriorityError::Missing(9)));
    assert_eq!(
        rr.update(9, PrioritySignal::NONE),
        Err(PriorityError::Missing(9))
    );
}

#[test]
fn churn_does_not_grow_queues() {
    // Open, reprioritise and close streams many times without calling next().
    let mut rr = RoundRobin::with_max_streams(4);
    let mut ex = ExtensibleScheduler::with_max_streams(4);
    for id in (1..200_000u32).step_by(2) {
        rr.insert(id, PrioritySignal::NONE).unwrap();
        rr.remove(id).unwrap();
        ex.insert(id, ext((id % 8) as u8, id % 3 == 0)).unwrap();
        ex.update(id, ext(((id + 1) % 8) as u8, id % 3 != 0))
            .unwrap();
        ex.remove(id).unwrap();
    }
    assert!(rr.is_empty() && ex.is_empty());
    // Nothing left to serve, and the schedulers still work.
    assert_eq!(rr.next(), None);
    assert_eq!(ex.next(), None);
    rr.insert(1, PrioritySignal::NONE).unwrap();
    ex.insert(1, PrioritySignal::NONE).unwrap();
    assert_eq!((rr.next(), ex.next()), (Some(1), Some(1)));
}

#[test]
fn extensible_lowest_urgency_first() {
    let mut s = ExtensibleScheduler::new();
    s.insert(1, ext(7, true)).unwrap();
    s.insert(3, ext(3, false)).unwrap();
    s.insert(5, ext(0, false)).unwrap();
    assert_eq!(picks(&mut s, 3), ids(&[5, 5, 5]));
    s.block(5).unwrap();
    assert_eq!(picks(&mut s, 2), ids(&[3, 3]));
    s.remove(3).unwrap();
    assert_eq!(picks(&mut s, 2), ids(&[1, 1]));
    s.unblock(5).unwrap();
    assert_eq!(s.next(), Some(5));
    s.block(5).unwrap();
    s.block(1).unwrap();
    assert_eq!(s.next(), None);
}

#[test]
fn extensible_non_incremental_one_at_a_time_in_id_order() {
    let mut s = ExtensibleScheduler::new();
    for id in [9, 3, 7, 5] {
        s.insert(id, ext(3, false)).unwrap();
    }
    assert_eq!(picks(&mut s, 3), ids(&[3, 3, 3]));
    s.block(3).unwrap();
    assert_eq!(picks(&mut s, 2), ids(&[5, 5]));
    s.remove(5).unwrap();
    assert_eq!(picks(&mut s, 2), ids(&[7, 7]));
    s.unblock(3).unwrap();
    assert_eq!(picks(&mut s, 2), ids(&[3, 3]));
}

#[test]
fn extensible_incremental_round_robin() {
    let mut s = ExtensibleScheduler::new();
    for id in [1, 3, 5] {
        s.insert(id, ext(2, true)).unwrap();
    }
    assert_eq!(picks(&mut s, 6), ids(&[1, 3, 5, 1, 3, 5]));
    s.block(3).unwrap();
    assert_eq!(picks(&mut s, 4), ids(&[1, 5, 1, 5]));
}

#[test]
fn extensible_kinds_alternate_within_an_urgency() {
    let mut s = ExtensibleScheduler::new();
    s.insert(1, ext(3, false)).unwrap();
    s.insert(3, ext(3, false)).unwrap();
    s.insert(5, ext(3, true)).unwrap();
    s.insert(7, ext(3, true)).unwrap();
    assert_eq!(picks(&mut s, 6), ids(&[1, 5, 1, 7, 1, 5]));
}

#[test]
fn extensible_update_moves_streams() {
    let mut s = ExtensibleScheduler::new();
    s.insert(1, PrioritySignal::NONE).unwrap();
    s.insert(3, PrioritySignal::NONE).unwrap();
    assert_eq!(s.next(), Some(1));
    s.update(3, ext(1, false)).unwrap();
    assert_eq!(s.priority(3), Some(ExtensiblePriority::parse(b"u=1")));
    assert_eq!(s.next(), Some(3));
    // A tree-only signal leaves the RFC 9218 priority unchanged.
    s.update(
        3,
        PrioritySignal::tree(TreePriority::from_wire(1, 200, true)),
    )
    .unwrap();
    assert_eq!(s.next(), Some(3));
    s.block(3).unwrap();
    s.update(3, ext(6, true)).unwrap();
    assert_eq!(s.next(), Some(1));
    s.unblock(3).unwrap();
    assert_eq!(s.next(), Some(1));
    s.block(1).unwrap();
    assert_eq!(s.next(), Some(3));
    assert_eq!(s.update(4, ext(1, false)), Err(PriorityError::Missing(4)));
}

#[test]
fn trait_objects_take_both_signal_kinds() {
    let both = PrioritySignal {
        tree: Some(TreePriority {
            depends_on: 0,
            weight: 64,
            exclusive: false,
        }),
        extensible: Some(ExtensiblePriority::parse(b"u=0, i")),
    };
    let mut all: Vec<Box<dyn Scheduler + Send>> = vec![
        Box::new(PriorityTree::new()),
        Box::new(ExtensibleScheduler::new()),
        Box::new(RoundRobin::new()),
    ];
    for s in &mut all {
        s.insert(1, both).unwrap();
        s.insert(3, PrioritySignal::NONE).unwrap();
        assert!(s.contains(3) && !s.contains(5));
        assert_eq!(s.len(), 2);
        s.update(3, both).unwrap();
        assert_eq!(s.update(5, both), Err(PriorityError::Missing(5)));
        s.block(1).unwrap();
        assert_eq!(s.next(), Some(3));
        s.block(3).unwrap();
        assert_eq!(s.next(), None);
        s.remove(1).unwrap();
        assert_eq!(s.remove(1), Err(PriorityError::Missing(1)));
        assert_eq!(s.insert(0, both), Err(PriorityError::PseudoStream));
    }
    // The tree reads the weights: 64 against 16.
    let mut tree: Box<dyn Scheduler> = Box::new(PriorityTree::new());
    tree.insert(1, both).unwrap();
    tree.insert(3, PrioritySignal::NONE).unwrap();
    let got = picks(&mut *tree, 80);
    assert_eq!(got.iter().filter(|&&x| x == Some(1)).count(), 64);
}

#[test]
fn tree_trait_self_dependency_is_typed() {
    let mut t = PriorityTree::new();
    let sig = PrioritySignal::tree(TreePriority {
        depends_on: 5,
        weight: 16,
        exclusive: false,
    });
    assert_eq!(
        Scheduler::insert(&mut t, 5, sig),
        Err(PriorityError::SelfDependency(5))
    );
}
