// Programs in model completions: which part of a completion is the program, and the text under which two
// programs count as one (the search deduplicates by it before running anything).
#pragma once

// The body of the last ```python fenced block (the info string "python", any letter case); when there is none,
// that of the last plain ``` block (no info string); blocks of other languages are skipped. A fence is a line
// whose text, after leading blanks, starts with ```; a block runs to the next line that is only ``` (blanks around
// allowed), and a block left open at the end of the completion does not count. NULL when there is no block (an
// invalid completion). malloc'd, each line ending in '\n'; "\r\n" and "\r" become "\n".
char *arc_extract_program(const char *completion);
// The dedup key: line endings made "\n"; '#' comments removed (whole-line and trailing) outside string literals
// ('...', "...", '''...''', """...""", backslash escapes honoured); then trailing blanks stripped and blank lines
// dropped. Text inside a string literal is kept as it is, blank lines of a triple-quoted string included.
// malloc'd.
char *arc_program_key(const char *program);
