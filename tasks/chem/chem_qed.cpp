// QED (Bickerton et al. 2012) as rdkit.Chem.QED.qed computes it with the mean weights. RDKit has QED only in
// Python; its eight properties all have C++ equivalents, and computed in QED.py's order with QED.py's constants
// (qed_params.h, generated at build time from the installed QED.py) the result is Python's to the last bit.
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/Substruct/SubstructMatch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "qed_params.h"
#include "tasks/chem/chem_internal.hpp"

namespace {

using RDKit::ROMol;
using QueryList = std::vector<std::unique_ptr<RDKit::RWMol>>;

struct QedPatterns {
    std::unique_ptr<RDKit::RWMol> aliphatic_rings;
    QueryList acceptors, alerts;
};

std::unique_ptr<RDKit::RWMol> smarts(const char *s) {
    std::unique_ptr<RDKit::RWMol> q(RDKit::SmartsToMol(s));
    if (!q) throw std::runtime_error("a QED SMARTS from QED.py does not parse");
    return q;
}

// Parsed once; a function-local static is initialized thread-safely.
const QedPatterns &patterns() {
    static const QedPatterns p = [] {
        QedPatterns out;
        out.aliphatic_rings = smarts(QED_ALIPHATIC_RINGS);
        for (const char *s : QED_ACCEPTORS) out.acceptors.push_back(smarts(s));
        for (const char *s : QED_ALERTS) out.alerts.push_back(smarts(s));
        return out;
    }();
    return p;
}

bool has_match(const ROMol &mol, const ROMol &query) {
    RDKit::MatchVectType match;
    return RDKit::SubstructMatch(mol, query, match);
}

// QED.py's ads(): an asymmetric double sigmoid, scaled by its maximum. Same operations in the same order.
double ads(double x, const double *p) {
    const double A = p[0], B = p[1], C = p[2], D = p[3], E = p[4], F = p[5], DMAX = p[6];
    double exp1 = 1 + std::exp(-1 * (x - C + D / 2) / E);
    double exp2 = 1 + std::exp(-1 * (x - C - D / 2) / F);
    double dx = A + B / exp1 * (1 - 1 / exp2);
    return dx / DMAX;
}

double qed(const ROMol &input) {
    const QedPatterns &pat = patterns();
    std::unique_ptr<ROMol> mol(RDKit::MolOps::removeHs(input));
    double x[8];
    x[0] = RDKit::Descriptors::calcAMW(*mol);
    double logp = 0, mr = 0;
    RDKit::Descriptors::calcCrippenDescriptors(*mol, logp, mr);
    x[1] = logp;
    long hba = 0;
    RDKit::SubstructMatchParameters all;  // GetSubstructMatches' defaults: uniquify, at most 1000
    for (const auto &q : pat.acceptors)
        if (has_match(*mol, *q)) hba += static_cast<long>(RDKit::SubstructMatch(*mol, *q, all).size());
    x[2] = static_cast<double>(hba);
    x[3] = RDKit::Descriptors::calcNumHBD(*mol);
    x[4] = RDKit::Descriptors::calcTPSA(*mol);
    x[5] = RDKit::Descriptors::calcNumRotatableBonds(*mol, RDKit::Descriptors::Strict);
    std::unique_ptr<ROMol> aromatic(RDKit::deleteSubstructs(*mol, *pat.aliphatic_rings));
    std::vector<std::vector<int>> rings;
    RDKit::MolOps::findSSSR(*aromatic, rings);
    x[6] = static_cast<double>(rings.size());
    long alerts = 0;
    for (const auto &q : pat.alerts) alerts += has_match(*mol, *q);
    x[7] = static_cast<double>(alerts);

    // Python: t = sum(w * log(d)); exp(t / sum(w)), both sums left to right from 0.
    double t = 0, wsum = 0;
    for (int i = 0; i < 8; i++) t += QED_WEIGHT_MEAN[i] * std::log(ads(x[i], QED_ADS[i]));
    for (int i = 0; i < 8; i++) wsum += QED_WEIGHT_MEAN[i];
    return std::exp(t / wsum);
}

}  // namespace

extern "C" double chem_qed(const chem_mol *m) {
    const double nan = std::nan("");
    if (!m) return nan;
    return chem::fenced(nan, [&] { return qed(*m->mol); });
}
