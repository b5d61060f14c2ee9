#!/usr/bin/env bash
# Download CIFAR-10 (python version) and unpack it next to this script as cifar-10-batches-py/.
#
# With HW1_CIFAR10_ARCHIVE=/path/to/cifar-10-python.tar.gz set, that local copy is unpacked instead
# (no download and no md5 check: it is your own file). Works with bash on Linux and macOS.
set -euo pipefail

URL="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5="c58f30108f718f92721af3b95e74349a"
ARCHIVE="cifar-10-python.tar.gz"
FOLDER="cifar-10-batches-py"

die() {
  echo "get_datasets.sh: $*" >&2
  exit 1
}

md5_of() {
  if command -v md5sum >/dev/null 2>&1; then
    md5sum "$1" | cut -d ' ' -f 1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q "$1"
  else
    die "need md5sum or md5 to check the download"
  fi
}

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -O "$2" "$1"
  else
    die "need curl or wget to download $1"
  fi
}

# A relative HW1_CIFAR10_ARCHIVE means relative to where the script was started.
local_archive="${HW1_CIFAR10_ARCHIVE:-}"
case "$local_archive" in
  "" | /*) ;;
  *) local_archive="$PWD/$local_archive" ;;
esac

cd "$(dirname "$0")"
if [ -e "$FOLDER" ]; then
  echo "$FOLDER is already here; remove it to fetch it again"
  exit 0
fi

# Everything happens in a scratch folder, so a failed run leaves nothing half done behind.
scratch="$(mktemp -d ".get_datasets.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

if [ -n "$local_archive" ]; then
  [ -f "$local_archive" ] || die "HW1_CIFAR10_ARCHIVE=$local_archive is not a file"
  archive="$local_archive"
else
  archive="$scratch/$ARCHIVE"
  download "$URL" "$archive" || die "could not download $URL"
  sum="$(md5_of "$archive")"
  [ "$sum" = "$MD5" ] || die "$ARCHIVE has md5 $sum, expected $MD5 (incomplete or altered download)"
fi

tar -xzf "$archive" -C "$scratch" || die "could not unpack $archive (truncated or corrupt?)"
for name in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta; do
  [ -f "$scratch/$FOLDER/$name" ] || die "$archive has no $FOLDER/$name"
done
mv "$scratch/$FOLDER" "$FOLDER"
echo "CIFAR-10 is in $(pwd)/$FOLDER"
