// The PMO protocol's numbers (Gao et al. 2022, "Sample Efficiency Matters", NeurIPS Datasets & Benchmarks):
// the area under the top-k-average curve versus oracle calls, the top-1/10/100 means at the end, and the paper's
// published AUC top-10 of REINVENT and Graph GA to print beside ours.
//
// The input is PMO's buffer in scoring order: one score per *valid, new* molecule (PMO's Oracle.score_smi adds a
// molecule only when RDKit parses it and its canonical SMILES was not scored before; invalid SMILES and repeats
// return 0 without using the budget).
#pragma once

#define PMO_FREQ_LOG 100     // PMO evaluates the curve every 100 calls
#define PMO_BUDGET 10000     // PMO's oracle budget

// mol_opt's top_auc(buffer, top_n, finish, freq_log, max_oracle_calls): trapezoids between the top_n averages
// after freq_log, 2 freq_log, ... calls (below min(n, max_calls)), then up to n; with finish and n < max_calls the
// rest of the budget is filled with the last average (an optimizer that stopped early keeps its best); divided
// by max_calls. The average is over the top min(top_n, calls) scores. scores: [n] in scoring order. 0 for n = 0.
double pmo_top_auc(const double *scores, long n, int top_n, int finish, int freq_log, long max_calls);

// Mean of the k best of scores[0..n) (of all n when n < k); 0 for n = 0.
double pmo_top_mean(const double *scores, long n, int k);

typedef struct {
    const char *task;
    double reinvent, reinvent_std, graph_ga, graph_ga_std;  // AUC top-10, mean and std over 5 seeds
} pmo_published;

// The paper's row for a PMO task name, or NULL.
const pmo_published *pmo_published_find(const char *task);
// The paper's rows in name order: row i, or NULL past the last.
const pmo_published *pmo_published_at(int i);
