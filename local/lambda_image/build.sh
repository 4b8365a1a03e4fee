#!/usr/bin/env bash
# The Lambda Python 3.13 base image for `sam local`, as `make run-sam` needs it (docs/local-stack.md).
#
# 1. The official image already here (pulled, or a stand-in this script built from the same inputs): use it.
# 2. Else pull the official image from public.ecr.aws.
# 3. Else (no image registry reachable) build a stand-in, laid out as the official image is, from packages
#    this machine can reach: a Debian rootfs (debootstrap, the host's release), the CPython 3.13 that pyenv
#    ships here as /var/lang, and the official runtime interface client `awslambdaric` from PyPI behind
#    /var/runtime/bootstrap. It is tagged with the official name, so `sam local --skip-pull-image` runs it.
#    The finished rootfs is cached as a tarball keyed on these inputs: a second run only `docker import`s it.
# Prints the image name on stdout; progress goes to stderr.
set -euo pipefail

ARCH_DOCKER=$(docker version --format '{{.Server.Arch}}')           # amd64 or arm64
case "$ARCH_DOCKER" in amd64) ARCH=x86_64 ;; arm64) ARCH=arm64 ;; *) echo "lambda image: unsupported architecture $ARCH_DOCKER" >&2; exit 1 ;; esac
IMAGE="public.ecr.aws/lambda/python:3.13-$ARCH"
PYTHON_HOME=${LAMBDA_IMAGE_PYTHON:-/root/.pyenv/versions/3.13.0}
AWSLAMBDARIC=awslambdaric==4.2.2
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
. /etc/os-release
SUITE=$VERSION_CODENAME
# The shared libraries pyenv's CPython and its extension modules link against (checked with ldd in the image).
PACKAGES=ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libexpat1,libuuid1,libreadline8,libncursesw6,libtinfo6
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${LAMBDA_IMAGE_CACHE:-$HERE/../../.cache/lambda-image}

KEY=$( { cat "$0" "$HERE/bootstrap" "$HERE/lambda-entrypoint.sh"; echo "$SUITE $ARCH $AWSLAMBDARIC $PACKAGES"; "$PYTHON_HOME/bin/python3.13" -VV 2>/dev/null || echo none; } | sha256sum | cut -c1-16)

existing_key() { docker image inspect --format '{{index .Config.Labels "standin.key"}}' "$IMAGE" 2>/dev/null; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  found=$(existing_key)
  if [ -z "$found" ] || [ "$found" = "<no value>" ] || [ "$found" = "$KEY" ]; then
    echo "lambda image: using $IMAGE (${found:+stand-in $found}${found:-official})" >&2
    echo "$IMAGE"; exit 0
  fi
  echo "lambda image: stand-in $found is stale (inputs now $KEY): rebuilding" >&2
elif [ "${LAMBDA_IMAGE_PULL:-yes}" = yes ] && timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  echo "lambda image: pulled the official $IMAGE" >&2
  echo "$IMAGE"; exit 0
else
  echo "lambda image: $IMAGE cannot be pulled here (no image registry reachable); using a stand-in" >&2
fi

TARBALL="$CACHE_DIR/rootfs-$SUITE-$ARCH-$KEY.tar"
if [ ! -f "$TARBALL" ]; then
  if [ ! -x "$PYTHON_HOME/bin/python3.13" ]; then
    echo "lambda image: no CPython 3.13 at $PYTHON_HOME (set LAMBDA_IMAGE_PYTHON)" >&2; exit 1
  fi
  if ! command -v debootstrap >/dev/null; then
    echo "lambda image: debootstrap is missing: apt-get install debootstrap" >&2; exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "lambda image: building the stand-in needs root (debootstrap); or pull $IMAGE where a registry is reachable" >&2; exit 1
  fi
  mkdir -p "$CACHE_DIR"
  WORK=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  ROOTFS="$WORK/rootfs"
  echo "lambda image: debootstrap $SUITE ($ARCH_DOCKER) from $DEBIAN_MIRROR" >&2
  debootstrap --variant=minbase --arch="$ARCH_DOCKER" --include="$PACKAGES" "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >&2
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  # /var/lang: the interpreter, as the official image has it (without its test suite and Tk).
  mkdir -p "$ROOTFS/var/lang" "$ROOTFS/var/runtime" "$ROOTFS/var/task" "$ROOTFS/opt"
  tar -C "$PYTHON_HOME" \
    --exclude='lib/python3.13/test' --exclude='lib/python3.13/idlelib' --exclude='lib/python3.13/tkinter' \
    --exclude='lib/python3.13/turtledemo' --exclude='lib/python3.13/lib-dynload/_tkinter*' \
    --exclude='lib/libpython3.13.a' --exclude='__pycache__' -cf - . | tar -C "$ROOTFS/var/lang" -xf -
  # /var/runtime: the runtime interface client and the bootstrap the runtime interface emulator starts.
  "$PYTHON_HOME/bin/python3.13" -m pip install --quiet --no-compile --only-binary=:all: \
    --platform "manylinux2014_$ARCH" --implementation cp --python-version 3.13 \
    --target "$ROOTFS/var/runtime" "$AWSLAMBDARIC" >&2
  cp "$HERE/bootstrap" "$ROOTFS/var/runtime/bootstrap"
  cp "$HERE/lambda-entrypoint.sh" "$ROOTFS/lambda-entrypoint.sh"
  chmod 755 "$ROOTFS/var/runtime/bootstrap" "$ROOTFS/lambda-entrypoint.sh"
  tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.part" .
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$WORK"; trap - EXIT
  # Older tarballs are from other inputs.
  find "$CACHE_DIR" -maxdepth 1 -name "rootfs-*.tar" ! -name "$(basename "$TARBALL")" -delete
else
  echo "lambda image: reusing $TARBALL" >&2
fi

# The official image's configuration (docker inspect public.ecr.aws/lambda/python:3.13).
docker import \
  --change 'ENV LANG=en_US.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  --change "LABEL standin.key=$KEY standin.source=debootstrap-$SUITE+pyenv-cpython-3.13+$AWSLAMBDARIC" \
  "$TARBALL" "$IMAGE" >/dev/null
echo "lambda image: built stand-in $IMAGE ($KEY)" >&2
echo "$IMAGE"
