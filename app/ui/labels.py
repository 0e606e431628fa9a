"""Words for the vocabularies (kinds, categories, levels, phases, classifications) on pages.

The values are English msgids marked with `N_`, translated in the template with `_()`, so the
catalogue holds one wording per term. `VOCABULARY` becomes the templates' globals
(`ui/templates.py`), so a block rendered alone has them exactly as the whole page does.
"""

from __future__ import annotations

from typing import Any

from app.accounts.models import PASSWORD_MIN
from app.i18n import N_
from app.incidents.models import Category, Level, Phase
from app.incidents.service import LEVEL_NAMES, PHASE_NAMES
from app.log.models import CLASSIFICATION_NAMES, EntryKind, PersonKind

KIND_NAMES = {
    EntryKind.decision: N_("Decision"),
    EntryKind.information: N_("Information"),
    EntryKind.action: N_("Action"),
    EntryKind.message_in: N_("Message in"),
    EntryKind.message_out: N_("Message out"),
    EntryKind.system: N_("System"),
}

CATEGORY_NAMES = {
    Category.mass_casualties: N_("Mass casualties"),
    Category.pandemic: N_("Pandemic and infectious disease"),
    Category.hybrid_threats: N_("Hybrid threats and war"),
    Category.digital_security: N_("Digital security / ICT incident"),
    Category.medical_supply: N_("Supply of medical products"),
    Category.nuclear_radiological: N_("Nuclear and radiological"),
    Category.water_supply: N_("Water supply"),
    Category.chemical: N_("Chemical incident"),
    Category.other: N_("Other"),
}

# The order of the log form's kind choices; Alt+1 … Alt+5 pick them.
PERSON_KINDS = [k.value for k in PersonKind]

VOCABULARY: dict[str, Any] = {
    "kind_names": {k.value: v for k, v in KIND_NAMES.items()},
    "category_names": {k.value: v for k, v in CATEGORY_NAMES.items()},
    "level_names": {k.value: v for k, v in LEVEL_NAMES.items()},
    "phase_names": {k.value: v for k, v in PHASE_NAMES.items()},
    "classification_names": {k.value: v for k, v in CLASSIFICATION_NAMES.items()},
    "person_kinds": PERSON_KINDS,
    "levels": [level.value for level in Level],
    "phases": [phase.value for phase in Phase],
    "categories": [category.value for category in Category],
    "password_min": PASSWORD_MIN,
}
