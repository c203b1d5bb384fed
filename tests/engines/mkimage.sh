#!/usr/bin/env bash
# tests/engines/mkimage.sh - print the directory of the busybox image the engine tests
# (tests/oci_engines.rs) and the OCI benchmark (tests/bench/oci.sh) run, building it once and
# caching it outside the repo. The directory holds:
#   rootfs/      tests/mkrootfs.sh's busybox-static tree (read-only use: copy it before running)
#   rootfs.tar   the same tree as a tar (`podman import`)
#   image.tar    a docker-archive of it, one layer, tagged localhost/spawnbox-busybox:latest
#                (`docker load`, `ctr images import`, `podman load`)
#   name         the image's name and tag
# Written here byte by byte (tar --sort=name --mtime=@0 --numeric-owner, fixed JSON), so the
# same inputs give the same image digest, and no engine runs to make it.
#
# The directory is $CACHE/busybox-KEY, KEY a short sha256 of this script, tests/mkrootfs.sh
# and the busybox binary, as tests/guests/mkguest.sh keys its trees: a change to any of them
# builds a new image. A build goes to a temp dir in $CACHE and is renamed into place when
# complete, under a flock (concurrent callers build once).
# Environment: SPAWNBOX_IMAGE_CACHE (default /var/cache/spawnbox-images), BUSYBOX (default
# /bin/busybox, from busybox-static). Needs root (ownership in the tree). stdout: the path.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${SPAWNBOX_IMAGE_CACHE:-/var/cache/spawnbox-images}
BB=${BUSYBOX:-/bin/busybox}
NAME=localhost/spawnbox-busybox:latest
die() { printf 'mkimage: error: %s\n' "$*" >&2; exit 1; }
[ -f "$BB" ] || die "$BB missing (make deps installs busybox-static)"
key=$(for f in "$HERE/mkimage.sh" "$REPO/tests/mkrootfs.sh" "$BB"; do
    printf '%s %s\n' "${f#"$REPO"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
done | sha256sum | cut -c1-12)
final=$CACHE/busybox-$key
if [ -f "$final/name" ]; then printf '%s\n' "$final"; exit 0; fi
[ "$(id -u)" = 0 ] || die "building the image needs root (ownership in the tree)"
mkdir -p "$CACHE" && chmod 0755 "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "timed out waiting for $CACHE/.lock"
if [ -f "$final/name" ]; then printf '%s\n' "$final"; exit 0; fi
tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
BUSYBOX=$BB bash "$REPO/tests/mkrootfs.sh" "$tmp/rootfs"
tar -C "$tmp/rootfs" --sort=name --mtime=@0 --numeric-owner --format=gnu -cf "$tmp/rootfs.tar" .
layer=$(sha256sum <"$tmp/rootfs.tar" | cut -d' ' -f1)
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
mkdir -p "$tmp/archive/$layer"
cp "$tmp/rootfs.tar" "$tmp/archive/$layer/layer.tar"
printf '%s' '{"architecture":"'"$arch"'","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer"'"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"tests/engines/mkimage.sh"}]}' >"$tmp/config.json"
config=$(sha256sum <"$tmp/config.json" | cut -d' ' -f1)
mv "$tmp/config.json" "$tmp/archive/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config" "$NAME" "$layer" >"$tmp/archive/manifest.json"
printf '{"%s":{"%s":"%s"}}' "${NAME%:*}" "${NAME##*:}" "$layer" >"$tmp/archive/repositories"
tar -C "$tmp/archive" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$tmp/image.tar" .
rm -rf "$tmp/archive"
printf '%s\n' "$NAME" >"$tmp/name"
chmod 0755 "$tmp"
mv -T "$tmp" "$final"
trap - EXIT
printf '%s\n' "$final"
