#!/usr/bin/env python3
"""Vendor the GraphQL playground's browser files into the package, so it works offline.

Takes GraphiQL, its explorer plugin, React and ReactDOM from the npm registry at the pinned
versions below (the ones strawberry's stock GraphiQL page loads from a CDN), checks each
tarball against its pinned integrity, and writes what ships to reels/http/static/graphiql/:
one folder per package and version (so the files can be cached forever) and VENDORED.md with
the versions, the licences and the licence texts, including those of the packages GraphiQL's
bundle has compiled in.

Needs `npm` on the PATH. Run it from anywhere, then commit its output:

    python3 scripts/vendor_playground.py

To upgrade, change a version, empty its `integrity`, run the script (it prints the new
integrity and stops), paste that in and run it again; then update STYLESHEETS and SCRIPTS in
reels/http/playground.py, whose paths name the versions.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from npm_tarballs import member_bytes, npm, pack

OUTPUT = Path(__file__).resolve().parent.parent / "reels" / "http" / "static" / "graphiql"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    #: path inside the tarball (below `package/`) -> file name as shipped
    files: dict[str, str]
    #: where the licence text is: a path in this tarball, or (package, version, path) of another
    licence: str | tuple[str, str, str] = "LICENSE"
    #: packages compiled into the shipped files, (name, version), whose licences ship too
    bundles: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def folder(self) -> str:
        return f"{self.name.removeprefix('@').replace('/', '-')}-{self.version}"


SHIPPED = [
    Package(
        "react",
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        {"umd/react.production.min.js": "react.production.min.js"},
    ),
    Package(
        "react-dom",
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js"},
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"},
    ),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
        {"dist/index.umd.js": "index.umd.js", "dist/style.css": "style.css"},
        # The package ships no licence file; it is MIT, from the same repository as graphiql.
        licence=("graphiql", "3.8.3", "LICENSE"),
        bundles=(("graphiql-explorer", "0.9.0"),),
    ),
]

#: GraphiQL's UMD bundle names each compiled-in module by its node_modules path.
BUNDLED_MODULE = re.compile(r"\.\./node_modules/((?:@[\w.-]+/)?[\w.-]+)/")
#: In graphiql's bundle but not among its install dependencies (build-time or optional peers).
BUNDLE_ONLY_DEPENDENCIES = [
    "react@18.2.0",
    "react-dom@18.2.0",
    "graphql@16",
    "graphql-ws@5",
    "@babel/runtime@7",
    "isarray",
]
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying)(\.(md|txt))?$|^licen[cs]e-mit(\.txt)?$", re.IGNORECASE)


def member_text(tarball: tarfile.TarFile, path: str) -> str:
    return member_bytes(tarball, path).decode()


def licence_text(package: Package, tarball: tarfile.TarFile, workdir: Path) -> str:
    if isinstance(package.licence, str):
        return fenced(member_text(tarball, package.licence))
    name, version, path = package.licence
    source = f"The package ships no licence file; this is the one {name} {version} ships from the same repository.\n\n"
    return source + fenced(member_text(pack(name, version, workdir), path))


@dataclass(frozen=True)
class Bundled:
    name: str
    version: str
    licence: str
    text: str | None


def resolve_bundled(names: set[str], workdir: Path, released: datetime) -> list[Bundled]:
    """The licence of each package compiled into graphiql's bundle, from the versions npm
    resolved as of graphiql's release (the bundle records names, not versions)."""
    tree = workdir / "graphiql-tree"
    tree.mkdir()
    (tree / "package.json").write_text('{"private": true}')
    npm(
        "install",
        "--no-save",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        # the day after the release, so graphiql itself is there
        f"--before={(released + timedelta(days=1)).date().isoformat()}",
        "graphiql@3.8.3",
        *BUNDLE_ONLY_DEPENDENCIES,
        cwd=tree,
    )
    found = []
    for name in sorted(names):
        manifests = sorted(tree.glob(f"node_modules/**/node_modules/{name}/package.json")) or sorted(
            tree.glob(f"node_modules/{name}/package.json")
        )
        if not manifests:
            sys.exit(
                f"{name} is compiled into graphiql's bundle but npm did not install it: add it to BUNDLE_ONLY_DEPENDENCIES"
            )
        manifest = manifests[0]
        meta = json.loads(manifest.read_text())
        licence_files = sorted(p for p in manifest.parent.iterdir() if LICENCE_FILE.match(p.name))
        text = licence_files[0].read_text() if licence_files else None
        found.append(Bundled(name, meta["version"], meta.get("license", "UNKNOWN"), text))
    return found


def fenced(text: str) -> str:
    return "````text\n" + text.strip() + "\n````\n"


def main() -> None:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    shipped_rows, licence_sections, bundled_sections = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for package in SHIPPED:
            tarball = pack(package.name, package.version, workdir, package.integrity)
            meta = json.loads(member_text(tarball, "package.json"))
            folder = OUTPUT / package.folder
            folder.mkdir()
            for source, shipped in package.files.items():
                (folder / shipped).write_bytes(member_bytes(tarball, source))
            files = ", ".join(f"`{package.folder}/{shipped}`" for shipped in package.files.values())
            shipped_rows.append(f"| {package.name} | {package.version} | {meta['license']} | {files} |")
            licence_sections.append(
                f"### {package.name} {package.version}\n\n{licence_text(package, tarball, workdir)}"
            )
            for name, version in package.bundles:
                bundled = pack(name, version, workdir)
                bundled_meta = json.loads(member_text(bundled, "package.json"))
                shipped_rows.append(
                    f"| {name} (compiled into {package.name}) | {version} | {bundled_meta['license']} | |"
                )
                licence_sections.append(f"### {name} {version}\n\n{fenced(member_text(bundled, 'LICENSE'))}")

        graphiql_js = (OUTPUT / SHIPPED[2].folder / "graphiql.min.js").read_text()
        released = datetime.fromisoformat(json.loads(npm("view", "graphiql", "time", "--json", cwd=workdir))["3.8.3"])
        for bundled in resolve_bundled(set(BUNDLED_MODULE.findall(graphiql_js)), workdir, released):
            text = (
                fenced(bundled.text)
                if bundled.text
                else f"The package is {bundled.licence} and ships no licence file.\n"
            )
            bundled_sections.append((bundled, f"#### {bundled.name} {bundled.version}\n\n{text}"))

    bundled_rows = [f"| {b.name} | {b.version} | {b.licence} |" for b, _ in bundled_sections]
    document = "\n".join(
        [
            "# Vendored playground files",
            "",
            "Written by `scripts/vendor_playground.py` from the npm registry; do not edit by hand. The",
            "playground page (`reels/http/playground.py`) loads only these and its own files, so it works",
            "without internet. Each tarball is checked against the integrity pinned in the script.",
            "",
            "| package | version | licence | files |",
            "|---|---|---|---|",
            *shipped_rows,
            "",
            "## Compiled into graphiql.min.js",
            "",
            "GraphiQL's browser bundle carries these packages inside it. The bundle names them but not",
            f"their versions: the versions below are those npm resolves for graphiql 3.8.3 as of its release ({released.date().isoformat()}).",
            "",
            "| package | version | licence |",
            "|---|---|---|",
            *bundled_rows,
            "",
            "## Licence texts",
            "",
            *licence_sections,
            "### Compiled into graphiql.min.js",
            "",
            *(section for _, section in bundled_sections),
        ]
    )
    (OUTPUT / "VENDORED.md").write_text(document)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
