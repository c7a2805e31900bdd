"""One bibliography with stable keys, used by docstrings, results and docs.

Each entry is a short citation string. Results carry the *key*; ``cite(key)`` gives
the full text. Keys never change once published in a release.
"""

from __future__ import annotations

__all__ = ["REFERENCES", "cite"]

REFERENCES: dict[str, str] = {
    "Bucarelli2024": (
        "M. S. Bucarelli, G. A. D'Inverno, M. Bianchini, F. Scarselli, F. Silvestri, "
        "A topological description of loss surfaces based on Betti Numbers, "
        "Neural Networks 178 (2024) 106465, arXiv:2401.03824"
    ),
    "Khovanskii1991": (
        "A. G. Khovanskii, Fewnomials, Translations of Mathematical Monographs 88, "
        "American Mathematical Society, 1991"
    ),
    "GabrielovVorobjov2004": (
        "A. Gabrielov, N. Vorobjov, Complexity of computations with Pfaffian and "
        "Noetherian functions, in: Normal Forms, Bifurcations and Finiteness Problems "
        "in Differential Equations, NATO Science Series II 137, Kluwer, 2004, 211-250"
    ),
    "Zell1999": (
        "T. Zell, Betti numbers of semi-Pfaffian sets, "
        "Journal of Pure and Applied Algebra 139 (1999) 323-338"
    ),
    "Milnor1964": (
        "J. Milnor, On the Betti numbers of real varieties, "
        "Proceedings of the AMS 15 (1964) 275-280"
    ),
    "OleinikPetrovskii1949": (
        "O. A. Oleinik, I. G. Petrovskii, On the topology of real algebraic surfaces, "
        "Izv. Akad. Nauk SSSR 13 (1949) 389-402"
    ),
    "Thom1965": (
        "R. Thom, Sur l'homologie des varietes algebriques reelles, in: Differential and "
        "Combinatorial Topology, Princeton University Press, 1965, 255-265"
    ),
    "BianchiniScarselli2014": (
        "M. Bianchini, F. Scarselli, On the complexity of neural network classifiers: a "
        "comparison between shallow and deep architectures, IEEE Transactions on Neural "
        "Networks and Learning Systems 25(8) (2014) 1553-1565"
    ),
    "Wilkie1999": (
        "A. J. Wilkie, A theorem of the complement and some new o-minimal structures, "
        "Selecta Mathematica 5 (1999) 397-421"
    ),
    "vandenDries1998": (
        "L. van den Dries, Tame Topology and O-minimal Structures, London Mathematical "
        "Society Lecture Note Series 248, Cambridge University Press, 1998"
    ),
    "Braess1974": (
        "D. Braess, Morse-Theorie fuer berandete Mannigfaltigkeiten, "
        "Mathematische Annalen 208 (1974) 133-148"
    ),
    "Barannikov2019": (
        "S. Barannikov, A. Korotin, D. Oganesyan, D. Emtsev, E. Burnaev, Barcodes as "
        "summary of objective function's topology, arXiv:1912.00043"
    ),
    "Barannikov2020": (
        "S. Barannikov, D. Voronkova, I. Trofimov, A. Korotin, G. Sotnikov, E. Burnaev, "
        "Topological obstructions in neural networks learning, arXiv:2012.15834"
    ),
    "Nurisso2024": (
        "M. Nurisso, P. Leroy, F. Vaccarino, Topological obstruction to the training of "
        "shallow ReLU neural networks, NeurIPS 2024, arXiv:2410.14837"
    ),
    "PlantingaVegter2004": (
        "S. Plantinga, G. Vegter, Isotopic approximation of implicit curves and surfaces, in: Proceedings of "
        "the Eurographics Symposium on Geometry Processing (SGP 2004), 245-254"
    ),
    "Bjorner1995": (
        "A. Bjorner, Topological methods, in: R. Graham, M. Grotschel, L. Lovasz (eds.), Handbook of "
        "Combinatorics, vol. II, Elsevier, 1995, 1819-1872 (Theorem 10.6: the nerve theorem)"
    ),
    "Hatcher2002": (
        "A. Hatcher, Algebraic Topology, Cambridge University Press, 2002 (Theorem 3.44: Alexander duality)"
    ),
    "Higham2002": (
        "N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM, 2002"
    ),
    "Rump1999": (
        "S. M. Rump, Fast and parallel interval arithmetic, BIT Numerical Mathematics 39(3) (1999) 534-554"
    ),
    "Rump2012": (
        "S. M. Rump, Fast interval matrix multiplication, Numerical Algorithms 61(1) (2012) 1-34"
    ),
    "Moore1966": (
        "R. E. Moore, Interval Analysis, Prentice-Hall, 1966 (the centred / mean-value form)"
    ),
    "MartinEtAl2002": (
        "R. Martin, H. Shou, I. Voiculescu, A. Bowyer, G. Wang, Comparison of interval methods for plotting "
        "algebraic curves, Computer Aided Geometric Design 19 (2002) 553-587"
    ),
    "DLMF": (
        "NIST Digital Library of Mathematical Functions, https://dlmf.nist.gov/ (7.6.2: Kummer's series of erf)"
    ),
    "bettibounds-theory": (
        "bettibounds documentation, docs/theory.md (proofs of every [derived] statement)"
    ),
}


def cite(key: str) -> str:
    """Return the full citation of ``key``.

    Raises
    ------
    UnknownNameError
        If ``key`` is not in :data:`REFERENCES`.
    """
    from .errors import unknown_name

    try:
        return REFERENCES[key]
    except KeyError:
        raise unknown_name("reference key", key, list(REFERENCES)) from None
