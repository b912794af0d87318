//! The topic tree against the naive model, on random operation sequences.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn topic_tree_agrees_with_the_naive_model(ops in prop::collection::vec(any::<u8>(), 0..600)) {
        brokkr_core::fuzzing::subscription_ops(&ops);
    }
}
