#!/usr/bin/env python3
"""A docking oracle for migrate (docs/oracle.md protocol): the MiGrATe paper's combined docking + drug-likeness score.

For each candidate: the first whitespace-separated token RDKit reads as a molecule is the ligand; RDKit adds
hydrogens and embeds it in 3D (seeded, so a molecule always gets the same start), Open Babel writes it as PDBQT,
AutoDock Vina docks it into the receptor's box, and the reward is

    clip(1 - ((vina + (1 - QED) + 12) / 10), 0, 1)

with vina the best pose's affinity in kcal/mol (negative is better) and QED RDKit's drug-likeness. An affinity of
-12 with QED 1 scores 1; -2 or worse scores 0. Everything comes from Debian: autodock-vina, openbabel,
python3-rdkit.

  python3 tasks/examples/docking_oracle.py --receptor tasks/examples/docking/receptor.pdbqt.gz \
      --center 11 90.5 57.5 --size 22 24 28 [--exhaustiveness 8] [--seed 1] [--cpu 1]

Try it:  echo '{"id": 1, "candidate": "CC(=O)Oc1ccccc1C(=O)O"}' | python3 tasks/examples/docking_oracle.py ...
Receptor: tasks/examples/docking/README.md. Run a search with it: jobs/docking-example.yaml.
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

# Debian's python3-rdkit lives in /usr/bin/python3's dist-packages. When the python3 that runs this script is
# another one (pyenv, conda, a venv: often first on PATH) and has no RDKit, hand over to an interpreter that has it,
# so `python3 docking_oracle.py` works whatever python3 is; the user's own python3 is left as it is.
RDKIT_INTERPRETERS = ("/usr/bin/python3", "/usr/local/bin/python3")
try:
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem, QED
except ImportError:
    if os.environ.get("DOCKING_ORACLE_REEXEC") != "1":
        for exe in RDKIT_INTERPRETERS:  # a venv's python3 may resolve to one of these but sees other packages
            if (os.access(exe, os.X_OK) and
                    subprocess.run([exe, "-c", "import rdkit"], capture_output=True).returncode == 0):
                os.environ["DOCKING_ORACLE_REEXEC"] = "1"  # no loop if that one changes its mind
                os.execv(exe, [exe, os.path.abspath(__file__)] + sys.argv[1:])
    sys.exit(f"docking_oracle: RDKit is not importable from {sys.executable} nor from "
             f"{' or '.join(RDKIT_INTERPRETERS)} (Debian: apt-get install python3-rdkit; or pip install rdkit into "
             f"the python3 that runs this script)")

RDLogger.DisableLog("rdApp.*")  # RDKit's parse errors go to stderr; the reply's info says it once


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--receptor", required=True, help="receptor PDBQT (.pdbqt or .pdbqt.gz)")
    p.add_argument("--center", type=float, nargs=3, required=True, metavar=("X", "Y", "Z"), help="box centre (A)")
    p.add_argument("--size", type=float, nargs=3, required=True, metavar=("X", "Y", "Z"), help="box edges (A)")
    p.add_argument("--exhaustiveness", type=int, default=8, help="Vina's search effort (default 8)")
    p.add_argument("--seed", type=int, default=1, help="Vina's and the 3D embedding's seed")
    p.add_argument("--cpu", type=int, default=1, help="threads per Vina run (default 1; run more workers instead)")
    p.add_argument("--vina", default="vina")
    p.add_argument("--obabel", default="obabel")
    p.add_argument("--max-heavy-atoms", type=int, default=60, help="larger ligands score invalid (docking time)")
    a = p.parse_args()
    for tool in (a.vina, a.obabel):
        if not shutil.which(tool):
            sys.exit(f"docking_oracle: '{tool}' is not installed (Debian: apt-get install autodock-vina openbabel)")
    if not os.path.isfile(a.receptor):
        sys.exit(f"docking_oracle: --receptor {a.receptor}: no such file")
    if min(a.size) <= 0 or a.exhaustiveness < 1:
        sys.exit("docking_oracle: --size must be positive and --exhaustiveness at least 1")
    return a


def first_molecule(candidate):
    for token in candidate.split():
        mol = Chem.MolFromSmiles(token.strip("`'\".,;:"))
        if mol is not None and mol.GetNumAtoms() > 0:
            return mol
    return None


def ligand_pdbqt(mol, seed, obabel, path):
    """3D ligand with polar hydrogens and Gasteiger charges, as Vina wants it."""
    mol_h = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol_h, randomSeed=seed) != 0:
        raise ValueError("RDKit could not embed the molecule in 3D")
    AllChem.MMFFOptimizeMolecule(mol_h)
    out = subprocess.run([obabel, "-imol", "-opdbqt", "-O", path], input=Chem.MolToMolBlock(mol_h),
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or not os.path.getsize(path):
        raise ValueError(f"obabel could not write PDBQT: {out.stderr.strip()[:200]}")


def vina_affinity(a, receptor, ligand, out_path):
    cmd = [a.vina, "--receptor", receptor, "--ligand", ligand, "--out", out_path, "--num_modes", "1",
           "--exhaustiveness", str(a.exhaustiveness), "--cpu", str(a.cpu), "--seed", str(a.seed)]
    for axis, c, s in zip("xyz", a.center, a.size):
        cmd += [f"--center_{axis}", str(c), f"--size_{axis}", str(s)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    for line in out.stdout.splitlines():  # the result table: "   1       -7.3      0.000      0.000"
        f = line.split()
        if len(f) == 4 and f[0] == "1":
            return float(f[1])
    raise ValueError(f"vina gave no pose: {(out.stderr or out.stdout).strip()[-200:]}")


def combined(vina, qed):
    return min(1.0, max(0.0, 1.0 - ((vina + (1.0 - qed) + 12.0) / 10.0)))


def score(a, receptor, workdir, candidate, cache):
    mol = first_molecule(candidate)
    if mol is None:
        return 0.0, False, "no valid SMILES"
    smiles = Chem.MolToSmiles(mol)
    if smiles in cache:
        return cache[smiles]
    if mol.GetNumHeavyAtoms() > a.max_heavy_atoms:
        return 0.0, False, f"{mol.GetNumHeavyAtoms()} heavy atoms (more than --max-heavy-atoms {a.max_heavy_atoms})"
    qed = QED.qed(mol)
    ligand, posed = os.path.join(workdir, "ligand.pdbqt"), os.path.join(workdir, "posed.pdbqt")
    ligand_pdbqt(mol, a.seed, a.obabel, ligand)
    vina = vina_affinity(a, receptor, ligand, posed)
    cache[smiles] = (combined(vina, qed), True, f"vina {vina:.2f} kcal/mol, QED {qed:.3f}, {smiles}")
    return cache[smiles]


def main():
    a = parse_args()
    workdir = tempfile.mkdtemp(prefix="docking_oracle.")
    try:
        receptor = a.receptor
        if receptor.endswith(".gz"):  # Vina reads plain PDBQT only
            receptor = os.path.join(workdir, "receptor.pdbqt")
            with gzip.open(a.receptor, "rb") as src, open(receptor, "wb") as dst:
                shutil.copyfileobj(src, dst)
        cache = {}
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            try:
                reward, valid, info = score(a, receptor, workdir, str(request["candidate"]), cache)
            except Exception as exc:  # a molecule Vina or Open Babel cannot handle scores invalid; the worker lives
                reward, valid, info = 0.0, False, f"{type(exc).__name__}: {str(exc)[:200]}"
            print(json.dumps({"id": request["id"], "reward": float(reward), "valid": bool(valid), "info": info}),
                  flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
