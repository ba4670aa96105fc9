// migrate ablate --summarize CSV... : the tables of migrate ablate from ablation.csv files already written.
#pragma once

// argv[0] is "--summarize"; returns the exit status (0, 1 on unreadable input, 2 on bad options).
int ablate_summarize(int argc, char **argv);
