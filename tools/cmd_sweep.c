// migrate sweep: one search per element of a sweep (strategies x targets x seeds x grid keys) as a Slurm array job,
// and --collect: the elements' summaries into one CSV and one markdown table (tools/sweep_collect.c).
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file.h"
#include "common/run_config.h"
#include "common/sweep_spec.h"
#include "coordinator/run_job.h"
#include "coordinator/sweep_collect.h"
#include "tasks/semantle.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate sweep CONFIG.yaml [--targets|--objectives LIST] [--seeds LIST] [--strategies LIST]\n"
    "                     [--grid KEY=LIST ...] [--set KEY=VALUE ...] [--out DIR] [--sbatch-args ARGS]\n"
    "                     [--max-parallel N]\n"
    "                     [--template FILE] [--dry-run] [--force]\n"
    "       migrate sweep --collect DIR\n"
    "\n"
    "Runs one search per element of a sweep as a Slurm array job. The elements are the product of the config's\n"
    "`sweep:` section (targets, seeds, strategies, grid; docs/slurm.md) and the options below, which replace the\n"
    "section's lists. Every element's config is checked first. Writes into DIR: config.yaml (the run config),\n"
    "manifest.tsv (per element: its index and the --set overrides of its `migrate run`, tab-separated),\n"
    "sweep.sbatch (from the template) and logs/; then submits sweep.sbatch with sbatch. Element i writes\n"
    "metrics.jsonl, summary.json and its checkpoint into DIR/i/. Submit from the folder the config's relative\n"
    "paths start at: the jobs run there.\n"
    "\n"
    "  --targets LIST       task.target values, comma list\n"
    "  --objectives LIST    task.objective values (molecule tasks: predefined names such as median1), comma list\n"
    "  --seeds LIST         seed values\n"
    "  --strategies LIST    strategy values (random,ns,opro,grpo,grpo-greedy,migrate)\n"
    "  --grid KEY=LIST      values of any other config key (repeatable): --grid training.learning_rate=5e-5,1e-4\n"
    "  --set KEY=VALUE      override for every element, as for migrate run\n"
    "  --out DIR            the sweep folder (default OUTPUT_DIR/sweep)\n"
    "  --sbatch-args ARGS   extra sbatch options after sweep.sbatch_args, e.g. \"--partition=gpu --time=02:00:00\"\n"
    "  --max-parallel N     at most N elements at once (sbatch --array=0-M%N); 0 = no limit\n"
    "  --template FILE      the array script template (default: jobs/slurm/array-sweep.sbatch); its fields are\n"
    "                       checked (#SBATCH lines) or shell-quoted (other lines): docs/slurm.md\n"
    "  --dry-run            write DIR and print the script and the sbatch command; submit nothing\n"
    "  --force              write into DIR even if its elements already have results\n"
    "  --collect DIR        gather DIR/*/summary.json (or the last line of metrics.jsonl of unfinished elements)\n"
    "                       into DIR/results.csv and DIR/results.md, name every missing, failed or unfinished\n"
    "                       element; exit status 1 if there is any\n";

#define MAX_ELEMENTS 1000000L

static char *template_path(const char *given) {
    if (given) return strdup(given);
    const char *rel = "jobs/slurm/array-sweep.sbatch";
    if (access(rel, R_OK) == 0) return strdup(rel);
    // Not run from the repository root: the source tree this binary was built from (__FILE__ is absolute there).
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash) *slash = '\0', slash = strrchr(buf, '/');  // drop "cmd_sweep.c", then "tools"
    if (slash) {
        *slash = '\0';
        char *p = mallocCheck(strlen(buf) + strlen(rel) + 2);
        sprintf(p, "%s/%s", buf, rel);
        if (access(p, R_OK) == 0) return p;
        free(p);
    }
    return strdup(rel);  // the error names the usual place
}

// A template field: its name, its value, what the value is (for errors), and whether the value may hold '%' on an
// #SBATCH line (the array's "%N" limit; in a path Slurm would expand it).
typedef struct {
    const char *name, *value, *what;
    int percent;
} field;

// c for an error line: 'x', or a name for what cannot be shown.
static const char *char_name(char c, char buf[16]) {
    if (c == ' ') return "a space";
    if (c == '\n') return "a newline";
    if (c == '\t') return "a tab";
    if ((unsigned char)c < 0x20 || c == 0x7f) snprintf(buf, 16, "byte 0x%02x", (unsigned char)c);
    else snprintf(buf, 16, "'%c'", c);
    return buf;
}

// s for an error line: control characters as '?', so the message stays one line.
static const char *shown(const char *s, char *buf, size_t cap) {
    size_t n = 0;
    for (; s[n] && n + 1 < cap; n++) buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    buf[n] = '\0';
    return buf;
}

// Every value is one line of text: a line break would start a line of its own in the script (and in manifest.tsv,
// for the sweep folder) whatever the quoting, and Slurm would read a line after it that starts #SBATCH.
static int one_line(const field *f) {
    for (const char *c = f->value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            char v[512], b[16];
            fprintf(stderr, "migrate sweep: %s '%s' holds %s: no line break, tab or control character goes into the "
                            "job script; rename it\n", f->what, shown(f->value, v, sizeof v), char_name(*c, b));
            return -1;
        }
    return 0;
}

// Where the template's text stands as bash reads it: inside quotes, in a comment, on an #SBATCH line.
typedef struct {
    char quote;  // ', " or ` while inside one
    char prev;   // the last character outside quotes
    int comment, sbatch, line;
    const char *line_start;
} tpl_scan;

// Moves past one character (two for a backslash escape) of the template; returns how many.
static size_t scan_step(tpl_scan *s, const char *p) {
    if (*p == '\n') {
        s->line++, s->comment = 0, s->prev = '\n', s->line_start = p + 1;
        s->sbatch = !strncmp(p + 1, "#SBATCH", 7);  // Slurm's directives, whatever bash makes of the line
        return 1;
    }
    if (s->comment) return 1;
    if (*p == '\\' && s->quote != '\'' && p[1] && p[1] != '\n') return s->prev = 'x', 2;
    if (s->quote) {
        if (*p == s->quote) s->quote = 0, s->prev = *p;
        return 1;
    }
    if (*p == '\'' || *p == '"' || *p == '`') s->quote = *p;
    else if (*p == '#' && strchr(" \t\n;&|()<>", s->prev)) s->comment = 1;  // a word that starts with #
    s->prev = *p;
    return 1;
}

// Writes f's value where the scan stands. On an #SBATCH line Slurm parses the value itself (spaces split it, '#'
// ends the line, % is a pattern in file names): it must be plain, and is written as is. Anywhere else it is one
// single-quoted shell word, which is only a word where a word goes: not inside quotes of the template.
static int put_field(FILE *o, const tpl_scan *s, const field *f, const char *path) {
    char v[512], b[16];
    if (s->sbatch) {
        for (const char *c = f->value; *c; c++)
            if (!cli_plain_char((unsigned char)*c) && !(f->percent && *c == '%')) {
                const char *k = s->line_start + 7;
                k += strspn(k, " \t");
                fprintf(stderr, "migrate sweep: %s:%d: #SBATCH %.*s: %s '%s' holds %s, which Slurm's #SBATCH lines "
                                "cannot carry (only letters, digits and _./,:=@+-): use a plainer path\n",
                        path, s->line, (int)strcspn(k, "= \t\n{"), k, f->what, shown(f->value, v, sizeof v),
                        char_name(*c, b));
                return -1;
            }
        fputs(f->value, o);
        return 0;
    }
    if (s->quote) {
        fprintf(stderr, "migrate sweep: %s:%d: {{%s}} is inside %s quotes: it is written as one quoted shell word, "
                        "so put it where a word goes\n", path, s->line, f->name,
                s->quote == '"' ? "double" : s->quote == '\'' ? "single" : "backtick");
        return -1;
    }
    char *w = cli_shell_word(f->value);
    fputs(w, o);
    free(w);
    return 0;
}

// The template with every {{FIELD}} filled (put_field); NULL (message printed) on an unknown or misplaced field.
static char *fill_template(const char *path, const field *fields, int n_fields) {
    mg_err e;
    size_t len, out_len;
    char *t = read_small_file(path, 1 << 20, &len, 0, NULL, &e), *out = NULL;
    if (!t) return fprintf(stderr, "migrate sweep: template %s\n", e.msg), NULL;
    FILE *o = open_memstream(&out, &out_len);
    mgCheck(o != NULL, "out of memory");
    tpl_scan s = {.prev = '\n', .line = 1, .line_start = t, .sbatch = !strncmp(t, "#SBATCH", 7)};
    int rc = 0;
    for (const char *p = t; *p && !rc;) {
        const char *end = strncmp(p, "{{", 2) ? NULL : strstr(p, "}}");
        if (!end) {
            size_t n = scan_step(&s, p);
            fwrite(p, 1, n, o), p += n;
            continue;
        }
        size_t n = (size_t)(end - p - 2);
        int f = 0;
        while (f < n_fields && (n != strlen(fields[f].name) || strncmp(p + 2, fields[f].name, n))) f++;
        if (f == n_fields) {
            fprintf(stderr, "migrate sweep: %s: unknown field %.*s in the template\n", path, (int)(n + 4), p);
            rc = -1;
        } else rc = put_field(o, &s, &fields[f], path), s.prev = 'x', p = end + 2;
    }
    fclose(o);
    free(t);
    if (rc) free(out), out = NULL;
    return out;
}

static int write_file(const char *path, const char *text, size_t len) {
    mg_err e;
    if (file_write_atomic(path, text, len, &e) == 0) return 0;
    fprintf(stderr, "migrate sweep: %s\n", e.msg);
    return -1;
}

// Splits sbatch options on spaces (quotes group words) into args[*n...]; returns -1 when they do not fit.
static int split_words(const char *s, char **args, int *n, int max) {
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char *w = mallocCheck(strlen(s) + 1), *o = w, quote = 0;
        for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
            if (!quote && (*s == '"' || *s == '\'')) quote = *s;
            else if (quote && *s == quote) quote = 0;
            else *o++ = *s;
        }
        *o = '\0';
        if (*n == max) return free(w), -1;
        args[(*n)++] = w;
    }
    return 0;
}

// Runs argv (sbatch) and returns its first stdout line (the job id with --parsable) in out; -1 on failure.
static int run_capture(char *const *argv, char *out, size_t cap) {
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) return close(fd[0]), close(fd[1]), -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]), close(fd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "migrate sweep: cannot run %s: %s (is Slurm installed? --dry-run only writes the script)\n",
                argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    char sink[256];
    while (read(fd[0], sink, sizeof sink) > 0) {}
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    out[strcspn(out, "\n;")] = '\0';  // "123" or "123;cluster"
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] ? 0 : -1;
}

typedef struct {
    const char *config, *out, *sbatch_args, *template_file;
    const char **sets;
    int n_sets, max_parallel, dry_run, force;
} sweep_opts;

// Checks every element's config (and, for Semantle, that its target is a word of the vectors) before anything is
// written or submitted: a typo fails here, not in element 371 an hour later.
static int check_elements(const sweep_spec *s, const sweep_opts *o, long count, const char *abs_out) {
    word_vectors *wv = NULL;
    char wv_path[CFG_STR] = "";
    int rc = 0;
    for (long i = 0; i < count && !rc; i++) {
        char **kv;
        int n = sweep_element_overrides(s, o->sets, o->n_sets, i, abs_out, &kv);
        run_config c;
        mg_err e;
        rc = run_config_read_text(&c, s->run_text, s->run_len, o->config, (const char *const *)kv, n, &e);
        sweep_overrides_free(kv, n);
        if (rc) {
            fprintf(stderr, "migrate sweep: element %ld: %s\n", i, e.msg);
            break;
        }
        if (c.task == TASK_SEMANTLE) {
            if (strcmp(wv_path, c.vectors)) {
                if (wv) word_vectors_free(wv), wv = NULL;
                snprintf(wv_path, sizeof wv_path, "%s", c.vectors);
                if (word_vectors_load(&wv, c.vectors, &e))
                    fprintf(stderr, "migrate sweep: element %ld: %s\n", i, e.msg), rc = -1;
            }
            task *t = NULL;
            if (!rc && semantle_create(&t, wv, c.target, &e))
                fprintf(stderr, "migrate sweep: element %ld: %s\n", i, e.msg), rc = -1;
            if (t) t->destroy(t);
        }
        run_config_free(&c);
    }
    if (wv) word_vectors_free(wv);
    return rc;
}

static int write_manifest(const sweep_spec *s, const sweep_opts *o, long count, const char *abs_out) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/manifest.tsv", abs_out);
    char *text = sweep_manifest_text(s, o->config, o->sets, o->n_sets, count, abs_out);
    int rc = write_file(path, text, strlen(text));
    free(text);
    return rc;
}

// Results of an earlier sweep in the same folder would mix into --collect's table.
static int has_results(const char *abs_out, long count) {
    char p[PATH_MAX + 64];
    struct stat st;
    for (long i = 0; i < count; i++) {
        snprintf(p, sizeof p, "%s/%ld/summary.json", abs_out, i);
        if (stat(p, &st) == 0) return 1;
        snprintf(p, sizeof p, "%s/%ld/metrics.jsonl", abs_out, i);
        if (stat(p, &st) == 0) return 1;
    }
    return 0;
}

static int submit(const sweep_spec *s, const sweep_opts *o, const char *abs_out, const char *script_path, long count) {
    enum { MAX_ARGS = 256 };
    char *args[MAX_ARGS + 4];
    int n = 0, rc = 0;
    args[n++] = strdup("sbatch");
    args[n++] = strdup("--parsable");
    if (split_words(s->sbatch_args, args, &n, MAX_ARGS) ||
        split_words(o->sbatch_args ? o->sbatch_args : "", args, &n, MAX_ARGS)) {
        fprintf(stderr, "migrate sweep: more than %d sbatch arguments\n", MAX_ARGS);
        rc = -1;
    }
    args[n++] = strdup(script_path);
    args[n] = NULL;
    fprintf(stderr, "migrate sweep: %s", o->dry_run ? "would run:" : "running:");
    for (int i = 0; i < n; i++) {  // a command to paste into a shell
        char *w = cli_shell_word(args[i]);
        fprintf(stderr, " %s", w);
        free(w);
    }
    fputc('\n', stderr);
    char jobid[256];
    if (!rc && !o->dry_run) {
        fflush(stdout), fflush(stderr);
        if (run_capture(args, jobid, sizeof jobid)) {
            fprintf(stderr, "migrate sweep: sbatch failed (its message is above); the sweep folder %s is written\n",
                    abs_out);
            rc = -1;
        } else {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/jobid", abs_out);
            mg_err e;
            FILE *f = file_open_nofollow(path, "a", &e);
            int bad = !f;
            if (f) bad = fprintf(f, "%s\n", jobid) < 0, bad |= fclose(f) != 0;
            if (bad) fprintf(stderr, "migrate sweep: %s: the job id was not recorded\n", path);
            printf("submitted array job %s: %ld element%s; results: migrate sweep --collect %s\n", jobid, count,
                   count == 1 ? "" : "s", abs_out);
        }
    }
    for (int i = 0; i < n; i++) free(args[i]);
    return rc;
}

// The array script: the template with the job's values filled in (fill_template); NULL (message printed) when a
// value cannot go where the template puts it.
static char *make_script(const sweep_opts *o, const sweep_spec *s, long count, const char *abs_out, const char *cwd,
                         const char *exe) {
    // The job name: "sweep-" and the config's file name without its folder and extension. It is only a label, so
    // characters that could not go on an #SBATCH line become '_' instead of failing the sweep.
    char name[96], array[64], count_s[32];
    const char *base_name = strrchr(o->config, '/') ? strrchr(o->config, '/') + 1 : o->config;
    snprintf(name, sizeof name, "sweep-%.*s", (int)strcspn(base_name, "."), base_name);
    for (char *c = name; *c; c++)
        if (!cli_plain_char((unsigned char)*c)) *c = '_';
    int par = o->max_parallel >= 0 ? o->max_parallel : s->max_parallel;
    if (par > 0) snprintf(array, sizeof array, "0-%ld%%%d", count - 1, par);
    else snprintf(array, sizeof array, "0-%ld", count - 1);
    snprintf(count_s, sizeof count_s, "%ld", count);
    const field fields[] = {{"JOB_NAME", name, "the job name", 0},
                            {"ARRAY", array, "the array range", 1},
                            {"WORKDIR", cwd, "the working directory", 0},
                            {"SWEEP_DIR", abs_out, "the sweep folder", 0},
                            {"MIGRATE", exe, "the migrate binary", 0},
                            {"COUNT", count_s, "the element count", 0}};
    int n = (int)(sizeof fields / sizeof fields[0]);
    for (int i = 0; i < n; i++)
        if (one_line(&fields[i])) return NULL;
    char *tpl = template_path(o->template_file);
    char *script = fill_template(tpl, fields, n);
    free(tpl);
    return script;
}

static int sweep_write(sweep_opts *o, sweep_spec *s) {
    run_config base;
    mg_err e;
    if (run_config_read_text(&base, s->run_text, s->run_len, o->config, o->sets, o->n_sets, &e)) {
        fprintf(stderr, "migrate sweep: %s\n", e.msg);
        return 1;
    }
    char out[PATH_MAX], abs_out[PATH_MAX], cwd[PATH_MAX], exe[PATH_MAX];
    snprintf(out, sizeof out, "%s", o->out ? o->out : base.output_dir);
    if (!o->out) strncat(out, "/sweep", sizeof out - strlen(out) - 1);
    run_config_free(&base);
    long count = sweep_spec_count(s, MAX_ELEMENTS, &e);
    if (count < 0) return fprintf(stderr, "migrate sweep: %s\n", e.msg), 1;
    file_mkdir_p(out);
    if (!realpath(out, abs_out))
        return fprintf(stderr, "migrate sweep: cannot create %s: %s\n", out, strerror(errno)), 1;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || !getcwd(cwd, sizeof cwd))
        return fprintf(stderr, "migrate sweep: cannot find this program or the working directory\n"), 1;
    exe[n] = '\0';
    if (!o->force && has_results(abs_out, count)) {
        fprintf(stderr, "migrate sweep: %s already holds results of a sweep: --collect them, choose another --out, or "
                        "pass --force\n", abs_out);
        return 1;
    }
    char *script = make_script(o, s, count, abs_out, cwd, exe);
    if (!script || check_elements(s, o, count, abs_out)) return free(script), 1;
    char path[PATH_MAX + 32], script_path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", abs_out);
    snprintf(script_path, sizeof script_path, "%s/sweep.sbatch", abs_out);
    int rc = write_file(path, s->run_text, s->run_len) || write_manifest(s, o, count, abs_out) ||
             write_file(script_path, script, strlen(script));
    snprintf(path, sizeof path, "%s/logs", abs_out);
    file_mkdir_p(path);
    if (!rc && o->dry_run) fputs(script, stdout);
    free(script);
    if (!rc) fprintf(stderr, "migrate sweep: %ld element%s (%s/manifest.tsv)\n", count, count == 1 ? "" : "s", abs_out);
    if (!rc) rc = submit(s, o, abs_out, script_path, count);
    return rc ? 1 : 0;
}

// manifest.tsv keeps one element per line, its overrides tab-separated: a --set value cannot hold either.
static int bad_set(const char *v) {
    if (!strpbrk(v, "\t\n\r")) return 0;
    char b[512];
    fprintf(stderr, "migrate sweep: --set '%s': the value holds a tab or a line break, which manifest.tsv cannot "
                    "keep; put it into the config file\n", shown(v, b, sizeof b));
    return -1;
}

int cmd_sweep(int argc, char **argv) {
    sweep_opts o = {.max_parallel = -1};
    const char *collect = NULL, *axis_opts[64][2];
    int n_axis = 0;
    o.sets = callocCheck((size_t)argc + 1, sizeof(char *));
    int step;
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return free(o.sets), fputs(HELP, stdout), 0;
        if (!strcmp(a, "--dry-run") || !strcmp(a, "--force")) {
            *(a[2] == 'd' ? &o.dry_run : &o.force) = 1;
            step = 1;
            continue;
        }
        if (a[0] != '-' && !o.config) {
            o.config = a, step = 1;
            continue;
        }
        if (a[0] != '-')
            return fprintf(stderr, "migrate sweep: unexpected argument '%s' (see --help)\n", a), free(o.sets), 2;
        if (!v) return fprintf(stderr, "migrate sweep: option %s needs a value (see --help)\n", a), free(o.sets), 2;
        const char *key = !strcmp(a, "--targets") ? "task.target" : !strcmp(a, "--objectives") ? "task.objective"
                        : !strcmp(a, "--seeds") ? "seed"
                        : !strcmp(a, "--strategies") ? "strategy" : NULL;
        if (key || !strcmp(a, "--grid")) {
            if (n_axis == 64) return fprintf(stderr, "migrate sweep: too many axis options\n"), free(o.sets), 2;
            axis_opts[n_axis][0] = key, axis_opts[n_axis++][1] = v;
        } else if (!strcmp(a, "--set") && bad_set(v)) return free(o.sets), 2;
        else if (!strcmp(a, "--set")) o.sets[o.n_sets++] = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--sbatch-args")) o.sbatch_args = v;
        else if (!strcmp(a, "--template")) o.template_file = v;
        else if (!strcmp(a, "--collect")) collect = v;
        else if (!strcmp(a, "--max-parallel")) {
            if (cli_int("sweep", a, v, 0, 1000000, &o.max_parallel)) return free(o.sets), 2;
        } else return fprintf(stderr, "migrate sweep: unknown option '%s' (see --help)\n", a), free(o.sets), 2;
    }
    if (collect) {
        free(o.sets);
        if (o.config) return fprintf(stderr, "migrate sweep: --collect takes the sweep folder only (see --help)\n"), 2;
        return sweep_collect(collect);
    }
    if (!o.config) return fprintf(stderr, "migrate sweep: a CONFIG.yaml is required (see --help)\n"), free(o.sets), 2;
    sweep_spec s;
    mg_err e;
    int rc = 0;
    if (sweep_spec_load(&s, o.config, &e)) return fprintf(stderr, "migrate sweep: %s\n", e.msg), free(o.sets), 1;
    for (int i = 0; i < n_axis && !rc; i++) {
        const char *key = axis_opts[i][0], *list = axis_opts[i][1];
        char gkey[128];
        if (!key) {  // --grid KEY=LIST
            size_t k = strcspn(list, "=");
            if (!list[k] || k == 0 || k >= sizeof gkey || !strncmp(list, "output_dir", k)) {
                fprintf(stderr, "migrate sweep: --grid '%s': expected KEY=V1,V2,... with a config key other than "
                                "output_dir\n", list);
                rc = 2;
                break;
            }
            snprintf(gkey, sizeof gkey, "%.*s", (int)k, list);
            key = gkey, list += k + 1;
        }
        if (sweep_spec_set_axis(&s, key, list, &e)) fprintf(stderr, "migrate sweep: %s\n", e.msg), rc = 2;
    }
    if (!rc) rc = sweep_write(&o, &s);
    sweep_spec_free(&s);
    free(o.sets);
    return rc;
}
