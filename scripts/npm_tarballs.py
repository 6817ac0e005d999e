"""What both vendoring scripts take from the npm registry: a package's tarball, checked against
its pinned integrity, and the files inside it."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path


def npm(*args: str, cwd: Path) -> str:
    done = subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"npm {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def pack(name: str, version: str, workdir: Path, integrity: str | None = None) -> tarfile.TarFile:
    """The package's tarball from the registry, checked against its pinned integrity."""
    [packed] = json.loads(npm("pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir), cwd=workdir))
    if integrity == "":
        sys.exit(f"{name}@{version}: pin its integrity {packed['integrity']}")
    if integrity is not None and packed["integrity"] != integrity:
        sys.exit(f"{name}@{version}: the registry's integrity is {packed['integrity']}, pinned {integrity}")
    return tarfile.open(workdir / packed["filename"])


def member_bytes(tarball: tarfile.TarFile, path: str) -> bytes:
    handle = tarball.extractfile(f"package/{path}")
    if handle is None:
        raise FileNotFoundError(path)
    return handle.read()
