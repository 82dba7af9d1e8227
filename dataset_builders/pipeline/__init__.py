"""Running builder stages on datatrove executors, and what passes between stages."""
