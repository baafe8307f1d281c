"""The evidence helpers on the numbers of real cards' patterns (values typed from the reviewed sample)."""

from __future__ import annotations

from cardsmith.audit.evidence import (
    implied_denominator,
    logging_interval_explains,
    slow_drift,
    streaming_pass_length,
)


def test_implied_denominator_finds_small_evaluation_sets() -> None:
    # accuracy over 226 examples (221/226 = 0.97788), over 48 images, over 4 images
    assert implied_denominator([0.8805, 0.9690, 0.9823, 0.9646, 0.9735, 0.9779], 0.00005) == 226
    assert implied_denominator([0.7917, 0.8333, 0.8542, 0.875], 0.00005) == 48
    assert implied_denominator([0.75, 0.5], 0.005) == 4


def test_implied_denominator_refuses_what_chance_or_a_large_set_explains() -> None:
    # Matthews correlations are no k/n; one coarse value fits anything
    assert implied_denominator([0.0, 0.0593, 0.0762, 0.0315, 0.0602, 0.0620, 0.0786], 0.00005) is None
    assert implied_denominator([0.5], 0.05) is None
    assert implied_denominator([0.9123, 0.9187, 0.9201, 0.9244], 0.00005) is None


def test_slow_drift_is_a_column_moving_by_one_printed_unit() -> None:
    token_accuracy = [
        0.0621,
        0.0621,
        0.0625,
        0.0625,
        0.0625,
        0.0624,
        0.0626,
        0.0627,
        0.0627,
        0.0629,
        0.0630,
        0.0628,
        0.0629,
        0.0628,
        0.0632,
        0.0633,
        0.0635,
        0.0634,
        0.0635,
        0.0634,
        0.0637,
        0.0637,
        0.0637,
        0.0637,
        0.0638,
        0.0638,
        0.0638,
        0.0639,
        0.0640,
        0.0640,
    ]
    assert slow_drift(token_accuracy, 0.0001)
    assert not slow_drift([0.0, 0.0, 0.0, 0.0593, 0.0762, 0.0315, 0.0602], 0.0001)
    assert not slow_drift([0.5] * 5, 0.1)  # never moves: frozen, not drifting


def test_streaming_epochs_are_passes_plus_a_fraction_of_max_steps() -> None:
    rows = [
        (0.08, 0.005, 400),
        (1.03, 0.005, 800),
        (1.11, 0.005, 1200),
        (2.07, 0.005, 1600),
        (3.02, 0.005, 2000),
        (3.1, 0.005, 2400),
        (4.05, 0.005, 2800),
        (5.01, 0.005, 3200),
    ]
    p = streaming_pass_length(rows, 5000)
    assert p is not None and 620 < p < 650
    # a map-style run: 500 steps per epoch, then 600 - no pass length explains it
    assert streaming_pass_length([(1.0, 0.005, 500), (2.0, 0.005, 1200)], 1200) is None


def test_logging_interval_explains_repeated_training_losses() -> None:
    steps = [200, 400, 600, 800, 1000, 1200, 1400]
    assert logging_interval_explains(
        steps, ["no log", "no log", "0.6123", "0.6123", "0.4410", "0.4410", "0.4410"]
    )
    # a value repeated where a log must have happened (every other 100-step gap shows a new value)
    steps = [100, 200, 300, 400, 500, 600, 700, 800]
    assert not logging_interval_explains(
        steps, ["0.6931", "0.5512", "0.4807", "0.4807", "0.4807", "0.3521", "0.3188", "0.2975"]
    )


def test_logging_interval_between_the_last_no_log_and_the_first_loss() -> None:
    # evaluation every 5 steps, a log every 22: no common interval, no step or gap of the table
    steps = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    losses = ["no log"] * 4 + ["2.4456"] * 4 + ["1.239"] * 2
    assert logging_interval_explains(steps, losses)
    # new values 5 steps apart after the first log 21-25 steps in: no interval explains them
    assert not logging_interval_explains(steps, ["no log"] * 4 + ["2.4456"] * 2 + ["1.9"] + ["1.7"] * 3)
