//! The connection takes any scheduler: with each of the three built-in ones and with one of
//! the application's own, the order of the DATA frames a server writes follows that scheduler.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use h2kit::{
    Config, Event, Field, PriorityError, PrioritySignal, Scheduler, SchedulerKind, StreamId,
};
use h2kit_frame::PrioritySpec;
use h2kit_test::{Direction, Frame, Pair, Side, Verdict, fields};

/// Each response body: three DATA frames of 16 KiB, within the default stream windows.
const BODY: usize = 3 * 16_384;

/// A client and a server with `scheduler`; the client sends three requests (stream 1, 3, 5)
/// with `priority` header values `signals`, then `before_responses` runs (more signals), and
/// the server queues the three responses at once. Returns the streams of the DATA frames the
/// server wrote, in order.
fn data_order(
    scheduler: SchedulerKind,
    signals: [&'static str; 3],
    before_responses: impl FnOnce(&mut Pair, &[StreamId]),
) -> Vec<u32> {
    let server = Config {
        scheduler,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.set_byte_cap(Some(1 << 20))
        .set_auto_release(Side::Client, false)
        .set_auto_release(Side::Server, false);
    // The streams of the non-empty DATA frames the server writes.
    let order = Rc::new(RefCell::new(Vec::new()));
    let log = order.clone();
    p.intercept(move |dir, frame| {
        if let Frame::Data(d) = frame {
            if dir == Direction::ToClient && !d.data.is_empty() {
                log.borrow_mut().push(d.stream_id.get());
            }
        }
        Verdict::Pass
    });
    p.drive();
    let ids: Vec<StreamId> = signals
        .iter()
        .map(|signal| {
            let mut fields = fields::get("/");
            if !signal.is_empty() {
                fields.push(Field::new("priority", *signal));
            }
            p.client.send_request(fields, true).unwrap()
        })
        .collect();
    before_responses(&mut p, &ids);
    p.drive();
    let requests = p
        .take_events(Side::Server)
        .into_iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 3);
    assert!(order.borrow().is_empty());
    for &id in &ids {
        p.server
            .send_response(id, fields::status(200), false)
            .unwrap();
        p.server
            .send_data(id, Bytes::from(vec![b'x'; BODY]), true)
            .unwrap();
    }
    p.drive();
    // Everything written arrived, as whole frames the client accepted.
    assert_eq!(
        p.bytes_delivered(Direction::ToClient),
        p.bytes_written(Direction::ToClient)
    );
    assert!(p.client.error().is_none(), "{:?}", p.client.error());
    let order = order.take();
    assert_eq!(order.len(), 9, "{order:?}");
    order
}

#[test]
fn rfc_9218_urgency_orders_the_data() {
    // Lowest urgency first, each non-incremental stream whole.
    let order = data_order(SchedulerKind::Extensible, ["u=5", "u=1", "u=3"], |_, _| {});
    assert_eq!(order, [3, 3, 3, 5, 5, 5, 1, 1, 1]);
}

#[test]
fn the_rfc_7540_tree_orders_the_data() {
    // PRIORITY frames make the chain 3 → 5 → 1: a child sends only while its parent cannot.
    let order = data_order(SchedulerKind::Tree, [""; 3], |p, ids| {
        let on = |parent: StreamId| PrioritySpec {
            dependency: parent,
            weight: 15,
            exclusive: true,
        };
        p.client.send_priority(ids[2], on(ids[1])).unwrap();
        p.client.send_priority(ids[0], on(ids[2])).unwrap();
    });
    assert_eq!(order, [3, 3, 3, 5, 5, 5, 1, 1, 1]);
}

#[test]
fn round_robin_takes_turns_whatever_the_signals() {
    let order = data_order(SchedulerKind::RoundRobin, ["u=5", "u=1", "u=3"], |_, _| {});
    for turn in order.chunks(3) {
        let mut turn = turn.to_vec();
        turn.sort_unstable();
        assert_eq!(turn, [1, 3, 5], "{order:?}");
    }
}

/// The application's own scheduler: the newest stream (highest id) first, each whole.
#[derive(Default)]
struct NewestFirst {
    /// Stream id → blocked.
    streams: BTreeMap<u32, bool>,
}

impl Scheduler for NewestFirst {
    fn insert(&mut self, id: u32, _: PrioritySignal) -> Result<(), PriorityError> {
        if self.streams.insert(id, false).is_some() {
            return Err(PriorityError::Duplicate(id));
        }
        Ok(())
    }

    fn update(&mut self, id: u32, _: PrioritySignal) -> Result<(), PriorityError> {
        self.streams
            .get(&id)
            .map(|_| ())
            .ok_or(PriorityError::Missing(id))
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        self.streams
            .remove(&id)
            .map(|_| ())
            .ok_or(PriorityError::Missing(id))
    }

    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let blocked = self
            .streams
            .get_mut(&id)
            .ok_or(PriorityError::Missing(id))?;
        *blocked = true;
        Ok(())
    }

    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let blocked = self
            .streams
            .get_mut(&id)
            .ok_or(PriorityError::Missing(id))?;
        *blocked = false;
        Ok(())
    }

    fn next(&mut self) -> Option<u32> {
        self.streams
            .iter()
            .rev()
            .find(|(_, blocked)| !**blocked)
            .map(|(id, _)| *id)
    }

    fn contains(&self, id: u32) -> bool {
        self.streams.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.streams.len()
    }
}

#[test]
fn a_scheduler_of_the_applications_orders_the_data() {
    let kind = SchedulerKind::custom(NewestFirst::default);
    assert_eq!(format!("{kind:?}"), "Custom(..)");
    // The signals ask for another order; this scheduler ignores them.
    let order = data_order(kind, ["u=0", "u=1", "u=7"], |_, _| {});
    assert_eq!(order, [5, 5, 5, 3, 3, 3, 1, 1, 1]);
}
