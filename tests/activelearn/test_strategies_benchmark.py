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


def test_a_one_seed_run_prints_the_table_and_the_exact_last_line(benchmark, capsys):
    assert benchmark.main(["--seeds", "1", "--workers", "1", "--strategies", "margin"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"saved_vs_random=-?\d\.\d{3} default=diverse_margin", lines[-1])
    table = "\n".join(lines)
    for name in ("random", "margin", "diverse_margin"):
        assert re.search(rf"^{name}\s+\d+\.\d", table, flags=re.MULTILINE)


def test_a_weak_baseline_fails_the_run_loudly(benchmark, capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "MIN_WHOLE_POOL_ACCURACY", 0.999)
    assert benchmark.main(["--seeds", "1", "--workers", "1", "--strategies", "random"]) == 1
    assert "FAIL: whole-pool accuracy below 0.999" in capsys.readouterr().err


def test_an_unknown_strategy_name_is_refused(benchmark):
    with pytest.raises(SystemExit):
        benchmark.main(["--strategies", "magic"])
