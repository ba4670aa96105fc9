"""Reference values for the RDKit shim (tasks/chem/) and the molecule objectives (tasks/molecule_objective.c),
computed by the Python implementations they reproduce, on Debian's RDKit (the library the C code links):

  properties   rdkit: Chem.MolToSmiles, rdMolDescriptors.CalcMolFormula, QED.qed, Descriptors.MolLogP / TPSA /
               MolWt / NumHDonors / NumHAcceptors / NumRotatableBonds / BertzCT, CalcNumRings,
               CalcNumAromaticRings, Contrib/SA_Score/sascorer.calculateScore; Tanimoto of GetMorganFingerprint
               (radius 2/3, useFeatures) and GetAtomPairFingerprint(maxLength=10); SMARTS matches
  PMO tasks    PyTDC 1.1.15 (tdc/chem_utils/oracle/oracle.py): the functions tdc.Oracle(name) calls
  building     GuacaMol 0.5.5 scoring functions and score modifiers (guacamol/common_scoring_functions.py,
  blocks       scoring_function.py, score_modifier.py) for what PMO does not use: arithmetic / weighted means,
               linear, squared, absolute, smooth-clipped and thresholded modifiers, SMARTS absence

Molecules: every other entry of RDKit's NCI sample (/usr/share/RDKit/Data/NCI/first_5K.smi, rdkit-data), the PMO
reference molecules, single-atom edits of them (so similarities and formula scores reach their interesting
ranges), hand-picked edge cases (salts, charges, isotopes, stereo, macrocycles, bridges) and invalid SMILES.

Setup (PyTDC and GuacaMol pull in torch and tensorflow; without their dependencies only the scoring modules are
needed, and RDKit comes from Debian through --system-site-packages):

    /usr/bin/python3 -m venv --system-site-packages /tmp/chemvenv
    /tmp/chemvenv/bin/pip install --no-deps PyTDC==1.1.15 guacamol==0.5.5
    /tmp/chemvenv/bin/pip install scipy==1.11.4 networkx packaging scikit-learn tqdm
    /tmp/chemvenv/bin/python tests/parity/make_chem_fixtures.py   # writes tests/parity/fixtures/chem/chem.tsv.gz

The C test (tests/parity/test_chem_parity.c) reads the file; it needs no Python.
"""
import gzip
import importlib.util
import os
import site
import sys
import types

import numpy as np
import rdkit
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import AllChem, Descriptors, QED, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")
sys.path.append("/usr/share/RDKit/Contrib/SA_Score")
import sascorer  # noqa: E402


def load_tdc_oracles():
    """tdc/chem_utils/oracle/oracle.py without the rest of PyTDC (whose __init__ imports pandas, torch, ...).
    It imports rdkit.six, which RDKit 2022 no longer ships: a two-line stand-in provides iteritems."""
    six = types.ModuleType("rdkit.six")
    six.iteritems = lambda d: iter(d.items())
    sys.modules["rdkit.six"] = six
    root = None
    for d in site.getsitepackages():
        if os.path.exists(os.path.join(d, "tdc", "chem_utils", "oracle", "oracle.py")):
            root = os.path.join(d, "tdc")
    if root is None:
        sys.exit("PyTDC is not installed (see the setup in this script's docstring)")
    for name in ["tdc", "tdc.chem_utils", "tdc.chem_utils.oracle"]:
        m = types.ModuleType(name)
        m.__path__ = []
        sys.modules[name] = m
    utils = types.ModuleType("tdc.utils")
    utils.oracle_load = utils.print_sys = utils.install = None  # only for downloads, which these tasks never use
    sys.modules["tdc.utils"] = utils
    spec = importlib.util.spec_from_file_location("tdc.chem_utils.oracle.oracle",
                                                  os.path.join(root, "chem_utils", "oracle", "oracle.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tdc = load_tdc_oracles()
from guacamol import score_modifier as gm  # noqa: E402
from guacamol.common_scoring_functions import (IsomerScoringFunction, RdkitScoringFunction,  # noqa: E402
                                               SMARTSScoringFunction, TanimotoScoringFunction)
from guacamol.scoring_function import ArithmeticMeanScoringFunction, GeometricMeanScoringFunction  # noqa: E402
from guacamol.utils import descriptors as gd  # noqa: E402

PMO = ["qed", "median1", "median2", "zaleplon_mpo", "sitagliptin_mpo", "osimertinib_mpo", "fexofenadine_mpo",
       "ranolazine_mpo", "perindopril_mpo", "amlodipine_mpo", "celecoxib_rediscovery", "troglitazone_rediscovery",
       "thiothixene_rediscovery", "albuterol_similarity", "mestranol_similarity", "aripiprazole_similarity",
       "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "isomers_c11h24", "valsartan_smarts"]

SIM_REF = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"  # celecoxib
FPS = {"ecfp4": lambda m: AllChem.GetMorganFingerprint(m, 2),
       "ecfp6": lambda m: AllChem.GetMorganFingerprint(m, 3),
       "fcfp4": lambda m: AllChem.GetMorganFingerprint(m, 2, useFeatures=True),
       "fcfp6": lambda m: AllChem.GetMorganFingerprint(m, 3, useFeatures=True),
       "ap": lambda m: AllChem.GetAtomPairFingerprint(m, maxLength=10)}
SMARTS = ["CN(C=O)Cc1ccc(c2ccccc2)cc1", "[$([N;+0;X3;v3]);!$(N[C,S]=O)]", "[#6]S(=O)(=O)[N,c]", "a1aaaaa1"]
ELEMENTS = ["H", "C", "N", "O", "F", "Cl"]

# Compositions of GuacaMol building blocks, as the C side writes them (YAML) and as GuacaMol computes them.
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CUSTOM = [
    ("custom_arithmetic",
     "{mean: arithmetic, terms: [{property: qed, weight: 2},"
     " {property: logp, modifier: {type: smooth_clipped, upper_x: 4, lower_x: -1}},"
     " {similarity: '" + ASPIRIN + "', fingerprint: ap, modifier: {type: threshold, threshold: 0.5}},"
     " {property: hbd, modifier: {type: absolute, target: 1}, weight: 0.5},"
     " {property: tpsa, modifier: {type: squared, target: 60, coefficient: 0.0001}}]}",
     lambda: ArithmeticMeanScoringFunction(
         [RdkitScoringFunction(gd.qed),
          RdkitScoringFunction(gd.logP, gm.SmoothClippedScoreModifier(upper_x=4, lower_x=-1)),
          TanimotoScoringFunction(ASPIRIN, "AP", gm.ThresholdedLinearModifier(threshold=0.5)),
          RdkitScoringFunction(gd.num_H_donors, gm.AbsoluteScoreModifier(target_value=1)),
          RdkitScoringFunction(gd.tpsa, gm.SquaredModifier(target_value=60, coefficient=0.0001))],
         weights=[2, 1, 1, 0.5, 1])),
    ("custom_geometric",
     "{mean: geometric, terms: [{smarts: 'C(=O)O', present: false},"
     " {property: rings, modifier: {type: linear, slope: 0.25}},"
     " {property: mol_weight, modifier: {type: min_gaussian, mu: 350, sigma: 50}},"
     " {similarity: '" + ASPIRIN + "', fingerprint: fcfp6,"
     " modifier: [{type: clipped, upper_x: 0.2, lower_x: 0.6, high_score: 0.9, low_score: 0.1},"
     " {type: linear, slope: 0.5}]}]}",
     lambda: GeometricMeanScoringFunction(
         [SMARTSScoringFunction("C(=O)O", inverse=True),
          RdkitScoringFunction(gd.num_rings, gm.LinearModifier(slope=0.25)),
          RdkitScoringFunction(gd.mol_weight, gm.MinGaussianModifier(mu=350, sigma=50)),
          TanimotoScoringFunction(ASPIRIN, "FCFP6", gm.ChainedModifier(
              [gm.ClippedScoreModifier(upper_x=0.2, lower_x=0.6, high_score=0.9, low_score=0.1),
               gm.LinearModifier(slope=0.5)]))])),
    ("custom_isomer_arithmetic", "{isomer: C8H10N4O2, mean: arithmetic}",
     lambda: IsomerScoringFunction("C8H10N4O2", mean_function="arithmetic")),
    ("custom_heavy_atoms", "{property: heavy_atoms, modifier: {type: max_gaussian, mu: 20, sigma: 4}}",
     lambda: RdkitScoringFunction(lambda m: m.GetNumAtoms(), gm.MaxGaussianModifier(mu=20, sigma=4))),
]

EDGE = ["C", "O", "[Na+].[Cl-]", "C[N+](C)(C)C", "[13CH4]", "[2H]C([2H])([2H])O", "F[C@H](Cl)Br", "C/C=C/C",
        "C1CCCCCCCCCCC1", "C1CCC2(CC1)CCCC2", "C1CC2CCC1C2", "[H][H]", "[H]C([H])([H])[H]", "c1ccccc1",
        "CC(=O)O.CCN", "[Fe+2]", "[Se]", "c1cc[nH]c1", "*C", "CC(C)(C)[Si](C)(C)C", "OP(=O)(O)O",
        "[O-][N+](=O)c1ccccc1",
        "C1=CC=CC=C1", "N#N", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1",
        "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O", "C[C@@H]1CC[C@H](C(C)C)[C@@H](O)C1", "ClC(Cl)(Cl)Cl", "I",
        "C1CC1C1CC1", "C1CCC2CCCCC2C1", "c1ccc2c(c1)ccc1ccccc12", "OCC(O)CO", "C=C=C", "C#CC#C"]
INVALID = ["C1=CC=CC=C1X", "C(C)(C)(C)(C)C", "c1ccccc", "C1CC", "((", "[C@@H", "n1cccc1", "Cl(Cl)(Cl)(Cl)Cl",
           "CCO)", "c1cccc1", "[Xx]", "C=1CC", "[CH5]"]

REFERENCES = [
    "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O",
    "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C",
    "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
    "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1",
    "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34",
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",
    "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC",
    "Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC",
    SIM_REF, "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
    "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1", "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
    "Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl",
    "CCN(CC)C(=O)C1=CC=C(C=C1)N(C)C(=O)CN1CCN(C)CC1", "NC1=CC=C(C=C1)C(=O)NN", "CC(=O)OC1=CC=CC=C1C(=O)O",
    "CCCCC(=O)N(Cc1ccc(cc1)c1ccccc1c1nnn[nH]1)[C@@H](C(C)C)C(=O)O",  # valsartan (valsartan_smarts' pattern)
    "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F", "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
]


def variants(smiles, n=16):
    """Single-atom edits of a molecule (an atom's element changed, or a terminal atom removed) that stay valid."""
    base = Chem.MolFromSmiles(smiles)
    out, seen = [], {Chem.MolToSmiles(base)}
    for idx in range(base.GetNumAtoms()):
        for op in ("N", "O", "S", "C", "F", "drop"):
            rw = Chem.RWMol(base)
            atom = rw.GetAtomWithIdx(idx)
            if op == "drop":
                if atom.GetDegree() != 1:
                    continue
                rw.RemoveAtom(idx)
            else:
                atom.SetAtomicNum(Chem.GetPeriodicTable().GetAtomicNumber(op))
                atom.SetNoImplicit(False)
                atom.SetNumExplicitHs(0)
            try:
                m = rw.GetMol()
                Chem.SanitizeMol(m)
                s = Chem.MolToSmiles(m)
            except Exception:
                continue
            if Chem.MolFromSmiles(s) is not None and s not in seen:
                seen.add(s)
                out.append(s)
    step = max(1, len(out) // n)
    return out[::step][:n]


def molecules():
    nci = []
    with open("/usr/share/RDKit/Data/NCI/first_5K.smi") as f:
        for i, line in enumerate(f):
            if i % 2 == 0 and line.strip():
                nci.append(line.split()[0])
    out = EDGE + INVALID + REFERENCES
    for r in REFERENCES:
        out += variants(r)
    return out + nci


def num(x):
    """Shortest text that reads back within 1e-12 relative: the C test allows 1e-6."""
    if x is None:
        return "nan"
    x = float(x)
    if x != x:
        return "nan"
    return "%.12g" % x


def tdc_score(name, smiles):
    """What tdc.Oracle(name)(smiles) returns for one SMILES string: 0 for an invalid SMILES or an exception."""
    if Chem.MolFromSmiles(smiles) is None:
        return 0.0
    try:
        return float(getattr(tdc, name)(smiles))
    except Exception:
        return 0.0


def row(smiles, ref_fps, queries, customs):
    m = Chem.MolFromSmiles(smiles)
    valid = m is not None and m.GetNumAtoms() > 0
    cols = [smiles, "1" if valid else "0"]
    if valid:
        fresh = lambda: Chem.MolFromSmiles(smiles)  # noqa: E731  (SA and Bertz mutate the molecule they get)
        cols += [Chem.MolToSmiles(m), rdMolDescriptors.CalcMolFormula(m), str(m.GetNumAtoms()),
                 str(Chem.AddHs(m).GetNumAtoms())]
        cols += [str(gd.AtomCounter(e)(m)) for e in ELEMENTS]
        cols += [num(QED.qed(fresh())), num(Descriptors.MolLogP(fresh())), num(Descriptors.TPSA(fresh())),
                 num(Descriptors.MolWt(fresh())), str(Descriptors.NumHDonors(m)), str(Descriptors.NumHAcceptors(m)),
                 str(Descriptors.NumRotatableBonds(m)), str(rdMolDescriptors.CalcNumRings(m)),
                 str(rdMolDescriptors.CalcNumAromaticRings(m)), num(sascorer.calculateScore(fresh())),
                 num(Descriptors.BertzCT(fresh()))]
        cols += [num(DataStructs.TanimotoSimilarity(FPS[k](m), ref_fps[k])) for k in FPS]
        for q in queries:
            cols += ["1" if m.HasSubstructMatch(q) else "0", str(len(m.GetSubstructMatches(q)))]
    else:
        cols += ["-"] * (4 + len(ELEMENTS) + 11 + len(FPS) + 2 * len(SMARTS))
    cols += [num(tdc_score(name, smiles)) for name in PMO]
    # GuacaMol scores an invalid molecule -1 (its corrupt_score); the task scores it 0.
    for f in customs:
        s = f.score(smiles) if valid else 0.0
        cols.append(num(0.0 if s == -1.0 else s))
    return cols


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "chem")
    os.makedirs(out_dir, exist_ok=True)
    ref = Chem.MolFromSmiles(SIM_REF)
    ref_fps = {k: f(ref) for k, f in FPS.items()}
    queries = [Chem.MolFromSmarts(s) for s in SMARTS]
    customs = [make() for _, _, make in CUSTOM]
    header = (["smiles", "valid", "canonical", "formula", "heavy_atoms", "atoms_with_h"] +
              ["count_" + e for e in ELEMENTS] +
              ["qed", "logp", "tpsa", "mol_weight", "hbd", "hba", "rotatable_bonds", "rings", "aromatic_rings", "sa",
               "bertz"] + ["sim_" + k for k in FPS] +
              [f"{w}_{i}" for i in range(len(SMARTS)) for w in ("match", "matches")] +
              ["pmo_" + n for n in PMO] + [name for name, _, _ in CUSTOM])
    mols = molecules()
    rows = [row(s, ref_fps, queries, customs) for s in mols]
    path = os.path.join(out_dir, "chem.tsv.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as gz:
        w = lambda line: gz.write((line + "\n").encode())  # noqa: E731
        w(f"# tests/parity/make_chem_fixtures.py: rdkit {rdkit.__version__}, PyTDC 1.1.15, GuacaMol 0.5.5; "
          f"{len(rows)} molecules")
        w("#similarity_reference\t" + SIM_REF)
        for s in SMARTS:
            w("#smarts\t" + s)
        for name, yaml, _ in CUSTOM:
            w(f"#objective\t{name}\t{yaml}")
        w("\t".join(header))
        for r in rows:
            assert len(r) == len(header), (r[0], len(r), len(header))
            w("\t".join(r))
    n_valid = sum(r[1] == "1" for r in rows)
    print(f"wrote {path}: {len(rows)} molecules ({n_valid} valid), {os.path.getsize(path)} bytes")

    # The PMO definitions in PyTDC and GuacaMol agree where both define a task (a check of the sources, not of C).
    pairs = [("celecoxib_rediscovery", TanimotoScoringFunction(SIM_REF, "ECFP4")),
             ("isomers_c9h10n2o2pf2cl", IsomerScoringFunction("C9H10N2O2PF2Cl"))]
    for name, g in pairs:
        d = max(abs(tdc_score(name, s) - g.score(s)) for s in mols[:400] if Chem.MolFromSmiles(s) is not None)
        print(f"PyTDC vs GuacaMol {name}: max |diff| {d:.3g} over the first 400 molecules")
    vals = np.array([[float(x) for x in r[-len(PMO) - len(CUSTOM):]] for r in rows if r[1] == "1"])
    for j, name in enumerate(PMO + [c[0] for c in CUSTOM]):
        print(f"  {name:26s} mean {vals[:, j].mean():.4f}  max {vals[:, j].max():.4f}")


if __name__ == "__main__":
    main()
