package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// exampleWorkbookPath is the sample XLSX export in testdata/example.
var exampleWorkbookPath = filepath.Join("testdata", "example", "volontari.xlsx")

// exampleWorkbook builds the sample registry of active citizens: a legend
// sheet first, then the "Volontari" sheet the example mapping names, with
// real date cells, a number written as text with a decimal comma, a blank
// row and an empty cell.
func exampleWorkbook() (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", "Legenda"); err != nil {
		return nil, err
	}
	legend := [][]any{
		{"Albo dei cittadini attivi — Ambito Firenze Nord-Ovest"},
		{"Competenze separate da punto e virgola, lingue e giorni da virgola."},
		{"Ore settimanali: disponibilità indicativa."},
	}
	for i, r := range legend {
		if err := f.SetSheetRow("Legenda", cellName(1, i+1), &r); err != nil {
			return nil, err
		}
	}
	if _, err := f.NewSheet("Volontari"); err != nil {
		return nil, err
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 22}) // m/d/yy h:mm
	if err != nil {
		return nil, err
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return nil, err
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, rome) }
	rows := [][]any{
		{"N. iscrizione", "Associazione", "Attivo", "Competenze", "Lingue", "Ore settimanali", "Giorni", "Ore totali", "Aggiornato il"},
		{42, "Auser Sesto Fiorentino", "Sì", "Tutoraggio italiano; Mentoring", "it, en, ar", 4, "mar, gio", 212, at(2024, 7, 1, 9, 0)},
		{57, "Auser Sesto Fiorentino", "Sì", "Mediazione linguistica", "it, fr, wo", "2,5", "sab", 40.5, at(2025, 2, 10, 17, 30)},
		{},
		{63, "Caritas Firenze", "No", "Ricerca casa; Ricerca lavoro", "it", nil, nil, 96, at(2024, 11, 30, 12, 0)},
		{71, "Caritas Firenze", "Sì", "Informatica", "it, uk", 3, "lun, mer, ven", nil, "15/01/2025 10:30"},
	}
	for i, r := range rows {
		if len(r) == 0 {
			continue
		}
		for j, v := range r {
			if v == nil {
				continue
			}
			cell := cellName(j+1, i+1)
			if t, ok := v.(time.Time); ok {
				// Spreadsheets hold local wall-clock time without a zone.
				wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
				if err := f.SetCellValue("Volontari", cell, wall); err != nil {
					return nil, err
				}
				if err := f.SetCellStyle("Volontari", cell, cell, dateStyle); err != nil {
					return nil, err
				}
				continue
			}
			if err := f.SetCellValue("Volontari", cell, v); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

func cellName(col, row int) string {
	name, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		panic(err)
	}
	return name
}

func workbookRows(t *testing.T, f *excelize.File) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, s := range f.GetSheetList() {
		rows, err := f.GetRows(s, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		out[s] = rows
	}
	return out
}

// TestExampleWorkbook checks that the committed sample workbook is the one
// exampleWorkbook builds. Run with SNODO_UPDATE_TESTDATA=1 to write it.
func TestExampleWorkbook(t *testing.T) {
	want, err := exampleWorkbook()
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if os.Getenv("SNODO_UPDATE_TESTDATA") == "1" {
		if err := want.SaveAs(exampleWorkbookPath); err != nil {
			t.Fatal(err)
		}
	}
	got, err := excelize.OpenFile(exampleWorkbookPath)
	if err != nil {
		t.Fatalf("open %s: %v (regenerate it with SNODO_UPDATE_TESTDATA=1 go test -run TestExampleWorkbook)", exampleWorkbookPath, err)
	}
	defer got.Close()
	if diff := cmp.Diff(workbookRows(t, want), workbookRows(t, got)); diff != "" {
		t.Errorf("%s differs from exampleWorkbook (-want +got); regenerate it with SNODO_UPDATE_TESTDATA=1:\n%s", exampleWorkbookPath, diff)
	}
	if names := got.GetSheetList(); len(names) != 2 || names[1] != "Volontari" {
		t.Errorf("sheets = %v, want [Legenda Volontari]", names)
	}
}
