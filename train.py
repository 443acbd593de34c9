"""Train a restoration model: `python train.py --config configs/default.py --workdir runs/x`.

Override any config field with `--config.section.field=value` (e.g. `--config.train.steps=50`).
Restarting with the same --workdir resumes from its newest checkpoint. The same tool is
installed as `jaxrestore train`; see jaxrestore/cli/train.py.
"""
from jaxrestore.cli.train import run

if __name__ == "__main__":
    run()
