"""Report files: stale curves of runs the params no longer name are removed after a successful write."""

from pathlib import Path

from pipeline.report.files import remove_stale, write_report_files


def test_remove_stale_keeps_what_was_written_and_drops_the_rest(tmp_path: Path):
    curves = tmp_path / "curves"
    old = curves / "r19" / "seenn1.csv"  # a run of the previous profile
    old.parent.mkdir(parents=True)
    old.write_text("param,accuracy\n")
    new = {curves / "cifar10-resnet19" / "seenn1.csv": "param,accuracy\n0.9,0.45\n"}
    write_report_files(new)
    removed = remove_stale(curves, set(new))
    assert removed == [old]
    assert not (curves / "r19").exists()  # its folder, left empty, goes too
    assert (curves / "cifar10-resnet19" / "seenn1.csv").read_text() == "param,accuracy\n0.9,0.45\n"


def test_remove_stale_on_a_missing_folder_does_nothing(tmp_path: Path):
    assert remove_stale(tmp_path / "none", set()) == []
