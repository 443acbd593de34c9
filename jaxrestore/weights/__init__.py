"""Weights released by other projects: read them without running code, recognise their
architecture, convert them into jaxrestore checkpoints.

- `pth`: torch's `.pth` files (zip and legacy layouts) read without torch by a restricted
  unpickler;
- `state_dict`: one reader for `.pth`/`.pt`, `.safetensors` and `.npz` state dicts (wrappers and
  `module.` prefixes removed), safetensors writing, the source file's sha256;

Recognising and converting architectures is `jaxrestore.architectures` (the table) with
`jaxrestore.convert` (IGNN) and `jaxrestore.convert_dncnn`.
"""
