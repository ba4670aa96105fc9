// The synthetic accessibility score (Ertl & Schuffenhauer 2009) as RDKit's Contrib/SA_Score/sascorer.py computes
// it: fragment contributions of the Morgan radius-2 environments from fpscores.pkl.gz (rdkit-data) plus size,
// stereo, spiro, bridgehead and macrocycle penalties and the symmetry correction, mapped onto 1..10.
//
// The fragment table is a gzip'd pickle (protocol 0: a list of [score, id, id, ...] lists). It is read here with
// zlib and a reader for exactly those opcodes, once per process, into a sorted table; as in sascorer.py's dict, a
// fragment id listed twice takes its last score.
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/MolOps.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "tasks/chem/chem_internal.hpp"

#ifndef MIGRATE_SA_SCORES
#define MIGRATE_SA_SCORES "/usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz"
#endif

namespace {

struct Fragment {
    std::uint32_t id;
    double score;
};

struct FragmentTable {
    std::vector<Fragment> entries;  // sorted by id, unique
    std::string error;              // why the table could not be read ("" when it was)
};

// The protocol-0 pickle text: '(' mark, 'l' list, 'pN' memo (ignored), 'Fx' float, 'Ix' int, 'a' append, '.'.
std::string parse_pickle(const std::string &text, std::vector<Fragment> &out) {
    struct Item {
        char kind;  // '(' mark, 'l' list, 'F' float, 'I' int
        double value;
        long count;  // list: elements appended so far
        double score;  // inner list: its first element
    };
    std::vector<Item> stack;
    size_t p = 0, n = text.size();
    auto line_end = [&](size_t from) {
        size_t e = text.find('\n', from);
        return e == std::string::npos ? n : e;
    };
    while (p < n) {
        char op = text[p++];
        if (op == '(') {
            stack.push_back({'(', 0, 0, 0});
        } else if (op == 'l') {
            if (stack.empty() || stack.back().kind != '(') return "LIST without a mark";
            stack.back() = {'l', 0, 0, 0};
        } else if (op == 'p') {
            p = line_end(p) + 1;
        } else if (op == 'F' || op == 'I') {
            size_t e = line_end(p);
            std::string num = text.substr(p, e - p);
            char *end = nullptr;
            double v = op == 'F' ? std::strtod(num.c_str(), &end)
                                 : static_cast<double>(std::strtoull(num.c_str(), &end, 10));
            if (num.empty() || *end) return "bad number '" + num.substr(0, 32) + "'";
            stack.push_back({op, v, 0, 0});
            p = e + 1;
        } else if (op == 'a') {
            if (stack.size() < 2 || stack[stack.size() - 2].kind != 'l') return "APPEND without a list";
            Item value = stack.back();
            stack.pop_back();
            Item &list = stack.back();
            if (value.kind == 'F' && list.count == 0) {
                list.score = value.value;
            } else if (value.kind == 'I' && list.count > 0) {
                if (value.value < 0 || value.value > 4294967295.0) return "fragment id out of range";
                out.push_back({static_cast<std::uint32_t>(value.value), list.score});
            } else if (value.kind != 'l') {
                return "unexpected layout (expected lists of [score, id, id, ...])";
            }
            list.count++;
        } else if (op == '.') {
            return stack.size() == 1 && stack[0].kind == 'l' ? "" : "unbalanced pickle";
        } else if (op != '\n') {
            return std::string("unsupported pickle opcode '") + op + "'";
        }
    }
    return "no STOP opcode";
}

FragmentTable load_table() {
    FragmentTable t;
    const char *env = std::getenv("MIGRATE_SA_SCORES");
    std::string path = env && *env ? env : MIGRATE_SA_SCORES;
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) {
        t.error = path + ": cannot open (install rdkit-data, or set MIGRATE_SA_SCORES)";
        return t;
    }
    std::string text;
    char buf[1 << 16];
    int got;
    while ((got = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(got));
    int err = 0;
    const char *why = gzerror(f, &err);
    std::string zerr = got < 0 ? std::string(why ? why : "read error") : "";
    gzclose(f);
    if (!zerr.empty()) {
        t.error = path + ": " + zerr;
        return t;
    }
    std::vector<Fragment> raw;
    std::string perr = parse_pickle(text, raw);
    if (!perr.empty() || raw.empty()) {
        t.error = path + ": " + (perr.empty() ? "no fragments" : perr);
        return t;
    }
    // Later entries win, as in a dict built in file order: stable sort, then keep the last of each id.
    std::stable_sort(raw.begin(), raw.end(), [](const Fragment &a, const Fragment &b) { return a.id < b.id; });
    for (size_t i = 0; i < raw.size(); i++)
        if (i + 1 == raw.size() || raw[i + 1].id != raw[i].id) t.entries.push_back(raw[i]);
    return t;
}

const FragmentTable &table() {
    static const FragmentTable t = load_table();
    return t;
}

double fragment_score(const FragmentTable &t, std::uint32_t id) {
    auto it = std::lower_bound(t.entries.begin(), t.entries.end(), id,
                               [](const Fragment &f, std::uint32_t v) { return f.id < v; });
    return it != t.entries.end() && it->id == id ? it->score : -4.0;
}

double sa_score(const RDKit::ROMol &m, const FragmentTable &t) {
    // Fragment score: GetNonzeroElements() iterates ids in ascending order, and so does the std::map here.
    std::unique_ptr<RDKit::SparseIntVect<std::uint32_t>> fp(RDKit::MorganFingerprints::getFingerprint(m, 2));
    const auto &elements = fp->getNonzeroElements();
    double score1 = 0;
    long nf = 0;
    for (const auto &kv : elements) {
        nf += kv.second;
        score1 += fragment_score(t, kv.first) * kv.second;
    }
    score1 /= static_cast<double>(nf);

    // FindMolChiralCenters(m, includeUnassigned=True): the legacy perception, flagging possible centres. It
    // writes atom properties, so it runs on a copy and leaves the caller's molecule as it was.
    RDKit::ROMol copy(m);
    RDKit::MolOps::assignStereochemistry(copy, false, true, true);
    int chiral = 0;
    for (const auto *atom : copy.atoms())
        chiral += atom->hasProp(RDKit::common_properties::_CIPCode) ||
                  atom->hasProp(RDKit::common_properties::_ChiralityPossible);

    int n_atoms = static_cast<int>(m.getNumAtoms());
    int macrocycles = 0;
    for (const auto &ring : m.getRingInfo()->atomRings()) macrocycles += ring.size() > 8;
    unsigned bridgeheads = RDKit::Descriptors::calcNumBridgeheadAtoms(m);
    unsigned spiro = RDKit::Descriptors::calcNumSpiroAtoms(m);

    double size_penalty = std::pow(static_cast<double>(n_atoms), 1.005) - n_atoms;
    double stereo_penalty = std::log10(chiral + 1.0);
    double spiro_penalty = std::log10(spiro + 1.0);
    double bridge_penalty = std::log10(bridgeheads + 1.0);
    double macrocycle_penalty = macrocycles > 0 ? std::log10(2.0) : 0.0;
    double score2 = 0. - size_penalty - stereo_penalty - spiro_penalty - bridge_penalty - macrocycle_penalty;

    // Symmetry correction: highly symmetric molecules have few distinct environments.
    double score3 = 0.;
    size_t n_fps = elements.size();
    if (static_cast<size_t>(n_atoms) > n_fps) score3 = std::log(static_cast<double>(n_atoms) / n_fps) * .5;

    double sascore = score1 + score2 + score3;
    const double lo = -4.0, hi = 2.5;
    sascore = 11. - (sascore - lo + 1) / (hi - lo) * 9.;
    if (sascore > 8.) sascore = 8. + std::log(sascore + 1. - 9.);  // smooth the 10 end
    if (sascore > 10.) sascore = 10.0;
    else if (sascore < 1.) sascore = 1.0;
    return sascore;
}

}  // namespace

extern "C" {

double chem_sa_score(const chem_mol *m) {
    const double nan = std::nan("");
    if (!m) return nan;
    return chem::fenced(nan, [&] {
        const FragmentTable &t = table();
        return t.error.empty() ? sa_score(*m->mol, t) : nan;
    });
}

const char *chem_sa_error(void) {
    return chem::fenced<const char *>("the SA fragment table could not be read", [] {
        const FragmentTable &t = table();
        return t.error.empty() ? static_cast<const char *>(nullptr) : t.error.c_str();
    });
}

}  // extern "C"
