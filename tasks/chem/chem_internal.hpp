// What the shim's C++ files share: the handle types and the exception fence every extern "C" function uses.
#pragma once
#include <GraphMol/ROMol.h>
#include <GraphMol/RWMol.h>

#include <memory>

#include "tasks/chem/chem.h"

struct chem_mol {
    std::unique_ptr<RDKit::ROMol> mol;
};

struct chem_query {
    std::unique_ptr<RDKit::RWMol> mol;
};

namespace chem {

// Silences RDKit's logs once per process (every entry point calls it; after the first call it costs one atomic
// load).
void init();

// Runs f() and returns its value, or `failed` when it throws anything: RDKit reports bad input (and the odd
// internal failure) by exceptions, and none may reach C.
template <class T, class F>
T fenced(T failed, F &&f) noexcept {
    try {
        init();
        return f();
    } catch (...) {
        return failed;
    }
}

}  // namespace chem
