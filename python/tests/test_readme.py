"""The Python example of README.md, run as it is printed there."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_example(capsys):
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to python/ (an unpacked sdist?)")
    spec = importlib.util.spec_from_file_location(
        "extract", ROOT / "scripts" / "extract_readme_example.py")
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    code = extract.extract(readme.read_text(encoding="utf-8"), "python")
    exec(compile(code, "README.md (python example)", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "(2, 8, 128, 64) (2, 8, 128)"
    assert printed[1] == (
        "shape_mismatch 6 fattn_forward: key.shape[3] (head_dim) = 32 != "
        "query.shape[3] (head_dim) = 64: query and key must have the same "
        "head_dim")
