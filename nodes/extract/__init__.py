"""The readers behind doc.extract: one module per kind of file, plus reading order (layout.py) and OCR."""
