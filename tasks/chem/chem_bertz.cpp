// Bertz's complexity index (J. Am. Chem. Soc. 103, 3599, 1981) as rdkit.Chem.GraphDescriptors.BertzCT computes it
// (cutoff 100), which exists only in RDKit's Python. PMO's valsartan_smarts needs it. Same steps, same order:
//   1. symmetry classes: atoms whose sorted rows of the bond-order-weighted distance matrix print alike
//      ("%.4f", first 100 entries) share a class, numbered by first appearance;
//   2. "connections": for each atom (the hinge) every pair of its neighbours adds bond order product to the key
//      (min class, hinge class, max class), and each multiple bond to a higher-index neighbour adds
//      order * (order - 1) / 2 to (min class, max class); aromatic bonds count 1.5;
//   3. complexity = N_conn * (H(connections) + log2 N_conn) + N_atoms * H(element counts), H in bits, with the
//      dict insertion orders of the Python code (they fix the summation order).
#include <GraphMol/MolOps.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tasks/chem/chem_internal.hpp"

namespace {

// RDKit's InfoEntropy (ML/InfoTheory/InfoGainFuncs.h), which rdkit.ML.InfoTheory.entropy.InfoEntropy calls.
double info_entropy(const std::vector<double> &counts) {
    double total = 0, accum = 0;
    for (double c : counts) total += c;
    if (total != 0)
        for (double c : counts) {
            double d = c / total;
            if (d != 0) accum += -d * std::log(d);
        }
    return accum / std::log(2.0);
}

// A map that remembers insertion order, like a Python dict.
template <class K>
struct OrderedCounts {
    std::map<K, size_t> index;
    std::vector<double> values;
    void add(const K &k, double v) {
        auto it = index.find(k);
        if (it == index.end()) index.emplace(k, values.size()), values.push_back(v);
        else values[it->second] += v;
    }
};

double bond_order(const RDKit::Bond *b) {
    if (b->getIsAromatic() || b->getBondType() == RDKit::Bond::AROMATIC) return 1.5;
    return static_cast<double>(b->getBondType());  // Python's float(BondType): the enum's value
}

double bertz(const RDKit::ROMol &input) {
    int n = static_cast<int>(input.getNumAtoms());
    if (n < 2) return 0;
    RDKit::ROMol mol(input);  // the distance matrix is cached on the molecule; keep the caller's untouched
    const double *dm = RDKit::MolOps::getDistanceMat(mol, true, false, true, "Balaban");

    // 1. symmetry classes
    std::vector<std::string> seen;
    std::vector<int> cls(n);
    std::vector<double> row(n);
    char buf[64];
    for (int i = 0; i < n; i++) {
        std::copy(dm + (size_t)i * n, dm + (size_t)(i + 1) * n, row.begin());
        std::sort(row.begin(), row.end());
        std::string key;
        for (int j = 0; j < n && j < 100; j++) {
            std::snprintf(buf, sizeof buf, "%.4f,", row[j]);
            key += buf;
        }
        auto it = std::find(seen.begin(), seen.end(), key);
        cls[i] = static_cast<int>(it - seen.begin()) + 1;
        if (it == seen.end()) seen.push_back(key);
    }

    // 2. neighbour lists (sorted, as _CreateBondDictEtc makes them) and bond orders
    std::vector<std::vector<int>> nbr(n);
    std::map<std::pair<int, int>, double> order;
    for (const auto *b : mol.bonds()) {
        int a1 = static_cast<int>(b->getBeginAtomIdx()), a2 = static_cast<int>(b->getEndAtomIdx());
        if (a1 > a2) std::swap(a1, a2);
        order[{a1, a2}] = bond_order(b);
        if (std::find(nbr[a1].begin(), nbr[a1].end(), a2) == nbr[a1].end()) nbr[a1].push_back(a2);
        if (std::find(nbr[a2].begin(), nbr[a2].end(), a1) == nbr[a2].end()) nbr[a2].push_back(a1);
    }
    for (auto &v : nbr) std::sort(v.begin(), v.end());
    auto bo = [&](int a, int b) { return order.at({std::min(a, b), std::max(a, b)}); };

    // Two- and three-class keys live in one Python dict; a third field of -1 marks the two-class ones.
    OrderedCounts<std::array<int, 3>> connections;
    OrderedCounts<int> elements;
    for (int a = 0; a < n; a++) {
        elements.add(mol.getAtomWithIdx(a)->getAtomicNum(), 1);
        int hinge = cls[a];
        const auto &nb = nbr[a];
        for (size_t i = 0; i < nb.size(); i++) {
            int ci = cls[nb[i]];
            double oi = bo(a, nb[i]);
            if (oi > 1 && nb[i] > a)
                connections.add({std::min(hinge, ci), std::max(hinge, ci), -1}, oi * (oi - 1) / 2);
            for (size_t j = i + 1; j < nb.size(); j++) {
                int cj = cls[nb[j]];
                connections.add({std::min(ci, cj), hinge, std::max(ci, cj)}, oi * bo(a, nb[j]));
            }
        }
    }
    if (connections.values.empty()) connections.values.push_back(1);  // {'a': 1}

    // 3. entropies
    double total = 0;
    for (double v : connections.values) total += v;
    double connection_ie = total * (info_entropy(connections.values) + std::log(total) / std::log(2.0));
    double atom_type_ie = n * info_entropy(elements.values);
    return atom_type_ie + connection_ie;
}

}  // namespace

extern "C" double chem_bertz(const chem_mol *m) {
    const double nan = std::nan("");
    if (!m) return nan;
    return chem::fenced(nan, [&] { return bertz(*m->mol); });
}
