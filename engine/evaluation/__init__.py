"""Evaluation protocol: student-level splits, sequential prediction, metrics, baselines."""
