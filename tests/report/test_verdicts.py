"""`pipeline/report/verdicts.py`: the comparison in words, from the CSV the tables stage writes."""

from pipeline.report.exit_policies import comparison
from pipeline.report.verdicts import verdicts

# The hand-made run of the comparison tests (pytest puts tests/ on sys.path).
from tests.report.test_exit_policies import _run


def test_sentences_quote_the_tests_of_the_csv(tmp_path):
    """The hand-made run: SEENN-I chosen at alpha 0.99 (2.10 steps, b 1, c 1, p 1); Top-K's 4-0 split has
    p 0.125 and Holm 0.375, so it is not called below full T; its -0.60 timesteps [-0.84, -0.36]."""
    csv = tmp_path / "exit_policies.csv"
    comparison([_run()]).to_csv(csv, index=False)
    text = verdicts(csv)
    assert "one seed, one grid per policy" in text and "target 90.00 % on 10 validation inputs" in text
    assert "SEENN-I (max softmax), α = 0.99: 2.10 average timesteps, test accuracy 90.00 % [69.90, 97.21]" in text
    assert "Δ +0.00 points against full T (b 1, c 1; McNemar p = 1.000" in text
    topk = next(line for line in text.splitlines() if "Top-K" in line)
    assert "Δ −20.00 points against full T (b 4, c 0; McNemar p = 0.125, Holm-adjusted p = 0.375)" in topk
    assert "not significantly different from full T" in topk and "-0.60 timesteps against SEENN-I [-0.84, -0.36]" in topk
    assert "(at most T/2)" in topk  # 1.50 of T = 4
    assert "entropy score: no grid point reaches the target on validation." in text
