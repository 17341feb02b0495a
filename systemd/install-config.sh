#!/bin/sh
# Installs the default coordinatord.conf unless one is already there
# (meson install would overwrite an admin's settings). Honours DESTDIR.
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ]; then
	echo "Keeping existing $dest"
	exit 0
fi
mkdir -p "$(dirname "$dest")"
install -m 0644 "$src" "$dest"
echo "Installing $src to $dest"
