"""Graph format, validation, planning and execution of MindDocs graphs."""
