"""Vertical studies: parties holding different columns about the same people.

No Flower here (the apps are in :mod:`fedcare.federation.vertical`):
:mod:`.ids` normalises identifiers, :mod:`.psi` is ECDH-PSI on X25519, :mod:`.channel`
seals what one party sends another through the coordinator, :mod:`.lr` is logistic
regression under CKKS, :mod:`.party` reads a party's table, :mod:`.examples` builds the
SUPPORT2 hospital/insurer example. See docs/vertical.md.
"""
