"""State, clocks and timers, written once for every stateful stage: the rule engines' states
and alert books and the parking ledgers all keep keyed values in `KeyedStore`, know the time
through `PartitionClocks` and are woken by `WakeUps`."""
