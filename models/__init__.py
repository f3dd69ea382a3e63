"""Statistical learners usable on their own: IRT, BKT, logistic (PFA/AFM/Best-LR), Elo, baselines.

Nothing here imports `engine` or `service`; every model follows the protocol in `models.base`, and
`models.base.Hyperparameters` gives them scikit-learn's `get_params` / `set_params` (docs/researcher.md).
"""
