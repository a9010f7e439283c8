"""Failure mining: build the dataset of queries a model gets wrong, adaptively and resumably (`r3 mine`).

`mine(task, generator, examples, config, store)` runs the loop (miner.py); `MiningStore` is the crash-safe output
directory (store.py); `RoundSchedule` decides how many samples each round draws (schedule.py); `MiningStats` is
what stats.json reports (stats.py).
"""

from r3.mining.config import MineConfig
from r3.mining.miner import mine, run_identity
from r3.mining.schedule import RoundSchedule, expected_samples, sample_seed
from r3.mining.stats import MiningStats
from r3.mining.store import MiningStore

__all__ = ["MineConfig", "MiningStats", "MiningStore", "RoundSchedule", "expected_samples", "mine",
           "run_identity", "sample_seed"]
