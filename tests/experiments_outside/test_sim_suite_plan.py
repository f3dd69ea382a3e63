"""experiments.sim_suite writes each run's results beside the default's, never over them."""

from experiments.sim_suite import output_plan


def test_the_default_run_writes_suite_with_both_starts() -> None:
    assert output_plan(0.0, 300) == ("suite", [("online", 0), ("built", 300)])


def test_another_log_size_gets_its_own_files_and_only_the_built_start() -> None:
    assert output_plan(0.0, 1000) == ("suite_log1000", [("built", 1000)])
    assert output_plan(0.25, 1000) == ("suite_ability_share_0.25_log1000", [("built", 1000)])


def test_an_ability_share_keeps_both_starts_at_the_default_log() -> None:
    assert output_plan(0.25, 300) == ("suite_ability_share_0.25", [("online", 0), ("built", 300)])
