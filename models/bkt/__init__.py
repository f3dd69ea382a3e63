"""Bayesian Knowledge Tracing: per-skill EM fit (numba kernels), sequential prediction, online update."""

from models.bkt.model import BKT, bkt_forget, bkt_idem

__all__ = ["BKT", "bkt_forget", "bkt_idem"]
