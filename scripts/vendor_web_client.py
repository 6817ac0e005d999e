#!/usr/bin/env python3
"""Vendor the web client's one library, hls.js, into the package, so `/` needs no CDN.

Takes hls.js from the npm registry at the pinned version below, checks the tarball against its
pinned integrity, and writes what ships to reels/http/static/web/vendor/: one folder per
package and version and VENDORED.md with the version, the licence and the licence texts,
including those of the packages hls.js compiles into its bundle (its build's devDependencies).

Needs `npm` on the PATH. Run it from anywhere, then commit its output:

    python3 scripts/vendor_web_client.py

To upgrade, change the version, empty its `integrity`, run the script (it prints the new
integrity and stops), paste that in and run it again; then update HLS_SCRIPT in
reels/http/static/web/player.js, whose path names the version.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from npm_tarballs import member_bytes, pack

OUTPUT = Path(__file__).resolve().parent.parent / "reels" / "http" / "static" / "web" / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    #: path inside the tarball (below `package/`) -> file name as shipped
    files: dict[str, str]
    #: packages compiled into the shipped files; their versions come from this package's devDependencies
    bundles: tuple[str, ...]

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


# The light build: playback and adaptive bitrate without subtitles, alternate audio or DRM,
# which reels do not have.
HLS = Package(
    "hls.js",
    "1.5.20",
    "sha512-uu0VXUK52JhihhnN/MVVo1lvqNNuhoxkonqgO3IpjvQiGpJBdIXMGkofjQb/j9zvV7a1SW8U9g1FslWx/1HOiQ==",
    {"dist/hls.light.min.js": "hls.light.min.js"},
    bundles=("eventemitter3", "url-toolkit"),
)


def licence_section(name: str, version: str, tarball: tarfile.TarFile, licence: str) -> str:
    licence_files = [
        member.name
        for member in tarball.getmembers()
        if member.name.count("/") == 1 and Path(member.name).stem.lower() in ("license", "licence", "copying")
    ]
    if not licence_files:
        return f"### {name} {version}\n\nThe package is {licence} and ships no licence file.\n"
    text = member_bytes(tarball, licence_files[0].removeprefix("package/")).decode().strip()
    return f"### {name} {version}\n\n````text\n{text}\n````\n"


def main() -> None:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tarball = pack(HLS.name, HLS.version, workdir, HLS.integrity)
        meta = json.loads(member_bytes(tarball, "package.json"))
        folder = OUTPUT / HLS.folder
        folder.mkdir()
        for source, shipped in HLS.files.items():
            (folder / shipped).write_bytes(member_bytes(tarball, source))
        files = ", ".join(f"`{HLS.folder}/{shipped}`" for shipped in HLS.files.values())
        rows = [f"| {HLS.name} | {HLS.version} | {meta['license']} | {files} |"]
        sections = [licence_section(HLS.name, HLS.version, tarball, meta["license"])]
        for name in HLS.bundles:
            version = meta["devDependencies"][name].lstrip("^~")
            bundled = pack(name, version, workdir)
            bundled_meta = json.loads(member_bytes(bundled, "package.json"))
            rows.append(f"| {name} (compiled into {HLS.name}) | {version} | {bundled_meta['license']} | |")
            sections.append(licence_section(name, version, bundled, bundled_meta["license"]))

    document = "\n".join(
        [
            "# Vendored web client files",
            "",
            "Written by `scripts/vendor_web_client.py` from the npm registry; do not edit by hand. The",
            "web client at `/` loads only these and its own files, so it works without internet. The",
            "tarball is checked against the integrity pinned in the script.",
            "",
            "| package | version | licence | files |",
            "|---|---|---|---|",
            *rows,
            "",
            "## Licence texts",
            "",
            *sections,
        ]
    )
    (OUTPUT / "VENDORED.md").write_text(document)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
