"""Shared words for matching openings to candidates: one canonical string per value, and how
each is written in the message's language (places: `vivier.rules.places`)."""

from __future__ import annotations

from vivier.rules import places

# A candidate's `expertise` and an opening's `expertise` are compared as equal strings.
EXPERTISES: tuple[str, ...] = (
    "Ressources humaines",
    "Paie",
    "Recrutement",
    "Développement logiciel",
    "Data",
    "Finance",
    "Marketing",
    "Ventes",
    "Logistique",
    "Santé",
)

HR_EXPERTISE = "Ressources humaines"

# How each field is written in a message: (label, phrase) per language. The phrase is the field
# with its preposition, as in "your search in payroll" / "votre recherche en paie".
EXPERTISE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "Ressources humaines": {"fr": ("Ressources humaines", "en ressources humaines"),
                            "en": ("Human resources", "in human resources")},
    "Paie": {"fr": ("Paie", "en paie"), "en": ("Payroll", "in payroll")},
    "Recrutement": {"fr": ("Recrutement", "en recrutement"),
                    "en": ("Recruitment", "in recruitment")},
    "Développement logiciel": {"fr": ("Développement logiciel", "en développement logiciel"),
                               "en": ("Software development", "in software development")},
    "Data": {"fr": ("Data", "dans la data"), "en": ("Data", "in data")},
    "Finance": {"fr": ("Finance", "en finance"), "en": ("Finance", "in finance")},
    "Marketing": {"fr": ("Marketing", "en marketing"), "en": ("Marketing", "in marketing")},
    "Ventes": {"fr": ("Ventes", "dans la vente"), "en": ("Sales", "in sales")},
    "Logistique": {"fr": ("Logistique", "en logistique"), "en": ("Logistics", "in logistics")},
    "Santé": {"fr": ("Santé", "dans la santé"), "en": ("Healthcare", "in healthcare")},
}
_EXPERTISE_BY_NAME = {name.casefold(): canonical for canonical, words in EXPERTISE_WORDS.items()
                      for name in (canonical, *(label for label, _ in words.values()))}


def expertise(value: str | None) -> str | None:
    """The canonical field a value names (its French or English label, any case), else None."""
    return _EXPERTISE_BY_NAME.get((value or "").strip().casefold())


def field_label(value: str | None, language: str) -> str:
    """How a field is written in `language` ("Paie" -> "Payroll"); unknown: as given."""
    canonical = expertise(value)
    if canonical is None:
        return (value or "").strip()
    return EXPERTISE_WORDS[canonical].get(language, EXPERTISE_WORDS[canonical]["en"])[0]


def field_phrase(value: str | None, language: str) -> str:
    """The field with its preposition ("en paie", "dans la data", "in payroll"); unknown: "en X"."""
    canonical = expertise(value)
    if canonical is None:
        text = (value or "").strip()
        return f"en {text}" if language == "fr" else f"in {text}"
    return EXPERTISE_WORDS[canonical].get(language, EXPERTISE_WORDS[canonical]["en"])[1]

# The demo's places (the seeder draws from these; the full vocabulary is `vivier.rules.places`).
FRENCH_CITIES: tuple[str, ...] = (
    "Paris",
    "Lyon",
    "Marseille",
    "Toulouse",
    "Nantes",
    "Bordeaux",
    "Lille",
    "Rennes",
    "Strasbourg",
    "Montpellier",
    "Nice",
    "Grenoble",
)

CANADA_LOCATIONS: tuple[str, ...] = ("Canada", "Montréal", "Toronto", "Québec")

UK_LOCATIONS: tuple[str, ...] = ("London", "Manchester")

REMOTE = places.REMOTE

# Where a candidate searches and where an opening is: a city, a country, or remote work.
SEARCH_LOCATIONS: tuple[str, ...] = (
    *FRENCH_CITIES,
    "France",
    *CANADA_LOCATIONS,
    *UK_LOCATIONS,
    REMOTE,
)

# The demo's countries and their cities (matching reads `vivier.rules.places`).
REGIONS: dict[str, tuple[str, ...]] = {
    "France": FRENCH_CITIES,
    "Canada": CANADA_LOCATIONS,
    "United Kingdom": UK_LOCATIONS,
}

# The time zone of each place, and the country (ISO 3166) and subdivision whose public holidays
# apply there (`holidays` codes). A candidate's zone comes from where they search, else their
# city (vivier/rules/zones.py). A country-level place gets the zone most of its people live in:
# Canada is America/Toronto (Eastern time: Ontario and Québec, over 60% of Canadians), so a
# "Canada" search is written to at 09:00 in Toronto and Montréal, 06:00 in Vancouver at worst
# rather than 03:00 in Montréal. Remote names no place: such a candidate's city decides.
# Montréal and Québec use America/Toronto: IANA's canonical zone for Québec (America/Montreal
# is only a link to it).
PLACE_ZONES: dict[str, tuple[str, str, str | None]] = {
    **{city: ("Europe/Paris", "FR", None) for city in FRENCH_CITIES},
    "Strasbourg": ("Europe/Paris", "FR", "6AE"),  # Alsace: Good Friday and 26 December too
    "France": ("Europe/Paris", "FR", None),
    "Canada": ("America/Toronto", "CA", None),
    "Montréal": ("America/Toronto", "CA", "QC"),
    "Québec": ("America/Toronto", "CA", "QC"),
    "Toronto": ("America/Toronto", "CA", "ON"),
    "Ottawa": ("America/Toronto", "CA", "ON"),
    "Calgary": ("America/Edmonton", "CA", "AB"),
    "Vancouver": ("America/Vancouver", "CA", "BC"),
    "United Kingdom": ("Europe/London", "GB", None),
    "London": ("Europe/London", "GB", "ENG"),
    "Manchester": ("Europe/London", "GB", "ENG"),
    "Bristol": ("Europe/London", "GB", "ENG"),
    "Leeds": ("Europe/London", "GB", "ENG"),
    "Edinburgh": ("Europe/London", "GB", "SCT"),
}

TAGS: tuple[str, ...] = (
    "senior",
    "junior",
    "manager",
    "freelance",
    "bilingue",
    "english",
    "cdi",
    "alternance",
    "relocation",
    "remote-ok",
    "talent-pool",
    "silver-medallist",
    "alumni",
    "referral",
)

# Demo catalog: the titles the seeder gives openings, by expertise and language.
JOB_TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "Ressources humaines": {
        "fr": ("Responsable RH", "Chargé·e de développement RH", "HR Business Partner"),
        "en": ("HR Business Partner", "HR Generalist", "People Operations Manager"),
    },
    "Paie": {
        "fr": ("Gestionnaire de paie", "Responsable paie et administration du personnel"),
        "en": ("Payroll Specialist", "Payroll Manager"),
    },
    "Recrutement": {
        "fr": ("Chargé·e de recrutement", "Talent Acquisition Partner"),
        "en": ("Talent Acquisition Specialist", "Technical Recruiter"),
    },
    "Développement logiciel": {
        "fr": ("Développeur·se Python", "Ingénieur·e logiciel backend", "Lead développeur·se"),
        "en": ("Python Developer", "Backend Software Engineer", "Engineering Lead"),
    },
    "Data": {
        "fr": ("Data analyst", "Data engineer", "Responsable BI"),
        "en": ("Data Analyst", "Data Engineer", "Analytics Engineer"),
    },
    "Finance": {
        "fr": ("Contrôleur·se de gestion", "Comptable fournisseurs", "Responsable financier"),
        "en": ("Financial Controller", "Accounts Payable Specialist", "FP&A Analyst"),
    },
    "Marketing": {
        "fr": ("Chargé·e de marketing digital", "Responsable marque employeur"),
        "en": ("Digital Marketing Manager", "Employer Brand Specialist"),
    },
    "Ventes": {
        "fr": ("Ingénieur·e commercial·e", "Business developer", "Chargé·e de clientèle"),
        "en": ("Account Executive", "Business Development Representative"),
    },
    "Logistique": {
        "fr": ("Responsable d'entrepôt", "Approvisionneur·se", "Chef·fe d'équipe logistique"),
        "en": ("Warehouse Manager", "Supply Chain Planner"),
    },
    "Santé": {
        "fr": ("Infirmier·e de santé au travail", "Chargé·e de prévention santé"),
        "en": ("Occupational Health Nurse", "Health and Safety Advisor"),
    },
}

# Demo catalog: (kind, locale, title, summary) of the articles, news, events, tips and stories.
DEMO_CONTENT: tuple[tuple[str, str, str, str], ...] = (
    ("article", "fr", "Le marché de l'emploi RH en 2026",
     "Les métiers des ressources humaines qui recrutent, et pourquoi."),
    ("article", "fr", "Travailler au Québec : ce qui change pour les profils RH",
     "Permis, équivalences et attentes des employeurs québécois."),
    ("article", "en", "What hiring managers look for in a data engineer",
     "Five skills that come up in every interview loop this year."),
    ("article", "en", "Moving to Canada as an HR professional",
     "Certifications, networks and the first ninety days."),
    ("news", "fr", "Nouveau bureau à Lyon", "L'équipe s'agrandit et recrute sur place."),
    ("news", "fr", "Salaires 2026 : les tendances par métier",
     "Notre étude annuelle sur 12 000 offres."),
    ("news", "en", "We opened a Toronto office", "A new team to serve our Canadian clients."),
    ("news", "en", "Remote work: what our clients offer now",
     "Hybrid is the norm, fully remote is rarer."),
    ("event", "fr", "Afterwork recrutement tech à Paris",
     "Rencontrez nos recruteurs et nos clients autour d'un verre."),
    ("event", "fr", "Webinaire : réussir son entretien en visio",
     "45 minutes de conseils concrets, questions en direct."),
    ("event", "en", "Virtual job fair: HR careers in Canada",
     "Meet employers from Montréal, Toronto and Québec."),
    ("event", "en", "Data careers meetup in London", "Talks, pizza and open roles."),
    ("tip", "fr", "Trois façons de mettre à jour votre CV en 10 minutes",
     "Commencez par vos réalisations chiffrées."),
    ("tip", "fr", "Préparer une prise de références", "Qui prévenir, et quoi leur dire."),
    ("tip", "en", "How to answer 'tell me about yourself'", "A two-minute structure that works."),
    ("tip", "en", "Negotiating an offer without awkwardness", "Ask for the range, then anchor."),
    ("success_story", "fr", "De la paie à la DRH en quatre ans",
     "Le parcours de Claire, accompagnée par notre équipe."),
    ("success_story", "fr", "Reconversion réussie vers la data",
     "Comment Karim a décroché son premier poste d'analyste."),
    ("success_story", "en", "From Lyon to Montréal: an HR move",
     "How Sophie found her role in Canada."),
    ("success_story", "en", "A silver medallist hired six months later",
     "Why staying in touch paid off for James."),
)
