"""Running builder stages on datatrove executors, what passes between stages, and corpus-wide rules."""
