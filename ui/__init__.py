"""The browser UI (NiceGUI): one page per file; pages call app services only."""
