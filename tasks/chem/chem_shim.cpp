// The RDKit shim: molecules, SMILES, descriptors, fingerprints and SMARTS behind chem.h's C API. QED, the SA
// score and the Bertz index live in chem_qed.cpp, chem_sa.cpp and chem_bertz.cpp. Each function calls the same
// RDKit C++ function (with the same arguments) that RDKit's Python wrapper calls, so values are identical.
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/Fingerprints/AtomPairs.h>
#include <GraphMol/Fingerprints/FingerprintUtil.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <GraphMol/Substruct/SubstructMatch.h>
#include <RDGeneral/RDLog.h>
#include <RDGeneral/versions.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "tasks/chem/chem_internal.hpp"

using RDKit::ROMol;

namespace chem {

void init() {
    static std::once_flag once;
    std::call_once(once, [] { RDLog::InitLogs(), boost::logging::disable_logs("rdApp.*"); });
}

}  // namespace chem

namespace {

char *dup_string(const std::string &s) {
    char *out = static_cast<char *>(std::malloc(s.size() + 1));
    if (out) std::memcpy(out, s.c_str(), s.size() + 1);
    return out;
}

const double NaN = std::nan("");

}  // namespace

struct chem_fp {
    chem_fp_kind kind;
    // Morgan fingerprints are UIntSparseIntVect, atom pairs IntSparseIntVect (as in RDKit's Python).
    std::unique_ptr<RDKit::SparseIntVect<std::uint32_t>> morgan;
    std::unique_ptr<RDKit::SparseIntVect<std::int32_t>> pairs;
};

extern "C" {

// RDKit 2022.09 leaks on two error paths the shim cannot reach into (found by tests/fuzz/fuzz_smiles.c): its
// SMARTS parser when a recursive SMARTS has a syntax error (the lexer's and the atom queries' allocations too:
// "[+!$(N[C,S]9O)Na]", corpus file smarts_lexer_leak.smi), and getAtomPairFingerprint when an internal invariant
// throws midway ("explicit valence exceeds atom degree", e.g. "C~SCC~S~SCCI:C"). LeakSanitizer (the ASan and
// libFuzzer builds) calls this hook; only leaks allocated inside those two functions are ignored, so a handle the
// shim or its caller forgets to free is still reported.
__attribute__((used)) const char *__lsan_default_suppressions(void) {
    return "leak:yysmarts_parse\nleak:yysmarts_lex\nleak:makeAtomSimpleQuery\nleak:getAtomPairFingerprint\n";
}

int chem_available(void) { return 1; }

const char *chem_version(void) { return RDKit::rdkitVersion; }

chem_mol *chem_mol_from_smiles(const char *smiles) {
    // RDKit reads text after whitespace as the molecule's name ("CCO CC" is ethanol): here it is not a SMILES.
    if (!smiles || std::strlen(smiles) > CHEM_MAX_SMILES || std::strpbrk(smiles, " \t\n\r\v\f")) return nullptr;
    return chem::fenced<chem_mol *>(nullptr, [&]() -> chem_mol * {
        std::unique_ptr<RDKit::RWMol> m(RDKit::SmilesToMol(smiles));  // NULL on syntax errors, throws on valence
        if (!m || m->getNumAtoms() == 0) return nullptr;
        auto *out = new chem_mol;
        out->mol.reset(m.release());
        return out;
    });
}

void chem_mol_free(chem_mol *m) { delete m; }

char *chem_canonical_smiles(const chem_mol *m) {
    if (!m) return nullptr;
    return chem::fenced<char *>(nullptr, [&] { return dup_string(RDKit::MolToSmiles(*m->mol)); });
}

char *chem_smiles_with_hs(const chem_mol *m) {
    if (!m) return nullptr;
    return chem::fenced<char *>(nullptr, [&] {
        std::unique_ptr<ROMol> h(RDKit::MolOps::addHs(*m->mol));
        return dup_string(RDKit::MolToSmiles(*h));
    });
}

char *chem_formula(const chem_mol *m) {
    if (!m) return nullptr;
    return chem::fenced<char *>(nullptr, [&] { return dup_string(RDKit::Descriptors::calcMolFormula(*m->mol)); });
}

int chem_heavy_atoms(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(m->mol->getNumAtoms()); });
}

int chem_atoms_with_h(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] {
        std::unique_ptr<ROMol> h(RDKit::MolOps::addHs(*m->mol));
        return static_cast<int>(h->getNumAtoms());
    });
}

int chem_element_count(const chem_mol *m, const char *symbol) {
    if (!m || !symbol) return -1;
    return chem::fenced(-1, [&] {
        std::unique_ptr<ROMol> h;
        const ROMol *mol = m->mol.get();
        if (!std::strcmp(symbol, "H")) h.reset(RDKit::MolOps::addHs(*mol)), mol = h.get();
        int n = 0;
        for (const auto *atom : mol->atoms()) n += atom->getSymbol() == symbol;
        return n;
    });
}

double chem_logp(const chem_mol *m) {
    if (!m) return NaN;
    return chem::fenced(NaN, [&] {
        double logp = 0, mr = 0;
        RDKit::Descriptors::calcCrippenDescriptors(*m->mol, logp, mr);
        return logp;
    });
}

double chem_tpsa(const chem_mol *m) {
    if (!m) return NaN;
    return chem::fenced(NaN, [&] { return RDKit::Descriptors::calcTPSA(*m->mol); });
}

double chem_mol_weight(const chem_mol *m) {
    if (!m) return NaN;
    return chem::fenced(NaN, [&] { return RDKit::Descriptors::calcAMW(*m->mol); });
}

int chem_hbd(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(RDKit::Descriptors::calcNumHBD(*m->mol)); });
}

int chem_hba(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(RDKit::Descriptors::calcNumHBA(*m->mol)); });
}

int chem_rotatable_bonds(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(RDKit::Descriptors::calcNumRotatableBonds(*m->mol)); });
}

int chem_rings(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(RDKit::Descriptors::calcNumRings(*m->mol)); });
}

int chem_aromatic_rings(const chem_mol *m) {
    if (!m) return -1;
    return chem::fenced(-1, [&] { return static_cast<int>(RDKit::Descriptors::calcNumAromaticRings(*m->mol)); });
}

// ---- fingerprints ----

static const char *const FP_NAMES[CHEM_FP_COUNT] = {"ecfp4", "ecfp6", "fcfp4", "fcfp6", "ap"};

const char *chem_fp_name(chem_fp_kind k) { return (unsigned)k < CHEM_FP_COUNT ? FP_NAMES[k] : "unknown"; }

int chem_fp_from_name(const char *name) {
    for (int i = 0; name && i < CHEM_FP_COUNT; i++)
        if (!std::strcmp(name, FP_NAMES[i])) return i;
    return -1;
}

chem_fp *chem_fingerprint(const chem_mol *m, chem_fp_kind k) {
    if (!m || (unsigned)k >= CHEM_FP_COUNT) return nullptr;
    return chem::fenced<chem_fp *>(nullptr, [&] {
        std::unique_ptr<chem_fp> fp(new chem_fp);
        fp->kind = k;
        const ROMol &mol = *m->mol;
        if (k == CHEM_FP_AP) {
            fp->pairs.reset(RDKit::AtomPairs::getAtomPairFingerprint(mol, 1, 10));
        } else {
            unsigned radius = k == CHEM_FP_ECFP4 || k == CHEM_FP_FCFP4 ? 2 : 3;
            // useFeatures: what GetMorganFingerprint(..., useFeatures=True) passes as invariants.
            std::unique_ptr<std::vector<std::uint32_t>> invariants;
            if (k == CHEM_FP_FCFP4 || k == CHEM_FP_FCFP6) {
                invariants.reset(new std::vector<std::uint32_t>(mol.getNumAtoms()));
                RDKit::MorganFingerprints::getFeatureInvariants(mol, *invariants);
            }
            fp->morgan.reset(RDKit::MorganFingerprints::getFingerprint(mol, radius, invariants.get()));
        }
        return fp.release();
    });
}

void chem_fp_free(chem_fp *f) { delete f; }

double chem_tanimoto(const chem_fp *a, const chem_fp *b) {
    if (!a || !b || a->kind != b->kind) return NaN;
    return chem::fenced(NaN, [&] {
        if (a->kind == CHEM_FP_AP) return RDKit::TanimotoSimilarity(*a->pairs, *b->pairs);
        return RDKit::TanimotoSimilarity(*a->morgan, *b->morgan);
    });
}

// ---- SMARTS ----

chem_query *chem_query_from_smarts(const char *smarts) {
    if (!smarts || !*smarts || std::strlen(smarts) > CHEM_MAX_SMILES) return nullptr;
    return chem::fenced<chem_query *>(nullptr, [&]() -> chem_query * {
        std::unique_ptr<RDKit::RWMol> q(RDKit::SmartsToMol(smarts));
        if (!q) return nullptr;
        auto *out = new chem_query;
        out->mol.reset(q.release());
        return out;
    });
}

void chem_query_free(chem_query *q) { delete q; }

int chem_has_match(const chem_mol *m, const chem_query *q) {
    if (!m || !q) return -1;
    return chem::fenced(-1, [&] {
        RDKit::MatchVectType match;
        return RDKit::SubstructMatch(*m->mol, *q->mol, match) ? 1 : 0;
    });
}

int chem_count_matches(const chem_mol *m, const chem_query *q) {
    if (!m || !q) return -1;
    return chem::fenced(-1, [&] {
        RDKit::SubstructMatchParameters params;  // uniquify, at most 1000: GetSubstructMatches' defaults
        return static_cast<int>(RDKit::SubstructMatch(*m->mol, *q->mol, params).size());
    });
}

}  // extern "C"
