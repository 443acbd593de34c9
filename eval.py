"""Evaluate a checkpoint on a benchmark folder, or restore your own images.

    python eval.py --checkpoint runs/ignn_tiny_x2 --data ../shared/data/Set5 --out out/set5
    python eval.py restore --checkpoint runs/ignn_x2 photo.png more_photos/ --out restored/

The same tool is installed as `jaxrestore eval`; `--help` lists everything
(jaxrestore/cli/eval.py).
"""
import sys

from jaxrestore.cli.eval import main

if __name__ == "__main__":
    sys.exit(main())
