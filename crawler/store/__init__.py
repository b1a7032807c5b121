"""Reading reports back: the previous run for history, the parts of a shard merge."""
