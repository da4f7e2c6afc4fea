"""Dataset builders by name: each returns a `PreparedData` ready to be saved by the data stage."""

from pipeline.config import DigitsData, DigitsDvsData
from pipeline.data.prepared import DatasetInfo, PreparedData
from pipeline.registry import Registry

DATASETS: Registry = Registry("dataset")


@DATASETS.register("digits")
def prepare_digits(config: DigitsData, seed: int) -> PreparedData:
    """scikit-learn's 1,797 real 8x8 digits, a seeded stratified split, `[N, 1, 8, 8]` in [0, 1]."""
    from pipeline.data.digits import load_digits_split

    x_train, y_train, x_test, y_test = load_digits_split(config.test_fraction, seed)
    info = DatasetInfo("digits", "digits (sklearn 8x8)", "static", 10, 1, 8)
    return PreparedData(info, x_train, y_train, x_test, y_test)


@DATASETS.register("digits_dvs")
def prepare_digits_dvs(config: DigitsDvsData, seed: int) -> PreparedData:
    """The same split turned into simulated DVS recordings, `[N, frames, 2, H, W]` event counts."""
    from pipeline.data.digits import load_digits_split
    from pipeline.data.digits_dvs import simulate_events

    x_train, y_train, x_test, y_test = load_digits_split(config.test_fraction, seed)

    def events(images, offset):
        return simulate_events(
            images,
            frames=config.frames,
            threshold=config.threshold,
            upsample=config.upsample,
            saccade_steps=config.saccade_steps,
            seed=seed + offset,
        )

    ev_train, ev_test = events(x_train, 0), events(x_test, 1)
    info = DatasetInfo(
        "digits_dvs", "digits-dvs (simulated events)", "event", 10, 2, ev_train.shape[-1], config.frames, True
    )
    return PreparedData(info, ev_train, y_train, ev_test, y_test)
