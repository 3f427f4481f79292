"""data.read_table and data.write_table on real CSV and Excel files: typed columns, headers, encodings,
formula injection, and every kind of bad input (wrong type, empty, damaged, encrypted, bomb, too big)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile
from pydantic import ValidationError

from app.services import Services
from nodes.base import NodeContext, NodeInputError
from nodes.data_table import ReadConfig, ReadIn, ReadTable, WriteConfig, WriteIn, WriteTable
from nodes.files import Limits
from nodes.ports import FileRef
from tests.conftest import CORPUS


@pytest.fixture
def ctx(store: Services) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="table", artifacts=store.artifacts)


def put(ctx: NodeContext, content: bytes, name: str) -> FileRef:
    return ctx.artifacts.put_bytes(content, name=name)


def read(ctx: NodeContext, content: bytes, name: str = "table.csv", **config):
    return ReadTable().run(ctx, ReadConfig(**config), ReadIn(file=put(ctx, content, name)))


def write(ctx: NodeContext, rows, **config) -> FileRef:
    return WriteTable().run(ctx, WriteConfig(**config), WriteIn(rows=rows)).file


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def load(ctx: NodeContext, ref: FileRef) -> openpyxl.Workbook:
    """A written workbook, opened from its bytes (stored artifacts have no .xlsx extension)."""
    return openpyxl.load_workbook(io.BytesIO(ctx.artifacts.read_bytes(ref)))


def rezip(content: bytes, change) -> bytes:
    """The same ZIP-based file with each member passed through change(name, data)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)))
    return out.getvalue()


# --- reading CSV ------------------------------------------------------------------------------------------

PEOPLE = (b"name,postcode,total,paid,joined,phone,note\n"
          b"Ana,00123,12.5,true,2024-03-01,+34600111222,\n"
          b"Luis,28001,7,FALSE,2024-03-02,+34 911 222 333,hola | adios\n"
          b"\n")


def test_a_csv_becomes_typed_records_with_columns_preview_and_count(ctx):
    out = read(ctx, PEOPLE)

    assert out.rows == [
        {"name": "Ana", "postcode": "00123", "total": 12.5, "paid": True, "joined": "2024-03-01",
         "phone": "+34600111222", "note": None},
        {"name": "Luis", "postcode": "28001", "total": 7.0, "paid": False, "joined": "2024-03-02",
         "phone": "+34 911 222 333", "note": "hola | adios"},
    ]
    assert out.columns == [{"name": "name", "type": "text"}, {"name": "postcode", "type": "text"},
                           {"name": "total", "type": "float"}, {"name": "paid", "type": "bool"},
                           {"name": "joined", "type": "date"}, {"name": "phone", "type": "text"},
                           {"name": "note", "type": "text"}]
    assert out.count == 2
    assert out.preview == (
        "| name | postcode | total | paid | joined | phone | note |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        "| Ana | 00123 | 12.5 | true | 2024-03-01 | +34600111222 |  |\n"
        "| Luis | 28001 | 7.0 | false | 2024-03-02 | +34 911 222 333 | hola \\| adios |"
    )


def test_column_types_are_decided_per_column_never_per_cell(ctx):
    csv = ("id,amount,code,mixed,when,card,exp,blank\n"
           "1,3,007,12,2024-01-31T09:30:00,1234567890123456,1e3,\n"
           "2,-4.25,8,n/a,2024-02-01 18:00,1234567890123457,2.5E-1,\n"
           "-3,0.5,9,7,2024-02-02,1234567890123458,0,\n")

    out = read(ctx, csv.encode())

    assert [c["type"] for c in out.columns] == ["int", "float", "text", "text", "datetime", "text", "float", "empty"]
    assert [r["id"] for r in out.rows] == [1, 2, -3]
    assert [r["amount"] for r in out.rows] == [3.0, -4.25, 0.5]
    assert [r["code"] for r in out.rows] == ["007", "8", "9"]  # one leading zero keeps the whole column text
    assert [r["mixed"] for r in out.rows] == ["12", "n/a", "7"]
    assert [r["when"] for r in out.rows] == ["2024-01-31T09:30:00", "2024-02-01T18:00:00", "2024-02-02T00:00:00"]
    assert out.rows[0]["card"] == "1234567890123456"  # too many digits to be a number safely
    assert [r["exp"] for r in out.rows] == [1000.0, 0.25, 0.0]
    assert [r["blank"] for r in out.rows] == [None, None, None]


def test_a_decimal_comma_counts_only_where_the_comma_is_not_the_separator(ctx):
    out = read(ctx, b'importe,otro\n"1,5",2\n"2,25",3\n')

    assert [r["importe"] for r in out.rows] == ["1,5", "2,25"]  # could be thousands: left as written
    assert out.columns[0] == {"name": "importe", "type": "text"}


def test_the_preview_shows_ten_rows_and_shortens_long_cells(ctx):
    content = b"n,texto\n" + b"".join(f"{i},{'palabra ' * 8}\n".encode() for i in range(12))

    preview = read(ctx, content).preview.splitlines()

    assert len(preview) == 2 + 10 + 2
    assert preview[2] == "| 0 | palabra palabra palabra palabra palabra… |"
    assert preview[-1] == "_First 10 of 12 rows._"


def test_a_spanish_csv_in_windows_encoding_with_semicolons_and_decimal_commas(ctx):
    content = "Nombre;Importe;Ciudad;Código\r\nJosé;12,50;Cádiz;0034\r\nMaría;3;Málaga;0035\r\n".encode("cp1252")

    out = read(ctx, content, "clientes.csv")

    assert out.rows == [{"Nombre": "José", "Importe": 12.5, "Ciudad": "Cádiz", "Código": "0034"},
                        {"Nombre": "María", "Importe": 3.0, "Ciudad": "Málaga", "Código": "0035"}]
    assert out.columns[1] == {"name": "Importe", "type": "float"}


def test_a_utf8_bom_tab_separated_file_and_a_separator_given_by_hand(ctx):
    tabbed = read(ctx, "\ufeffciudad\tgente\nLeón\t124000\n".encode())
    piped = read(ctx, b"a|b\n1|x\n", delimiter="pipe")
    one_column = read(ctx, b"email\nana@example.com\nluis@example.com\n")

    assert tabbed.rows == [{"ciudad": "León", "gente": 124000}]  # no byte-order mark in the first name
    assert piped.rows == [{"a": 1, "b": "x"}]
    assert one_column.rows == [{"email": "ana@example.com"}, {"email": "luis@example.com"}]


def test_a_utf16_file_from_excel_unicode_text(ctx):
    out = read(ctx, "nombre\timporte\nÑandú\t5\n".encode("utf-16"), "unicode.txt")

    assert out.rows == [{"nombre": "Ñandú", "importe": 5}]


def test_empty_and_repeated_names_are_renamed_and_spacer_columns_dropped(ctx):
    # Given a header with a repeated name, an empty name over values, an empty spacer column, and a row
    # longer than the header
    content = b"name,,name,,total,name_2\nAna,x,Bea,,1,z,extra\nLuis,y,Cid,,2,w\n"
    logged = []
    ctx.log_sink = lambda level, message: logged.append(message)

    out = read(ctx, content)

    assert [c["name"] for c in out.columns] == ["name", "column_2", "name_3", "total", "name_2", "column_7"]
    assert out.rows[0] == {"name": "Ana", "column_2": "x", "name_3": "Bea", "total": 1, "name_2": "z",
                           "column_7": "extra"}
    assert out.rows[1]["column_7"] is None
    assert logged == ["Columns without a name or with a repeated name were named 'column_2', 'name_3', 'column_7'."]


def test_header_row_below_a_title_and_no_header_at_all(ctx):
    titled = read(ctx, b"Sales report\n\nproduct,units\npen,3\n", header_row=3)
    bare = read(ctx, b"pen,3\nink,4\n", header_row=0)

    assert titled.rows == [{"product": "pen", "units": 3}]
    assert bare.rows == [{"column_1": "pen", "column_2": 3}, {"column_1": "ink", "column_2": 4}]


def test_a_csv_that_is_not_utf8_with_encoding_forced_says_which_to_choose(ctx):
    with pytest.raises(NodeInputError, match=r"The file is not utf-8 text \(invalid continuation byte for bytes such as b'\\xe9\\r'\); choose "
                                             r"another 'CSV encoding'"):
        read(ctx, "nombre\nJosé\n".encode("cp1252").replace(b"\n", b"\r\n"), encoding="utf-8")


# --- reading Excel ----------------------------------------------------------------------------------------


def test_an_excel_sheet_keeps_its_cell_types(ctx):
    content = workbook({
        "Portada": [["not this sheet"]],
        "Ventas": [["Cliente", "CP", "Unidades", "Precio", "Pagado", "Fecha", "Hora de entrega", "Nota"],
                   ["Ana", "00123", 3, 9.99, True, dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 8, 30), None],
                   [None, None, None, None, None, None, None, None],
                   ["Luis", "28001", 10, 5, False, dt.datetime(2024, 3, 2), dt.datetime(2024, 3, 2, 17, 0), 42]],
    })

    out = read(ctx, content, "ventas.xlsx", sheet="ventas")  # the sheet name, in any case

    assert out.rows == [
        {"Cliente": "Ana", "CP": "00123", "Unidades": 3, "Precio": 9.99, "Pagado": True, "Fecha": "2024-03-01",
         "Hora de entrega": "2024-03-01T08:30:00", "Nota": None},
        {"Cliente": "Luis", "CP": "28001", "Unidades": 10, "Precio": 5.0, "Pagado": False, "Fecha": "2024-03-02",
         "Hora de entrega": "2024-03-02T17:00:00", "Nota": 42},
    ]
    assert [c["type"] for c in out.columns] == ["text", "text", "int", "float", "bool", "date", "datetime", "int"]
    assert out.count == 2


def test_the_first_sheet_by_default_and_a_mixed_excel_column_becomes_text(ctx):
    content = workbook({"Hoja1": [["ref"], [1], ["A-7"], [2.5], [True]], "Hoja2": [["other"]]})

    out = read(ctx, content, "refs.xlsx")

    assert out.rows == [{"ref": "1"}, {"ref": "A-7"}, {"ref": "2.5"}, {"ref": "true"}]
    assert out.columns == [{"name": "ref", "type": "text"}]


def test_spanish_booleans_and_formulas_without_a_stored_result(ctx):
    # Given a CSV from Excel in Spanish, and a workbook whose formula was never calculated (openpyxl writes none)
    spanish = read(ctx, b"pagado;importe\nVERDADERO;1\nfalso;2\n")
    formulas = read(ctx, workbook({"S": [["a", "doble"], [1, "=A2*2"]]}), "f.xlsx")

    assert spanish.rows == [{"pagado": True, "importe": 1}, {"pagado": False, "importe": 2}]
    assert formulas.rows == [{"a": 1, "doble": None}]
    assert formulas.columns[1] == {"name": "doble", "type": "empty"}


def test_an_unknown_sheet_lists_the_sheets_there_are(ctx):
    with pytest.raises(NodeInputError, match="no sheet 'Totales'; its sheets are: Hoja1, Resumen"):
        read(ctx, workbook({"Hoja1": [["a"]], "Resumen": [["b"]]}), "libro.xlsx", sheet="Totales")


def test_a_sheet_whose_rows_claim_numbers_past_excels_last_row_is_refused(ctx):
    def bogus(name, data):
        return data.replace(b'r="2"', b'r="99999999999"').replace(b'r="A2"', b'r="A99999999999"') \
            if name == "xl/worksheets/sheet1.xml" else data

    with pytest.raises(NodeInputError, match="goes on past row 1,048,576"):
        read(ctx, rezip(workbook({"S": [["a"], [1]]}), bogus), "bogus.xlsx")


# --- limits -----------------------------------------------------------------------------------------------


def test_more_rows_than_max_rows_or_the_server_limit_is_refused(ctx):
    content = b"n\n1\n2\n3\n"

    assert read(ctx, content, max_rows=3).count == 3
    with pytest.raises(NodeInputError, match="more than 2 rows, the most this node may read; split the file, or "
                                             "raise 'Max rows'"):
        read(ctx, content, max_rows=2)
    ctx.limits = Limits(max_table_rows=2)
    with pytest.raises(NodeInputError, match="more than 2 rows, the most this node may read; split the file, or ask "
                                             "the administrator to raise MINDDOCS_LIMITS__MAX_TABLE_ROWS"):
        read(ctx, content, max_rows=50)


def test_too_many_columns_are_refused(ctx):
    with pytest.raises(NodeInputError, match="Row 1 has 1001 columns, more than the 1000"):
        read(ctx, ",".join(f"c{i}" for i in range(1001)).encode())


def test_an_excel_zip_bomb_is_not_opened(ctx):
    def padded(name, data):
        return data.replace(b"<sheetData>", b"<sheetData>" + b" " * 20_000_000) \
            if name == "xl/worksheets/sheet1.xml" else data

    with pytest.raises(NodeInputError, match="looks like a zip bomb"):
        read(ctx, rezip(workbook({"S": [["a"], [1]]}), padded), "bomba.xlsx")


# --- bad files --------------------------------------------------------------------------------------------


def encrypted_workbook() -> bytes:
    plain, out = io.BytesIO(workbook({"S": [["secret"], [1]]})), io.BytesIO()
    OOXMLFile(plain).encrypt("clave", out)
    return out.getvalue()


def legacy_office_file() -> bytes:
    """An OLE container like an old .xls: the encrypted workbook's container with its stream renamed."""
    return encrypted_workbook().replace("EncryptedPackage".encode("utf-16-le"), "Workbook________".encode("utf-16-le"))


def not_a_workbook_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("informe.csv", "a,b\n1,2\n")
    return out.getvalue()


@pytest.mark.parametrize("content, name, says", [
    ((CORPUS / "pdf_form_libreoffice.pdf").read_bytes(), "datos.csv",
     "This file is a PDF file, not a table; Read table accepts CSV files and Excel workbooks"),
    ((CORPUS / "docx_tables_athletes.docx").read_bytes(), "datos.xlsx", "This file is a DOCX file, not a table"),
    ((CORPUS / "scan_phototest.tif").read_bytes(), "datos.csv", "This file is a TIFF file, not a table"),
    (b"", "vacio.csv", r"The file is empty \(0 bytes\)"),
    (b"\n\n  \n", "blancos.csv", "The table is empty: there are no values in it"),
    (b"PK\x03\x04" + b"\x00garbage" * 50, "roto.xlsx", "This file is a damaged Excel or ZIP file, not a table"),
    (not_a_workbook_zip(), "informe.xlsx", "This file is a ZIP archive, not an Excel workbook; unzip it first"),
    (rezip(workbook({"S": [["a"]]}), lambda n, d: b"<nonsense" if n == "xl/workbook.xml" else d), "dañado.xlsx",
     "The Excel file is damaged and cannot be opened .*save it again as .xlsx"),
    (rezip(workbook({"S": [["a"]]}), lambda n, d: d[:200] if n == "xl/worksheets/sheet1.xml" else d),
     "hoja.xlsx", "The sheet 'S' is damaged"),
    (encrypted_workbook(), "protegido.xlsx", "The Excel file is protected with a password.*remove the password"),
    (legacy_office_file(), "antiguo.xls", r"This is an old Excel 97-2003 \(.xls\) or other legacy Office file; open it"),
    (b"a,b\n1," + b"x" * 200_000 + b"\n", "enorme.csv", r"The CSV file cannot be read \(field larger than field limit"),
])
def test_bad_files_get_a_clear_error(ctx, content, name, says):
    with pytest.raises(NodeInputError, match=says) as caught:
        read(ctx, content, name)
    assert caught.value.port == "file"


def test_a_header_row_that_is_empty_says_how_to_fix_it(ctx):
    with pytest.raises(NodeInputError, match="Row 2 is empty, so it cannot hold the column names; set 'Header row'"):
        read(ctx, b"title\n\na,b\n", header_row=2)


# --- writing ----------------------------------------------------------------------------------------------

RECORDS = [
    {"name": "Ana", "postcode": "00123", "total": 12.5, "paid": True, "joined": "2024-03-01", "tags": ["a", "b"]},
    {"name": "Luis", "postcode": "28001", "total": 7, "paid": False, "joined": None, "extra": "solo Luis"},
]


def test_write_xlsx_typed_cells_bold_header_and_a_round_trip(ctx):
    ref = write(ctx, RECORDS, file_name="clientes", sheet="Clientes")

    assert ref.name == "clientes.xlsx"
    assert ref.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load(ctx, (ref))["Clientes"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["name", "postcode", "total", "paid", "joined", "tags", "extra"],
        ["Ana", "00123", 12.5, True, dt.datetime(2024, 3, 1), '["a", "b"]', None],
        ["Luis", "28001", 7, False, None, None, "solo Luis"],
    ]
    assert sheet["A1"].font.bold and sheet["B2"].data_type == "s" and sheet["E2"].is_date
    again = ReadTable().run(ctx, ReadConfig(), ReadIn(file=ref))
    assert again.rows[0] == {"name": "Ana", "postcode": "00123", "total": 12.5, "paid": True,
                             "joined": "2024-03-01", "tags": '["a", "b"]', "extra": None}
    assert [c["type"] for c in again.columns] == ["text", "text", "float", "bool", "date", "text", "text"]


def test_write_csv_exact_bytes_with_chosen_columns_and_separator(ctx):
    ref = write(ctx, RECORDS, format="csv", columns=["total", "name", "paid"], csv_delimiter="semicolon")

    assert ref.name == "table.csv" and ref.media_type == "text/csv"
    assert ctx.artifacts.read_bytes(ref) == "\ufefftotal;name;paid\r\n12.5;Ana;true\r\n7;Luis;false\r\n".encode()
    again = ReadTable().run(ctx, ReadConfig(), ReadIn(file=ref))
    assert again.rows == [{"total": 12.5, "name": "Ana", "paid": True}, {"total": 7.0, "name": "Luis", "paid": False}]


def test_a_single_record_and_header_only_files(ctx):
    one = write(ctx, {"a": 1}, format="csv")
    header_only = write(ctx, [], format="csv", columns=["a", "b"])

    assert ctx.artifacts.read_bytes(one) == "\ufeffa\r\n1\r\n".encode()
    assert ctx.artifacts.read_bytes(header_only) == "\ufeffa,b\r\n".encode()


INJECTION = [{"formula": '=HYPERLINK("http://evil.example","click")', "plus": "+SUM(A1)", "minus": "-2+3",
              "at": "@cmd", "tab": "\t=1+1", "cr": "\r=1+1", "phone": "+34 600 111 222", "negative": "-12,50",
              "plain": "hola", "number": -5}]


def test_formula_injection_is_defused_in_csv(ctx):
    ref = write(ctx, INJECTION, format="csv")

    text = ctx.artifacts.read_bytes(ref).decode("utf-8-sig")
    assert text.splitlines()[1] == ("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",'+SUM(A1),'-2+3,'@cmd,"
                                    "'\t=1+1,\"'")
    assert text.endswith("=1+1\",+34 600 111 222,\"-12,50\",hola,-5\r\n")


def test_formula_injection_is_defused_in_xlsx_and_can_be_turned_off_for_real_formulas(ctx):
    safe = load(ctx, (write(ctx, INJECTION))).active
    raw = load(ctx, (write(ctx, [{"n": 2, "double": "=A2*2"}],
                                                          protect_formulas=False))).active

    assert [c.value for c in safe[2]] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'+SUM(A1)", "'-2+3",
                                          "'@cmd", "'\t=1+1", "'\r=1+1", "+34 600 111 222", "-12,50", "hola", -5]
    assert {c.data_type for c in safe[2][:9]} == {"s"}  # text, never a formula
    assert raw["B2"].value == "=A2*2" and raw["B2"].data_type == "f"


@pytest.mark.parametrize("rows, says", [
    ("just a text", "Write table needs a list of records \\(objects\\), but received a text"),
    (None, "but received nothing \\(empty\\)"),
    ([{"a": 1}, "b"], "Item 2 of the list is a text, not a record"),
    ([], "There is nothing to write: the list has no rows"),
    ([{}, {}], "There is nothing to write"),
    ([{"a": 1}], "No record has the field\\(s\\) 'b'; the fields are: a. Correct 'Columns'"),
    ([{"a": "x" * 40_000}], "Row 1, column 'a' has 40,000 characters; an Excel cell holds at most 32,767"),
])
def test_bad_rows_get_a_clear_error(ctx, rows, says):
    columns = ["a", "b"] if "'b'" in says else []
    with pytest.raises(NodeInputError, match=says) as caught:
        write(ctx, rows, columns=columns)
    assert caught.value.port == "rows"


def test_too_many_rows_to_write_and_bad_settings(ctx):
    ctx.limits = Limits(max_table_rows=2)
    with pytest.raises(NodeInputError, match="There are 3 rows, more than the limit of 2"):
        write(ctx, [{"a": 1}] * 3)
    with pytest.raises(ValidationError, match="a sheet name cannot be empty or contain"):
        WriteConfig(sheet="a/b")
    with pytest.raises(ValidationError, match="the file name template has a mistake"):
        WriteConfig(file_name="{{ broken")


def test_control_characters_are_dropped_from_xlsx_cells(ctx):
    sheet = load(ctx, (write(ctx, [{"a": "bell\x07 and tab\tok"}]))).active

    assert sheet["A2"].value == "bell and tab\tok"
