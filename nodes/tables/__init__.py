"""Tables for data.read_table and data.write_table (nodes/data_table.py): reading CSV and Excel files into
rows (read.py), one type per column (columns.py), and writing rows back out safely (write.py)."""

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_COLUMNS = 1000
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
