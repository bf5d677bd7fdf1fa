"""The label-efficiency benchmark runs end to end and ends with the line the issue names."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "label_efficiency.py"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("label_efficiency", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_one_seed_run_prints_the_tables_and_the_exact_last_line(benchmark, capsys):
    argv = ["--seeds", "1", "--workers", "1", "--strategies", "margin", "--sets", "digits,iris"]
    assert benchmark.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        r"auto_mean_saved=-?\d\.\d{3} auto_min_set_saved=-?\d\.\d{3} digits_saved=-?\d\.\d{3} "
        r"sets=2 seeds=1",
        lines[-1],
    )
    table = "\n".join(lines)
    for name in ("random", "margin", r"auto \(default\)"):
        assert re.search(rf"^\| {name} \| \d+\.\d \| ", table, flags=re.MULTILINE)
    assert re.search(r"^\| iris \| (\d\.\d{3} \| )+$", table + " ", flags=re.MULTILINE) or (
        re.search(r"^\| iris \| (\d\.\d{3} \| )*\d\.\d{3} \|$", table, flags=re.MULTILINE)
    )


def test_the_data_sets_ship_with_the_packages_and_are_at_least_six(benchmark):
    assert len(benchmark.DATA_SETS) >= 6 and "digits" in benchmark.DATA_SETS
    for data_set in benchmark.DATA_SETS.values():
        features, labels = data_set.load()
        assert features.shape[0] == labels.shape[0] >= 150
        assert len(set(labels.tolist())) >= 2


def test_auto_in_the_benchmark_uses_the_registry_arms_random_included(benchmark):
    from activelearn import strategies
    from activelearn.strategies import auto

    arms = auto.auto_arms(strategies.STRATEGIES, benchmark.HELD, exclude=strategies.AUTO_INPUT)
    assert arms[0] == "random" and "diverse_margin" in arms and "auto" not in arms
    assert set(arms) <= set(benchmark.STRATEGY_NAMES)


def test_the_table_goes_between_the_readme_markers(benchmark, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{benchmark.README_START}\nold\n{benchmark.README_END}\nafter\n")
    benchmark.readme_write(["| a |", "| b |"], readme)
    assert readme.read_text() == (
        f"before\n{benchmark.README_START}\n| a |\n| b |\n{benchmark.README_END}\nafter\n"
    )


def test_a_weak_baseline_fails_the_run_loudly(benchmark, capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "MIN_WHOLE_POOL_ACCURACY", 0.999)
    argv = ["--seeds", "1", "--workers", "1", "--strategies", "random", "--sets", "digits"]
    assert benchmark.main(argv) == 1
    assert "FAIL: whole-pool accuracy below 0.999" in capsys.readouterr().err


def test_an_unknown_strategy_or_data_set_is_refused(benchmark):
    with pytest.raises(SystemExit):
        benchmark.main(["--strategies", "magic"])
    with pytest.raises(SystemExit):
        benchmark.main(["--sets", "mnist"])
