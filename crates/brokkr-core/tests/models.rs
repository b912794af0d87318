//! The topic tree and the retained store against naive models, on random operation sequences.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn topic_tree_agrees_with_the_naive_model(ops in prop::collection::vec(any::<u8>(), 0..600)) {
        brokkr_core::fuzzing::subscription_ops(&ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn retained_walk_agrees_with_the_naive_model(ops in prop::collection::vec(any::<u8>(), 0..800)) {
        brokkr_core::fuzzing::retained_ops(&ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn outbound_window_agrees_with_the_model(ops in prop::collection::vec(any::<u8>(), 0..400)) {
        brokkr_core::fuzzing::outbound_ops(&ops);
    }
}
