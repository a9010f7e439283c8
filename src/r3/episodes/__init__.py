"""Episodes: attempt, verify; on failure reflect, retry, verify - run in phase-batched generation calls."""

from r3.episodes.engine import EpisodeConfig, run_episodes

__all__ = ["EpisodeConfig", "run_episodes"]
