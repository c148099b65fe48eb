"""Copy the static files of the kernel and every enabled plugin to one folder for nginx.

    python deploy/collect_static.py -c /etc/mercato/production.ini /srv/mercato/static

The app serves ``/static/<name>/…`` from each package's ``static`` folder; nginx serves
the same URLs from DEST/<name>/… (deploy/nginx/mercato.conf), without waking Python.
The folders are found the way the app registers them (the ``static views`` of its
configuration), so a plugin's files come along as soon as it is enabled. Run it at
every deploy, before reloading nginx. DEST is replaced whole.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pyramid.path import AssetResolver

from mercato import make_app
from mercato.exceptions import ConfigurationError
from mercato.ops.cli import DEFAULT_CONFIG, load_settings


def static_folders(app) -> dict[str, Path]:
    """``{"mercato": Path(".../kernel/static"), "catalog": ...}`` by URL name under /static/."""
    folders = {}
    for intr in app.registry.introspector.get_category("static views"):
        name, spec = intr["introspectable"]["name"], intr["introspectable"]["spec"]
        if name.startswith(("http://", "https://", "//")):
            continue  # served from another host already
        prefix = name.strip("/")
        if not prefix.startswith("static/"):
            continue
        folders[prefix.removeprefix("static/")] = Path(AssetResolver().resolve(spec).abspath())
    return folders


def collect(app, dest: Path) -> dict[str, Path]:
    folders = static_folders(app)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".static-", dir=dest.parent))
    for name, folder in folders.items():
        shutil.copytree(folder, staging / name)
    staging.chmod(0o755)
    # Swapped in whole: nginx never serves a half-copied folder.
    if dest.exists():
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old)
    else:
        staging.rename(dest)
    return folders


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("dest", type=Path, help="folder nginx serves /static/ from")
    args = parser.parse_args(argv)
    try:
        app = make_app(load_settings(args.config))
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for name, folder in collect(app, args.dest.resolve()).items():
        print(f"/static/{name}/ <- {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
