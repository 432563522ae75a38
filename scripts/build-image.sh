#!/usr/bin/env bash
# Build the tension-worker image from deploy/Dockerfile with buildah (no container engine needed), then
# smoke-run it: non-root user, `--version`, `classify` on the seed article with the network off, the int8
# graph prebuilt (no build at start), the image size.
#
#   scripts/build-image.sh                       # base python:3.11.14-slim-bookworm, torch from the PyTorch index
#   LOCAL_BASE=1 WHEELS=/opt/wheels CA=/etc/ssl/certs/ca-certificates.crt scripts/build-image.sh
#       LOCAL_BASE=1: make the base here (mmdebstrap: Debian bookworm + python3 3.11) when no image registry
#       is reachable; WHEELS: a directory holding the torch 2.13.0 CPU wheel; CA: a CA bundle for a TLS proxy
#       in front of the package registries.
# Needs: buildah (and mmdebstrap for LOCAL_BASE). Prints one JSON line of facts at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
TAG=${TAG:-localhost/tension-worker:${VERSION}}
BASE=${BASE:-}
args=()
if [[ -n "${LOCAL_BASE:-}" ]]; then
    BASE=localhost/bookworm-python3:3.11
    if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
        tmp=$(mktemp -d)
        mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$tmp/rootfs.tar"
        ctr=$(buildah from scratch)
        buildah add "$ctr" "$tmp/rootfs.tar" / >/dev/null
        buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
        buildah commit -q "$ctr" "$BASE" >/dev/null
        buildah rm "$ctr" >/dev/null
        rm -rf "$tmp"
    fi
fi
[[ -n "$BASE" ]] && args+=(--build-arg "PYTHON_IMAGE=$BASE")
[[ -n "${WHEELS:-}" ]] && args+=(--volume "$WHEELS:/wheels:ro" --build-arg TORCH_FIND_LINKS=/wheels)
if [[ -n "${CA:-}" ]]; then
    args+=(--volume "$CA:/etc/ssl/certs/build-ca.pem:ro" --build-arg PIP_CERT=/etc/ssl/certs/build-ca.pem
           --build-arg SSL_CERT_FILE=/etc/ssl/certs/build-ca.pem)
fi
started=$(date +%s)
buildah bud --isolation chroot --network host -f deploy/Dockerfile -t "$TAG" "${args[@]}" .
built=$(( $(date +%s) - started ))

# --- smoke run: no network, as the image's user ---
ctr=$(buildah from "$TAG")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
# chroot isolation shares the host's network; a new, empty network namespace takes it away
run() { unshare --net buildah run --isolation chroot "$ctr" -- "$@"; }
uid=$(run id -u)
version=$(run tension-worker --version)
seed=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' seeds/000_92090ce90e0505e5.json)
started=$(date +%s)
result=$(echo "$seed" | run tension-worker classify --no-progress 2>/tmp/build-image-classify.log)
classify_s=$(( $(date +%s) - started ))
graph_built=$(grep -c "Fused\|quantiz" /tmp/build-image-classify.log || true)
size=$(buildah images --noheading --format '{{.Size}}' "$TAG")
python3 - "$uid" "$version" "$result" "$graph_built" "$size" "$built" "$classify_s" "$TAG" <<'PY'
import json, sys
uid, version, result, graph_built, size, built, classify_s, tag = sys.argv[1:]
alert = json.loads(result)
print(json.dumps({"tag": tag, "uid": int(uid), "version": version.strip(), "seed_alert": alert["alert"],
                  "seed_level": alert["tension"]["level"], "int8_graph_built_at_start": int(graph_built) > 0,
                  "image_size": size, "build_seconds": int(built), "classify_seconds": int(classify_s)}))
PY
