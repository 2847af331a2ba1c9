use super::*;

fn links(rows: &[(u64, Option<u64>, u64)]) -> Links {
    rows.iter()
        .map(|&(g, parent, bytes)| {
            let generation = Generation(g);
            let link = ChainLink {
                generation,
                parent: parent.map(Generation),
                bytes,
            };
            (generation, link)
        })
        .collect()
}

#[test]
fn path_runs_from_the_checkpoint() {
    let l = links(&[
        (1, None, 100),
        (2, Some(1), 5),
        (3, Some(2), 5),
        (4, Some(2), 5),
    ]);
    let gens = |v: &[u64]| v.iter().copied().map(Generation).collect::<Vec<_>>();
    assert_eq!(path(&l, Generation(3)), Some(gens(&[1, 2, 3])));
    assert_eq!(path(&l, Generation(4)), Some(gens(&[1, 2, 4])));
    assert_eq!(path(&l, Generation(9)), None);
    let broken = links(&[(2, Some(1), 5)]);
    assert_eq!(path(&broken, Generation(2)), None);
    assert_eq!(
        steps_between(&l, Generation(1), Generation(3)),
        Some(gens(&[2, 3]))
    );
    assert_eq!(
        steps_between(&l, Generation(3), Generation(3)),
        Some(vec![])
    );
    assert_eq!(steps_between(&l, Generation(4), Generation(3)), None);
}

#[test]
fn layout_checkpoints_at_the_count_and_at_the_byte_bound() {
    // A checkpoint and two deltas: a chain of three generations.
    let l = links(&[(1, None, 1000), (2, Some(1), 10), (3, Some(2), 10)]);
    assert_eq!(layout(&l, Generation(3), 10, 4), Layout::Delta);
    assert_eq!(layout(&l, Generation(3), 10, 3), Layout::Checkpoint);
    assert_eq!(layout(&l, Generation(1), 10, 1), Layout::Checkpoint);
    // 10 + 10 + 230 = 250 is a quarter of 1000; one byte more is past it.
    assert_eq!(layout(&l, Generation(3), 230, 16), Layout::Delta);
    assert_eq!(layout(&l, Generation(3), 231, 16), Layout::Checkpoint);
    assert_eq!(layout(&l, Generation(7), 1, 16), Layout::ParentMissing);
}

#[test]
fn doomed_keeps_the_closure_of_what_stays() {
    // 1 checkpoint, 2..=5 deltas in one chain, 6 a checkpoint, 7 a delta on 6.
    let l = links(&[
        (1, None, 100),
        (2, Some(1), 1),
        (3, Some(2), 1),
        (4, Some(3), 1),
        (5, Some(4), 1),
        (6, None, 100),
        (7, Some(6), 1),
    ]);
    let gens = |v: &[u64]| v.iter().copied().map(Generation).collect::<Vec<_>>();
    // Keeping 5 keeps its chain 1..=4.
    assert_eq!(doomed(&l, Generation(5), 1), gens(&[]));
    // Once 5 is below the horizon too, the old chain goes whole, newest first.
    assert_eq!(doomed(&l, Generation(7), 1), gens(&[5, 4, 3, 2, 1]));
    // 7 stays, and with it 6.
    assert_eq!(doomed(&l, Generation(7), 0), gens(&[5, 4, 3, 2, 1]));
}

#[test]
fn a_deferred_layout_keeps_deltas_to_the_hard_bound_and_due_says_when_to_compact() {
    let l = links(&[(1, None, 1000), (2, Some(1), 10), (3, Some(2), 10)]);
    let after = CheckpointWhen::AfterPublish;
    // Four generations with this delta pass 2 in stage, not 2 × 256 deferred.
    assert_eq!(layout(&l, Generation(3), 10, 2), Layout::Checkpoint);
    assert_eq!(layout_for(&l, Generation(3), 10, 2, after), Layout::Delta);
    assert_eq!(layout_for(&l, Generation(3), 10, 1, after), Layout::Delta);
    // Past 1 × 256 generations, the stage writes the checkpoint itself.
    let mut long = vec![(1, None, 1_000_000)];
    long.extend((2..=256).map(|g| (g, Some(g - 1), 10)));
    let long = links(&long);
    assert_eq!(
        layout_for(&long, Generation(255), 10, 1, after),
        Layout::Delta
    );
    assert_eq!(
        layout_for(&long, Generation(256), 10, 1, after),
        Layout::Checkpoint
    );
    // The deferred byte bound is the checkpoint's size: 20 + 980 = 1000.
    assert_eq!(layout_for(&l, Generation(3), 980, 16, after), Layout::Delta);
    assert_eq!(
        layout_for(&l, Generation(3), 981, 16, after),
        Layout::Checkpoint
    );
    // g3's chain holds 3 generations: past a bound of 2, not of 3; a checkpoint never.
    // Its 20 bytes of deltas are worth compacting a checkpoint of up to 64 × 20 = 1280 bytes.
    assert!(due(&l, Generation(3), 2));
    assert!(!due(&l, Generation(3), 3));
    assert!(!due(&l, Generation(1), 1));
    assert!(!due(&l, Generation(9), 1));
    let big = links(&[(1, None, 1281), (2, Some(1), 10), (3, Some(2), 10)]);
    assert!(
        !due(&big, Generation(3), 2),
        "20 bytes of change for a 1281-byte checkpoint"
    );
    let worth = links(&[(1, None, 1280), (2, Some(1), 10), (3, Some(2), 10)]);
    assert!(due(&worth, Generation(3), 2));
}
