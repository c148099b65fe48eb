"""pyproject.toml ships every folder of the distribution, data folders included."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_with_files_is_a_declared_package():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = set()
    for name, folder in setuptools["package-dir"].items():
        root = ROOT / folder
        for path in [root, *root.rglob("*")]:
            if path.is_dir() and "__pycache__" not in path.parts and any(path.iterdir()):
                folders.add(".".join([name, *path.relative_to(root).parts]))
    # setuptools warns about an undeclared folder ("absent from the `packages`
    # configuration"), and will leave its files out of the wheel once it stops guessing.
    assert sorted(folders ^ set(setuptools["packages"])) == []
