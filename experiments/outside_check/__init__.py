"""An outside check of equilearn's recommender, built as an outside platform would build it.

Its own learner world (``world``), its own baseline policies (``policies``), the documented CLI
pipeline (``pipeline``: catalog + random-practice log -> ``equilearn model build`` -> ``model audit`` ->
``keys create`` -> ``serve``), an HTTP client of the documented routes (``client``), the paired
comparison (``driver``, ``stats``) and the Markdown report (``report``). Nothing here imports the
project's ``engine``, ``models`` or ``service`` packages: the system is reached only through its command
line and its HTTP API. Run: ``python -m experiments.outside_check --help``.
"""
