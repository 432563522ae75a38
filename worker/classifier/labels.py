"""The product's vocabulary: PLOVER signal types, CAMEO QuadClass, and how they relate."""

ESCALATORY = ("ACCUSE", "REQUEST", "REJECT", "THREATEN", "SANCTION", "MOBILIZE", "COERCE", "ASSAULT", "PROTEST")
DEESCALATORY = ("CONSULT", "AGREE", "SUPPORT", "COOPERATE", "AID", "CONCEDE", "RETREAT")
TYPES = ESCALATORY + DEESCALATORY

QUAD_CLASSES = ("neutral", "verbal_cooperation", "material_cooperation", "verbal_conflict", "material_conflict")

TYPE_TO_QUAD = {
    **dict.fromkeys(("ACCUSE", "REQUEST", "REJECT", "THREATEN", "SANCTION"), "verbal_conflict"),
    **dict.fromkeys(("MOBILIZE", "COERCE", "ASSAULT", "PROTEST"), "material_conflict"),
    **dict.fromkeys(("CONSULT", "AGREE", "SUPPORT"), "verbal_cooperation"),
    **dict.fromkeys(("COOPERATE", "AID", "CONCEDE", "RETREAT"), "material_cooperation"),
}

LEVELS = ("none", "low", "elevated", "high")
ALERT_LEVELS = frozenset({"elevated", "high"})
