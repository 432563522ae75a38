"""Print deploy/constraints.txt: exact versions of every runtime dependency of the installed project (the
closure of its requirements without extras), so the image build is reproducible.

    python3 scripts/constraints.py > deploy/constraints.txt
"""

from __future__ import annotations

import importlib.metadata as md

from packaging.requirements import Requirement

HEADER = """\
# Exact versions of every runtime dependency (the closure of `pip install .`), as tested; the image build
# installs with `-c deploy/constraints.txt` so it is reproducible. Regenerate after changing pyproject.toml:
#   python3 scripts/constraints.py > deploy/constraints.txt
"""


def closure(name: str = "tension-worker") -> dict[str, str]:
    """{distribution name: installed version} of ``name``'s runtime requirements, recursively."""
    seen: dict[str, str] = {}
    todo = [name]
    while todo:
        dist_name = todo.pop()
        key = dist_name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            continue
        seen[key] = dist.version.split("+")[0]  # torch 2.13.0+cpu: "==2.13.0" matches it (PEP 440)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    seen.pop(name, None)
    return seen


def main() -> None:
    print(HEADER + "".join(f"{k}=={v}\n" for k, v in sorted(closure().items())), end="")


if __name__ == "__main__":
    main()
