"""train.py as a user runs it: true --help, one-line errors for mistakes."""
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_train(*args):
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_help_names_the_flags():
    result = run_train("--help")  # absl exits 1 after printing help; the text is what counts
    for flag in ("--config", "--workdir", "--coordinator_address", "--num_processes"):
        assert flag in result.stdout


def test_missing_config_file_is_one_line(tmp_path):
    result = run_train("--config", str(tmp_path / "nope.py"), "--workdir", str(tmp_path / "w"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: config file not found: {tmp_path / 'nope.py'}"]
