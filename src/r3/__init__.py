"""r3: Reflect, Retry, Reward (Bensal et al., arXiv 2505.24726).

Data flows through the subpackages in this order:
tasks (prompt + verify) -> generation (backends) -> episodes (attempt, reflect, retry)
-> mining (failure datasets) -> training (reflection-only GRPO) -> evaluation / forgetting.
"""

__version__ = "0.1.0"
