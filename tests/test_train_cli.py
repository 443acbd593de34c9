"""train.py as a user runs it: true --help, and every mistake as one line on stderr with a
non-zero exit, found before any model is set up and leaving no work directory behind.

Two runs are real processes (--help, and one config mistake); the other command lines go through
the same entry point in this process (absl's flags are reset before each)."""
import pathlib
import subprocess
import sys
import types
import warnings

import pytest
from absl import flags
from PIL import Image

from jaxrestore import configs
from jaxrestore.cli import train as train_cli
from jaxrestore.errors import UserError
from jaxrestore.train import loop

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_train(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(REPO / "train.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def run_train_here(capsys, monkeypatch, no_model_setup):
    """run_train's result for a command line run by `train_cli.run` in this process (from the
    repository root, as run_train does)."""
    monkeypatch.chdir(REPO)

    def run(*args):
        argv = ["train.py", *map(str, args)]
        monkeypatch.setattr(sys, "argv", argv)  # ml_collections reads overrides from sys.argv
        flags.FLAGS.unparse_flags()
        with pytest.raises(SystemExit) as exit_, warnings.catch_warnings():
            # ml_collections loads config files with the deprecated `load_module`
            warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
            train_cli.run(argv)
        out, err = capsys.readouterr()
        return types.SimpleNamespace(returncode=exit_.value.code, stdout=out, stderr=err)

    yield run
    flags.FLAGS.unparse_flags()


def one_line_error(result) -> str:
    assert result.returncode not in (0, None), result.stdout[-500:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("train.py: error: ")
    return lines[0]


def test_help_names_the_flags_and_exits_0():
    result = run_train("--help")
    assert result.returncode == 0
    for text in ("--config", "--workdir", "--coordinator_address", "--num_processes",
                 "ignn_tiny_x2", "2 a usage mistake"):
        assert text in result.stdout


def test_a_config_mistake_is_one_line_from_a_real_process(tmp_path):
    workdir = tmp_path / "w"
    run = run_train("--config", "configs/default.py", "--workdir", workdir,
                    "--config.task.channels=1")
    line = one_line_error(run)
    assert "needs a model with 1 input and output channels" in line
    assert run.returncode == 2  # a usage mistake, as eval's (errors.py)
    assert not workdir.exists()


@pytest.mark.parametrize("args,expected", [
    (["--config.train.foo=1"], "unknown config field train.foo"),
    (["--config.foo.bar=1"], "unknown config field foo.bar"),
    (["--config.model.k=3"], "model.k is now model.top_k"),  # renamed (models.RENAMED)
    (["--config.train.steps=abc"], "--config.train.steps=abc"),
])
def test_config_mistakes_are_one_line(run_train_here, tmp_path, args, expected):
    workdir = tmp_path / "w"
    line = one_line_error(run_train_here("--config", "configs/default.py", "--workdir", workdir,
                                         *args))
    assert expected in line
    assert not workdir.exists()


def test_missing_config_file_is_one_line(run_train_here, tmp_path):
    line = one_line_error(run_train_here("--config", tmp_path / "nope.py", "--workdir",
                                         tmp_path))
    assert f"config file not found: {tmp_path / 'nope.py'}" in line


def test_missing_data_folder_is_one_line_without_a_workdir(run_train_here, tmp_path):
    workdir = tmp_path / "w"
    line = one_line_error(run_train_here(
        "--config", "default", "--workdir", workdir, "--config.data.source=folder",
        f"--config.data.train_path={tmp_path / 'missing'}"))
    assert "image folder not found" in line and not workdir.exists()


def _config(**fields):
    config = configs.load("default")
    for key, value in fields.items():
        section, field = key.split("__")
        config[section][field] = value
    return config


@pytest.fixture
def no_model_setup(monkeypatch):
    """Fails the test if training gets as far as building the model."""
    def refuse(model_config):
        raise AssertionError("the model was built before the mistake was found")

    monkeypatch.setattr(loop, "build_model", refuse)


@pytest.fixture
def small_folder(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    Image.new("RGB", (10, 10)).save(folder / "tiny.png")
    (tmp_path / "empty").mkdir()
    return folder


@pytest.mark.parametrize("fields,expected", [
    (dict(train__loss="l3"), "unknown train.loss 'l3'"),
    (dict(task__channels=1), "needs a model with 1 input and output channels"),
    (dict(task__name="denoise"), "IGNN upscales x2, x3 or x4, not x1"),
    (dict(data__patch_size=25), "not a multiple of the scale 2"),
    (dict(data__patch_size=8), "needs at least"),
    (dict(data__source="folder", data__train_path="EMPTY"), "no readable"),
    (dict(data__source="folder", data__train_path="SMALL"), "no training image is at least"),
])
def test_mistakes_are_found_before_model_setup(tmp_path, small_folder, no_model_setup, fields,
                                               expected):
    fields = {k: str(tmp_path / v.lower()) if v in ("EMPTY", "SMALL") else v
              for k, v in fields.items()}
    workdir = tmp_path / "w"
    with pytest.raises(UserError, match=expected) as error:
        loop.train_and_evaluate(_config(**fields), workdir)
    assert "\n" not in str(error.value)
    assert not workdir.exists()


def test_unusable_work_directories(tmp_path, no_model_setup):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(UserError, match="is an existing file"):
        loop.train_and_evaluate(_config(), a_file)
    with pytest.raises(UserError, match="is a file"):
        loop.train_and_evaluate(_config(), a_file / "run")
    with pytest.raises(UserError, match="read-only|cannot write"):
        loop.train_and_evaluate(_config(), "/proc/jaxrestore_run")
