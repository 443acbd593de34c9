"""Command-line tools: `jaxrestore train|eval|convert|export` (also `python train.py`,
`python eval.py`). Each prints a user mistake as one line on stderr and exits non-zero."""
