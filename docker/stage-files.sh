#!/bin/sh
# What the images' runtime stage gets from the build stage, laid out under DEST as it will be under /: the program,
# and from the repository (the working directory) the bundled models and data, jobs/ and what the examples run.
# Usage (in the build stage, from the repository root): sh docker/stage-files.sh BUILT_BINARY DEST
set -eu
bin=$1 dest=$2
install -D -m 0755 "$bin" "$dest/usr/local/bin/migrate"
mkdir -p "$dest/opt/migrate/tasks/arc"
cp -r README.md data jobs "$dest/opt/migrate/"
cp -r tasks/examples "$dest/opt/migrate/tasks/"
cp tasks/arc/arc_worker.py "$dest/opt/migrate/tasks/arc/"
