#!/usr/bin/env bash
# scripts/image.sh engine|build|save: build the portal's image from the unchanged Dockerfile and
# export it as a .tar, with Docker when an engine answers, else with Debian's podman.
#
#   engine   print the engine that will be used (docker or podman), setting podman up if needed
#   build    build $IMAGE (default incident-portal:latest) from the Dockerfile
#   save     export $IMAGE to $IMAGE_TAR (default incident-portal.tar), loadable by docker and podman
#
# With podman (no Docker engine; needs root the first time), each step is explained as it runs:
# install podman + runc + mmdebstrap, configure them for a host without systemd, and, when no
# registry serves python:3.11-slim, bootstrap a stand-in of that name from the Debian mirror apt
# already uses. The Dockerfile keeps `FROM python:3.11-slim`; the stand-in only satisfies the name
# locally. CONTAINER_ENGINE=docker|podman skips the detection.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-incident-portal:latest}
IMAGE_TAR=${IMAGE_TAR:-incident-portal.tar}
BASE=docker.io/library/python:3.11-slim
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
PODMAN_CONF=/etc/containers/containers.conf.d/50-incident-portal.conf

WORK=""  # the stand-in's root filesystem is made here, and removed however the script ends
trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT

say() { echo "image: $*" >&2; }

# --- which engine ---------------------------------------------------------------------------

engine() {
  if [ -n "${CONTAINER_ENGINE:-}" ]; then
    echo "$CONTAINER_ENGINE"
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    echo docker
  else
    echo podman
  fi
}

# --- podman on a host without Docker, systemd or an image registry --------------------------

install_podman() {
  # podman builds and runs OCI images without a daemon; runc is the runtime that works on this
  # kernel's cgroups v1; mmdebstrap makes a Debian root filesystem when no registry has the base.
  local binary
  for binary in /usr/bin/podman /usr/sbin/runc /usr/bin/mmdebstrap; do
    scripts/ensure-debian-package "$binary" "$(basename "$binary")" "building the image without Docker"
  done
}

configure_podman() {
  # A drop-in beside any existing containers.conf: runc with cgroupfs and a file event log need
  # no systemd. podman's default ulimits ask for more than this host lets root set ("error
  # setting rlimit type 7", then 6): open files up to the host's hard limit, processes up to that
  # and to kernel.pid_max (40000 was refused with pid_max 32768 and a hard limit of 96363).
  local nofile nproc pid_max wanted
  nofile=$(ulimit -Hn) nproc=$(ulimit -Hu) pid_max=$(cat /proc/sys/kernel/pid_max)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=$pid_max
  [ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
  wanted=$(printf '%s\n' \
    "# Written by the incident portal's scripts/image.sh: podman on a host without systemd." \
    "[containers]" \
    "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]" \
    "[engine]" \
    "runtime = \"runc\"" \
    "cgroup_manager = \"cgroupfs\"" \
    "events_logger = \"file\"")
  if [ "$(cat "$PODMAN_CONF" 2>/dev/null)" != "$wanted" ]; then
    say "configuring podman in $PODMAN_CONF (runc, cgroupfs, file events, nofile=$nofile)"
    mkdir -p "$(dirname "$PODMAN_CONF")"
    echo "$wanted" >"$PODMAN_CONF"
  fi
}

debian_mirror() {
  # The first Debian archive apt is configured with (deb822 .sources files, then one-line .list
  # files), skipping the security archive: mmdebstrap fetches the same packages apt would.
  {
    awk 'BEGIN { RS = ""; FS = "\n" }
         /(^|\n)Types:[^\n]*deb([ \n]|$)/ && !/(^|\n)Enabled: *no/ {
           for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, f, " "); print f[2] }
         }' /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed -nE 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  } | grep -E '/debian/?$' | head -n1 || true
}

ensure_base() {
  if podman image exists "$BASE"; then
    return
  fi
  say "looking for $BASE in the configured registries"
  if timeout 120 podman pull -q "$BASE" >/dev/null 2>&1; then
    return
  fi
  local mirror started
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { say "no Debian mirror in apt's sources; cannot bootstrap $BASE"; exit 1; }
  say "no registry serves $BASE: bootstrapping a stand-in from $mirror (bookworm, Python 3.11)"
  started=$SECONDS
  WORK=$(mktemp -d)
  # What the Dockerfile relies on: python and pip on PATH as /usr/local/bin/python and pip, pip
  # allowed to install system-wide (Debian marks its Python "externally managed"), CA certificates.
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates \
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"' \
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python3"' \
    --customize-hook='ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"' \
    --customize-hook='rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED' \
    bookworm "$WORK/rootfs.tar" "$mirror" </dev/null
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$WORK/rootfs.tar" "$BASE" >/dev/null
  say "stand-in $BASE ready in $((SECONDS - started)) s"
}

setup() {
  # Prints the engine; with podman, installs and configures it and makes sure the base exists.
  local name
  name=$(engine)
  if [ "$name" = podman ]; then
    install_podman
    configure_podman
    ensure_base
  fi
  echo "$name"
}

# --- build and export -----------------------------------------------------------------------

build() {
  local name previous current
  name=$(setup)
  previous=$($name image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  say "building $IMAGE with $name"
  if [ "$name" = docker ]; then
    docker build --pull -t "$IMAGE" .
  else
    # --pull=never: the base is local (pulled or the stand-in). pip inside RUN goes through this
    # host's network, which may inspect TLS with its own CA: the host's bundle is mounted for the
    # build only and never becomes part of the image.
    local ca=()
    [ -f "$CA_BUNDLE" ] && ca=(-v "$CA_BUNDLE:$CA_BUNDLE:ro")
    podman build --pull=never --format docker "${ca[@]}" -t "$IMAGE" .
  fi
  # The build it replaces, now nameless, would otherwise pile up; kept if a container uses it.
  current=$($name image inspect --format '{{.Id}}' "$IMAGE")
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    $name rmi "$previous" >/dev/null 2>&1 || true
  fi
}

save() {
  local name
  name=$(engine)
  say "exporting $IMAGE to $IMAGE_TAR"
  if [ "$name" = docker ]; then
    docker save -o "$IMAGE_TAR" "$IMAGE"
  else
    rm -f "$IMAGE_TAR"  # podman refuses to overwrite
    podman save --quiet --format docker-archive -o "$IMAGE_TAR" "$IMAGE"
  fi
  say "$IMAGE_TAR: $(( $(stat -c %s "$IMAGE_TAR") / 1000000 )) MB"
}

case "${1:-}" in
  engine) setup ;;
  build) build ;;
  save) save ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
