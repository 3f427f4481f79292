"""The official templates: each graph of sample_graphs/ as a public listing by "MindDocs", in Spanish and
English (one listing per graph: Spanish texts, English in `translations`).

Loading is idempotent: a listing is found again by its origin key `sample:<file stem>`; an unchanged graph adds
nothing, a changed one adds a version. A sample graph's name reads "Spanish title / English title".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AUTHOR = "MindDocs"

#: file stem -> (category, Spanish short description); the English one is the graph's own description
TEXTS: dict[str, tuple[str, str]] = {
    "booking_summary": ("hospitality", "Toma el huésped, las fechas y la habitación de una reserva (JSON) y escribe "
                        "un resumen de un párrafo para la recepción."),
    "contract_from_client_data": ("legal", "Rellena una plantilla de Word (docxtpl: {{ customer_name }}, filas de "
                                  "tabla, condiciones) con los datos del cliente y la exporta a PDF."),
    "document_to_social_posts": ("marketing", "Convierte un documento en tres publicaciones breves para redes "
                                 "sociales con tu modelo de lenguaje (un servicio compatible con OpenAI)."),
    "mass_contracts": ("legal", "Un contrato por fila de una hoja de clientes (CSV o Excel): cada fila rellena la "
                       "plantilla de Word, se convierte en PDF y todos vuelven en un ZIP."),
    "meeting_minutes": ("hr", "Transcribe la grabación de una reunión, la resume y rellena tu plantilla de acta "
                        "(Word), y la exporta a PDF."),
    "scan_to_fields": ("health", "Lee una página escaneada o una foto con OCR (un DNI en el check-in, un formulario "
                       "de admisión), encuentra los campos que indiques y rellena un PDF con ellos."),
    "summarise_report": ("general", "Extrae el texto de un informe PDF o Word (OCR para escaneos), lo resume y "
                         "entrega el resumen como documento de Word."),
    "tourist_photo_cleanup": ("photography", "Borra lo que marca la máscara (blanco = borrar) de una foto, la "
                              "endereza, la ilumina, quita la ubicación y la guarda como JPEG para la web."),
    "welcome_letter": ("legal", "Rellena una breve carta de bienvenida para un cliente nuevo con su nombre y el "
                       "del despacho."),
}


def official_listing(path: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(origin key, listing values, graph spec as JSON) for one sample graph file."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    meta = spec.get("meta", {})
    name = str(meta.get("name", path.stem))
    title_es, _, title_en = name.partition(" / ")
    category, short_es = TEXTS.get(path.stem, ("general", ""))
    description_en = str(meta.get("description", ""))
    short_en = description_en if len(description_en) <= 300 else description_en[:297].rsplit(" ", 1)[0] + "…"
    tags = [t for t in meta.get("tags", []) if t != "sample"][:30]
    values = {
        "title": title_es.strip()[:200] or path.stem, "short_description": (short_es or short_en)[:300],
        "long_description": short_es or description_en, "category": category, "tags": tags, "language": "es",
        "licence": "CC-BY-4.0", "visibility": "public",
        "translations": {"en": {"title": (title_en or title_es).strip()[:200], "short_description": short_en,
                                "long_description": description_en}},
    }
    return f"sample:{path.stem}", values, spec


def official_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.json") if p.is_file())
