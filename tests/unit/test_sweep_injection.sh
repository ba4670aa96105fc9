#!/usr/bin/env bash
# Hostile names in every place where `migrate sweep` puts a string the user controls into the array job script, its
# manifest or the sbatch command it prints: the config's folder and file name (-> the job name), --set and --grid
# values, --sbatch-args, the sweep folder (--out), the working directory and the migrate binary's path. Each either
# arrives intact as one argument (stand-in sbatch and srun record what they get) or is refused with one line; no
# payload ever runs. Needs no Slurm.
# Usage: test_sweep_injection.sh BUILD_DIR   (run from the repository root)
set -u
ROOT=$PWD
BIN=$(realpath "$1/migrate")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source tests/checks.sh  # check, expect, $passed, $failed
# args_are FILE ARG...: FILE holds exactly these arguments, NUL-separated (what the stand-ins record)
args_are() {
    local f=$1
    shift
    cmp -s "$f" <(printf '%s\0' "$@") && return 0
    echo "  got:"; tr '\0' '\n' <"$f" | cat -A | sed 's/^/    /'
    echo "  want:"; printf '%s\n' "$@" | cat -A | sed 's/^/    /'
    return 1
}
# Every character that means something to bash or to Slurm's #SBATCH parser (no '/', so it can name a file; no ','
# so it can be a --grid value). Its payloads would create a file named pwned where they run.
H=$'-x y;z&w%A\'u"t$(touch pwned)`touch pwned`}{*?[a]<>|#~\\'
NL=$'\ntouch pwned\n'  # the same on a line of its own
# No canary since the last check (each check removes those it finds, so it speaks for its own section).
nothing_ran() {
    local found
    found=$( (find "$ROOT" -maxdepth 1 -name pwned; find "$TMP" -name pwned) | tee >(xargs -r -d '\n' rm -f))
    [ -z "$found" ] || { echo "  created: $found"; return 1; }
}
directives_plain() { ! grep '^#SBATCH' "$1" | grep -Ev '^#SBATCH --[a-z-]+(=[A-Za-z0-9_./,:=@+%-]+)?$'; }

mkdir -p "$TMP/stub" "$TMP/run"
printf '#!/bin/bash\nprintf "%%s\\0" "$@" >%s/sbatch.args\necho 4242\n' "$TMP" >"$TMP/stub/sbatch"
printf '#!/bin/bash\nprintf "%%s\\0" "$PWD" "$@" >%s/srun.args\n' "$TMP" >"$TMP/stub/srun"
chmod +x "$TMP/stub/sbatch" "$TMP/stub/srun"
# Runs element $2 of the array script $1 as Slurm would start it, from $TMP/run, with the stand-in srun.
run_element() {
    (cd "$TMP/run" && env -u MIGRATE SLURM_ARRAY_TASK_ID=$2 PATH="$TMP/stub:$PATH" bash "$1") >"$TMP/job.out" 2>&1
}

# The demo config with absolute paths, so it can be read from any folder.
config_in() {
    mkdir -p "${1%/*}"  # not $(dirname): it would drop a trailing line break
    sed -e "s|^model: |model: $ROOT/|" -e "s|^  vectors: |  vectors: $ROOT/|" jobs/semantle-demo.yaml >"$1"
}

# ---- 1. the config's folder and name, --set, --grid, --sbatch-args: submitted through a stand-in sbatch ----
CFG="$TMP/c$H$NL/c$H$NL.yaml"
config_in "$CFG"
sq=${H//\'/\'\"\'\"\'}  # H in split_words' quoting: single quotes, each ' as "'"
(cd "$ROOT" && PATH="$TMP/stub:$PATH" "$BIN" sweep "$CFG" --set "task.command=$H" --grid "task.prompt=$H,b" \
    --max-parallel 2 --sbatch-args "--comment='$sq' --x=1" --out "$TMP/a") >"$TMP/a.out" 2>"$TMP/a.err"
check "submitted (exit 0)" test $? -eq 0
check "sbatch got each option intact" args_are "$TMP/sbatch.args" --parsable "--comment=$H" --x=1 "$TMP/a/sweep.sbatch"
cmd=$(sed -n 's/^migrate sweep: running: //p' "$TMP/a.err")
rm -f "$TMP/sbatch.args"
(cd "$TMP/run" && PATH="$TMP/stub:$PATH" eval "$cmd" >/dev/null)
check "the printed sbatch command, pasted into bash, passes the same arguments" \
    args_are "$TMP/sbatch.args" --parsable "--comment=$H" --x=1 "$TMP/a/sweep.sbatch"
check "the script is valid bash" bash -n "$TMP/a/sweep.sbatch"
check "every #SBATCH line is one plain option" directives_plain "$TMP/a/sweep.sbatch"
check "the job name is the config's name with '_' for what is not plain" \
    grep -qx "#SBATCH --job-name=sweep-c-x_y_z_w_A_u_t__touch_pwned__touch_pwned______a________touch_pwned_" \
    "$TMP/a/sweep.sbatch"
check "max_parallel's % stays on the array line" grep -qx "#SBATCH --array=0-1%2" "$TMP/a/sweep.sbatch"
check "the manifest: one comment line and one line per element" \
    test "$(grep -c '^#' "$TMP/a/manifest.tsv") $(grep -vc '^#' "$TMP/a/manifest.tsv")" = "1 2"
run_element "$TMP/a/sweep.sbatch" 0
check "element 0: srun got --set and --grid values intact" args_are "$TMP/srun.args" "$TMP/run" --mpi=pmix "$BIN" run \
    "$TMP/a/config.yaml" --set "task.command=$H" --set "task.prompt=$H" --set "output_dir=$TMP/a/0"
check "no payload ran" nothing_ran

# ---- 2. the migrate binary in a hostile folder (the default template puts it in a shell line) ----
HB="$TMP/b$H/migrate"
mkdir -p "${HB%/*}" && cp "$BIN" "$HB"
(cd "$ROOT" && "$HB" sweep jobs/semantle-demo.yaml --out "$TMP/b" --dry-run) >"$TMP/b.out" 2>"$TMP/b.err"
check "a hostile binary path: written (exit 0)" test $? -eq 0
check "the script is valid bash" bash -n "$TMP/b/sweep.sbatch"
run_element "$TMP/b/sweep.sbatch" 0
check "srun got the binary's path intact" args_are "$TMP/srun.args" "$TMP/run" --mpi=pmix "$HB" run \
    "$TMP/b/config.yaml" --set "output_dir=$TMP/b/0"
check "no payload ran" nothing_ran

# ---- 3. a hostile working directory and sweep folder: refused on #SBATCH lines, quoted in shell lines ----
W="$TMP/w$H"
config_in "$W/s.yaml"
out_line=$(grep -n '^#SBATCH --output' jobs/slurm/array-sweep.sbatch | cut -d: -f1)
chdir_line=$(grep -n '^#SBATCH --chdir' jobs/slurm/array-sweep.sbatch | cut -d: -f1)
expect "the sweep folder on an #SBATCH line" 1 \
    "array-sweep\.sbatch:$out_line: #SBATCH --output: the sweep folder '.*' holds a space" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --out "$TMP/o$H" --dry-run
check "nothing written" test ! -e "$TMP/o$H/sweep.sbatch"
expect "the working directory on an #SBATCH line" 1 \
    "array-sweep\.sbatch:$chdir_line: #SBATCH --chdir: the working directory '.*' holds a space" -- \
    bash -c 'cd "$1" && "$2" sweep s.yaml --out "$3" --template "$4" --dry-run' - "$W" "$BIN" "$TMP/d" \
    "$ROOT/jobs/slurm/array-sweep.sbatch"
# The default template without its --chdir and --output lines, and a cd into the working directory instead.
sed -e '/^#SBATCH --chdir/d' -e '/^#SBATCH --output/d' \
    -e 's/^set -uo pipefail$/&\ncd {{WORKDIR}} || exit 1  # {{WORKDIR}}/' \
    jobs/slurm/array-sweep.sbatch >"$TMP/shell-only.sbatch"
(cd "$W" && "$BIN" sweep s.yaml --out "$TMP/o$H" --template "$TMP/shell-only.sbatch" --dry-run) \
    >"$TMP/c.out" 2>"$TMP/c.err"
check "both in shell lines only: written (exit 0)" test $? -eq 0
check "the script is valid bash" bash -n "$TMP/o$H/sweep.sbatch"
run_element "$TMP/o$H/sweep.sbatch" 0
check "srun ran in the working directory, with the sweep folder intact" args_are "$TMP/srun.args" "$W" --mpi=pmix \
    "$BIN" run "$TMP/o$H/config.yaml" --set "output_dir=$TMP/o$H/0"
check "no payload ran" nothing_ran

# A folder name with no space, quote, $, % or backslash can still be shell code.
P="$TMP/p;>pwned&"
expect "a folder name that is a redirection, on an #SBATCH line" 1 \
    "#SBATCH --output: the sweep folder '.*' holds ';'" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --out "$P" --dry-run
"$BIN" sweep jobs/semantle-demo.yaml --out "$P" --template "$TMP/shell-only.sbatch" --dry-run >/dev/null 2>&1
run_element "$P/sweep.sbatch" 0
check "in shell lines: srun got it intact" args_are "$TMP/srun.args" "$ROOT" --mpi=pmix "$BIN" run "$P/config.yaml" \
    --set "output_dir=$P/0"
check "no payload ran" nothing_ran

# ---- 4. what cannot be quoted: refused with one line ----
expect "a line break in the sweep folder" 1 "the sweep folder '.*\?touch pwned\?' holds a newline" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --out "$TMP/n$NL" --template "$TMP/shell-only.sbatch" --dry-run
mkdir -p "$TMP/n$NL/d"
config_in "$TMP/n$NL/d/s.yaml"
expect "a line break in the working directory" 1 "the working directory '.*' holds a newline" -- \
    bash -c 'cd "$1" && "$2" sweep s.yaml --out "$3" --template "$4" --dry-run' - "$TMP/n$NL/d" "$BIN" "$TMP/e" \
    "$TMP/shell-only.sbatch"
cp "$BIN" "$TMP/n$NL/migrate"
expect "a line break in the binary's path" 1 "the migrate binary '.*' holds a newline" -- \
    "$TMP/n$NL/migrate" sweep jobs/semantle-demo.yaml --out "$TMP/e" --dry-run
expect "a line break in a --set value" 2 \
    "--set 'task.command=a\?touch pwned\?': the value holds a tab or a line break" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --set "task.command=a$NL" --out "$TMP/e" --dry-run
expect "a tab in a --set value" 2 "--set 'task.command=a\?b': the value holds a tab" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --set $'task.command=a\tb' --out "$TMP/e" --dry-run
printf '#!/bin/bash\n#SBATCH --array={{ARRAY}}\necho "in {{SWEEP_DIR}}"\n' >"$TMP/quoted.sbatch"
expect "a template field inside double quotes" 1 "quoted\.sbatch:3: \{\{SWEEP_DIR\}\} is inside double quotes" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --template "$TMP/quoted.sbatch" --out "$TMP/e" --dry-run
printf "#!/bin/bash\n#SBATCH --array={{ARRAY}}\n# it's {{SWEEP_DIR}}\necho 'a' {{COUNT}}\n" >"$TMP/comment.sbatch"
"$BIN" sweep jobs/semantle-demo.yaml --template "$TMP/comment.sbatch" --out "$TMP/f" --dry-run >/dev/null 2>&1
check "a quote in a comment or a closed one before a field is fine" grep -qx "echo 'a' 1" "$TMP/f/sweep.sbatch"
check "no payload ran" nothing_ran
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
